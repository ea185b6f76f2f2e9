"""Whether the verified attestations of one image satisfy a rule's ``with.attestations``.

Rules: an entry is satisfied by the distinct trust roots that signed (DSSE) at least one
statement whose ``predicateType`` is the entry's, one of whose subjects is the image's manifest
digest, and on which every condition of the entry's policy holds; how many roots, and which,
must do so is decided as for signatures (``kenner.cosign.threshold``: ``trustRoot``,
``threshold``, ``"*"`` meaning every root unless a threshold is given). Every entry must be
satisfied. A denial names the predicate type and, for each root that did not count, why: the
first condition that failed on its first statement of that type, or that it has none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import attrs

from kenner.attest.policy import AttestationRule, first_failure
from kenner.attest.statement import Statement
from kenner.cosign.threshold import Requirement, shortfall


@attrs.frozen(eq=False)
class Verified:
    """A statement whose envelope verified with the trust root ``root``."""

    root: str
    statement: Statement


def unmet(
    rule: AttestationRule,
    need: Requirement,
    digest: str,
    verified: Sequence[Verified],
    rejections: Mapping[str, str],
    now: datetime,
) -> str | None:
    """None when ``verified`` satisfies ``rule`` for the image ``digest``, else why not.

    ``need`` is the rule's requirement over the validator's roots; ``rejections`` maps a root
    whose envelopes did not verify to why (the best reason), for the denial.
    """
    satisfied: set[str] = set()
    problems: dict[str, str] = {}
    for item in verified:
        root, statement = item.root, item.statement
        if root not in need.roots or root in satisfied:
            continue
        if statement.predicate_type != rule.predicate_type:
            continue
        if not statement.names(digest):
            problems.setdefault(root, f"its statement's subject is not {digest}")
            continue
        failed = first_failure(rule.policy, statement.document, now)
        if failed is None:
            satisfied.add(root)
        else:
            problems.setdefault(root, f"policy: {failed}")
    for root in need.roots:
        if root not in problems:
            problems[root] = rejections.get(root, "no attestation of this predicate type")
    reason = shortfall(need, frozenset(satisfied), problems)
    return None if reason is None else f"attestation {rule.predicate_type!r}: {reason}"
