"""Checks of ``type: notation`` validators and of the rules that use them.

Trust roots are parsed by ``configured_trust_root``, which the validator builds its roots
with too, so a configuration that loads is one the verifier can use.
"""

from __future__ import annotations

from collections.abc import Callable

from kenner.config.model import NotationTrustRoot, NotationValidatorConfig, Rule
from kenner.config.root_checks import check_threshold, named_roots
from kenner.config.source import KeyPath
from kenner.config.tls_bundles import tls_bundle_problem
from kenner.notation.trust import TrustRootError, load_trust_root
from kenner.notation.verify import TrustRoot

Report = Callable[[KeyPath, str], None]


def configured_trust_root(root: NotationTrustRoot) -> TrustRoot:
    """The verifier's trust root for one configured ``trustRoots`` entry.

    Raises:
        TrustRootError: the first value that does not parse or cannot be used.
    """
    return load_trust_root(
        root.name,
        root.cert,
        root.ts_cert,
        root.trusted_identities,
        root.crl,
        store_type=root.trust_store_type,
    )


def check_notation_validator(
    validator: NotationValidatorConfig, path: KeyPath, report: Report
) -> None:
    """Report every problem of one notation validator (auth is checked by the caller)."""
    for root_path, root in named_roots("notation", validator.trust_roots, path, report):
        try:
            configured_trust_root(root)
        except TrustRootError as error:
            report((*root_path, error.key), f"trust root '{root.name}': {error}")
    if validator.cert is not None:
        problem = tls_bundle_problem(validator.cert)
        if problem:
            report((*path, "cert"), problem)


def check_notation_rule(
    rule: Rule, validator: NotationValidatorConfig, with_path: KeyPath, report: Report
) -> None:
    """Report what a rule asks of a notation validator that it cannot give."""
    options = rule.options
    if options.verification_level == "skip":
        report(
            (*with_path, "verificationLevel"),
            "'skip' verifies nothing and is refused for admission; route such images to a "
            "static validator instead",
        )
    if options.delegations:
        report((*with_path, "delegations"), "delegations are a notaryv1 feature, not notation")
    check_threshold([root.name for root in validator.trust_roots], options, with_path, report)
