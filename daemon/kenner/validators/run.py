"""Validate all images of one request concurrently, under the request's deadline.

Rules: each image is first answered from its validator's cache in this task
(``Driven.answer_now``): a static or warm request opens no task, no nursery and no cancel
scope. The others are awaited (``Driven.answer``) until the deadline, one task each when
there are several. A validator that raises denies its image, never the request, and never
allows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence

import trio

from kenner.admission.decision import ImageCheck
from kenner.admission.verdict import Untrusted, Verdict
from kenner.errors import KennerError
from kenner.oci.dockerconfig import RegistryLogins
from kenner.validators.driver import Driven

log = logging.getLogger(__name__)


# Told of each verdict reached in time, with the validation's duration (metrics).
OnValidated = Callable[[ImageCheck, Verdict, float], None]


async def validate_checks(
    checks: Sequence[ImageCheck],
    validators: Mapping[str, Driven],
    deadline: float,
    on_validated: OnValidated | None = None,
    *,
    pull_logins: RegistryLogins | None = None,
) -> dict[str, Verdict]:
    """Answer each check from its validator's cache, or else drive the validator; the checks
    that wait on the network run in one nursery and stop at ``deadline`` (trio time).

    ``pull_logins`` (the admitted object's pull secrets) go to every validator's step.

    Returns the verdicts that were reached, keyed by ``ImageCheck.key``. Images missing from
    the result did not finish in time; the decision core denies them. A validator that raises
    denies its image instead of failing the whole request (fail closed): with the error's own
    message for an expected failure (``KennerError``), with "internal error" and a logged
    traceback for anything else (a bug).
    """
    verdicts: dict[str, Verdict] = {}

    def settle(check: ImageCheck, verdict: Verdict, started: float) -> None:
        verdicts[check.key] = verdict
        if on_validated is not None:
            on_validated(check, verdict, trio.current_time() - started)

    async def validate_one(check: ImageCheck, validator: Driven) -> None:
        started = trio.current_time()
        try:
            verdict = await validator.answer(check.ref, check.rule.options, pull_logins)
        except Exception as error:  # turned into a denial of this image only, never an allow
            verdict = _failed(validator, check, error)
        settle(check, verdict, started)

    waiting: list[tuple[ImageCheck, Driven]] = []
    for check in checks:
        validator = validators.get(check.rule.validator)
        if validator is None:
            verdicts[check.key] = Untrusted(f"validator {check.rule.validator!r} is not defined")
            continue
        started = trio.current_time()
        try:
            verdict = validator.answer_now(check.ref, check.rule.options, pull_logins)
        except Exception as error:  # as in validate_one
            verdict = _failed(validator, check, error)
        if verdict is not None:
            settle(check, verdict, started)
        else:
            waiting.append((check, validator))
    if not waiting:
        return verdicts
    with trio.move_on_at(deadline):
        if len(waiting) == 1:
            await validate_one(*waiting[0])
        else:
            async with trio.open_nursery() as nursery:
                for check, validator in waiting:
                    nursery.start_soon(validate_one, check, validator)
    return verdicts


def _failed(validator: Driven, check: ImageCheck, error: Exception) -> Untrusted:
    """The denial of an image whose validator raised; the verdict is not cached anywhere."""
    if isinstance(error, KennerError):
        log.warning("validator %r failed on %s: %s", validator.name, check.key, error)
        return Untrusted(f"validator {validator.name!r}: {error}")
    log.error("validator %r failed on %s", validator.name, check.key, exc_info=error)
    return Untrusted(f"internal error in validator {validator.name!r}")
