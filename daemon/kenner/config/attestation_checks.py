"""Checks of ``with.attestations`` (docs/attestations.md): a cosign feature whose every entry
names a predicate type and trust roots the validator has, with a threshold they can reach.

The conditions themselves were checked when they were structured
(``kenner.attest.policy.parse_condition``).
"""

from __future__ import annotations

from collections.abc import Callable

from kenner.config.model import CosignValidatorConfig, Rule, ValidatorConfig
from kenner.config.source import KeyPath
from kenner.cosign.threshold import RequirementError, requirement

Report = Callable[[KeyPath, str], None]


def check_attestations(
    rule: Rule, validator: ValidatorConfig | None, with_path: KeyPath, report: Report
) -> None:
    """Report every problem of the rule's ``with.attestations``."""
    entries = rule.options.attestations
    if not entries or validator is None:
        return
    if not isinstance(validator, CosignValidatorConfig):
        message = f"attestations are a cosign feature; validator '{validator.name}' is not cosign"
        report((*with_path, "attestations"), message)
        return
    names = [root.name for root in validator.trust_roots]
    for index, entry in enumerate(entries):
        path = (*with_path, "attestations", index)
        if not entry.predicate_type.strip():
            report((*path, "predicateType"), "must not be empty")
        if not entry.trust_root:
            report((*path, "trustRoot"), 'must name a trust root or be "*"')
            continue
        if entry.threshold is not None and entry.threshold < 1:
            message = f"must be a positive whole number, got {entry.threshold}"
            report((*path, "threshold"), message)
            continue
        try:
            requirement(names, entry.trust_root, entry.threshold, ())
        except RequirementError as error:
            key = "threshold" if "threshold" in str(error) else "trustRoot"
            report((*path, key), f"{error} (validator '{validator.name}')")
