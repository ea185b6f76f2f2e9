"""Validate all images of one request concurrently, under the request's deadline."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence

import trio

from kenner.admission.decision import ImageCheck
from kenner.admission.verdict import Untrusted, Verdict
from kenner.validators.base import Validator

log = logging.getLogger(__name__)


# Told of each verdict reached in time, with the validation's duration (metrics).
OnValidated = Callable[[ImageCheck, Verdict, float], None]


async def validate_checks(
    checks: Sequence[ImageCheck],
    validators: Mapping[str, Validator],
    deadline: float,
    on_validated: OnValidated | None = None,
) -> dict[str, Verdict]:
    """Run each check's validator in one nursery; stop at ``deadline`` (trio time).

    Returns the verdicts that were reached, keyed by ``ImageCheck.key``. Images missing from
    the result did not finish in time; the decision core denies them. A validator that raises
    (a bug, not an expected failure) denies its image instead of failing the whole request.
    """
    verdicts: dict[str, Verdict] = {}

    async def validate_one(check: ImageCheck) -> None:
        validator = validators.get(check.rule.validator)
        if validator is None:
            verdicts[check.key] = Untrusted(f"validator {check.rule.validator!r} is not defined")
            return
        started = trio.current_time()
        try:
            verdicts[check.key] = await validator.validate(check.ref, check.rule.options)
        except Exception:
            log.exception("validator %r failed on %s", validator.name, check.key)
            verdicts[check.key] = Untrusted(f"internal error in validator {validator.name!r}")
        if on_validated is not None:
            on_validated(check, verdicts[check.key], trio.current_time() - started)

    waiting = [c for c in checks if _needs_network(validators.get(c.rule.validator))]
    for check in checks:
        if check not in waiting:
            # Answers at once, without a checkpoint: no deadline can strike while it runs.
            await validate_one(check)
    if not waiting:
        return verdicts
    with trio.move_on_at(deadline):
        if len(waiting) == 1:
            await validate_one(waiting[0])
        elif waiting:
            async with trio.open_nursery() as nursery:
                for check in waiting:
                    nursery.start_soon(validate_one, check)
    return verdicts


def _needs_network(validator: Validator | None) -> bool:
    return validator is not None and validator.needs_network
