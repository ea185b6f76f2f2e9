"""Checks of ``type: cosign`` validators and of the rules that use them.

Keys and certificates are loaded with the verifier's own loaders, so a configuration that
loads is one the verifier can use. Everything a keyless root needs (Fulcio certificates and
the Rekor key that dates each signature) must be configured: kenner never fetches Sigstore's
public roots by itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from kenner.config.login_scope import REGISTRY_HOST
from kenner.config.model import CosignValidatorConfig, KeylessIdentity, Rule
from kenner.config.root_checks import check_threshold, named_roots
from kenner.config.source import KeyPath
from kenner.config.tls_bundles import tls_bundle_problem
from kenner.cosign.errors import Rejected, UnusableKey
from kenner.cosign.fulcio import load_certificates
from kenner.cosign.keys import load_public_key
from kenner.cosign.sct import load_ct_log
from kenner.oci.naming import canonical_registry
from kenner.sigstore.errors import TrustRootError
from kenner.sigstore.identity import parse_extension_checks
from kenner.sigstore.trustroot import load_trusted_root

Report = Callable[[KeyPath, str], None]


def check_cosign_validator(validator: CosignValidatorConfig, path: KeyPath, report: Report) -> None:
    """Report every problem of one cosign validator (auth is checked by the caller)."""
    keyless_used = False
    for root_path, root in named_roots("cosign", validator.trust_roots, path, report):
        if (root.key is None) == (root.keyless is None):
            report(root_path, f"trust root '{root.name}' needs exactly one of 'key' or 'keyless'")
        elif root.key is not None:
            _check_key(root.key, (*root_path, "key"), f"trust root '{root.name}'", report)
        elif root.keyless is not None:
            keyless_used = True
            _check_identity(root.keyless, (*root_path, "keyless"), report)
    host, host_path = validator.host, (*path, "host")
    if host.rekor_pubkey is not None:
        _check_key(host.rekor_pubkey, (*host_path, "rekorPubkey"), "the Rekor key", report)
    if host.ct_log_pubkey is not None:
        try:
            load_ct_log(host.ct_log_pubkey.strip())
        except UnusableKey as error:
            report((*host_path, "ctLogPubkey"), f"the CT log key: {error}")
    if host.fulcio_cert is not None:
        _check_certificates(host.fulcio_cert, (*host_path, "fulcioCert"), report)
    if validator.trusted_root is not None:
        try:
            load_trusted_root(validator.trusted_root)
        except TrustRootError as error:
            report((*path, "trustedRoot"), str(error))
    host_complete = host.fulcio_cert is not None and host.rekor_pubkey is not None
    if keyless_used and not host_complete and validator.trusted_root is None:
        report(
            host_path,
            "keyless trust roots need host.fulcioCert and host.rekorPubkey, or trustedRoot "
            "(kenner verifies offline and never fetches Sigstore's public roots)",
        )
    if validator.cert is not None:
        _check_certificates(validator.cert, (*path, "cert"), report, tls=True)
    _check_registry_certs(validator.registry_certs, (*path, "registryCerts"), report)


def check_cosign_rule(
    rule: Rule, validator: CosignValidatorConfig, with_path: KeyPath, report: Report
) -> None:
    """Report what a rule asks of a cosign validator that it cannot give."""
    options = rule.options
    if options.delegations:
        report((*with_path, "delegations"), "delegations are a notaryv1 feature, not cosign")
    check_threshold([root.name for root in validator.trust_roots], options, with_path, report)
    no_log = validator.host.rekor_pubkey is None and validator.trusted_root is None
    if options.verify_in_transparency_log and no_log:
        report(
            (*with_path, "verifyInTransparencyLog"),
            f"validator '{validator.name}' has no host.rekorPubkey to verify Rekor bundles "
            "with; configure it or set verifyInTransparencyLog: false",
        )
    formats = options.signature_formats
    if not formats or len(set(formats)) != len(formats):
        report((*with_path, "signatureFormats"), "must list bundle and/or legacy, each once")
    for key, value in options.certificate_extensions.items():
        try:
            parse_extension_checks({key: value})
        except ValueError as error:
            report((*with_path, "certificateExtensions", key), str(error))


def _check_key(pem: str, path: KeyPath, what: str, report: Report) -> None:
    try:
        load_public_key(pem.strip())
    except UnusableKey as error:
        report(path, f"{what}: {error}")


def _check_certificates(pem: str, path: KeyPath, report: Report, *, tls: bool = False) -> None:
    """``tls``: the bundle verifies registries, so it must also be one OpenSSL loads."""
    problem = tls_bundle_problem(pem) if tls else None
    if problem:
        report(path, problem)
        return
    try:
        if not load_certificates(pem, "the value"):
            report(path, "holds no PEM certificate")
    except Rejected as error:
        report(path, error.message)


def _check_registry_certs(certs: Mapping[str, str], path: KeyPath, report: Report) -> None:
    seen: dict[str, str] = {}
    for host, pem in certs.items():
        if not REGISTRY_HOST.fullmatch(host):
            report(
                (*path, host),
                "must be a registry host[:port] such as registry.example:5000 (no scheme, no path)",
            )
            continue
        canonical = canonical_registry(host)
        if canonical in seen:
            report((*path, host), f"names the same registry as '{seen[canonical]}'")
        seen[canonical] = host
        _check_certificates(pem, (*path, host), report, tls=True)


def _check_identity(identity: KeylessIdentity, path: KeyPath, report: Report) -> None:
    if identity.issuer is None and identity.issuer_regex is None:
        report(path, "a keyless trust root needs 'issuer' or 'issuerRegex'")
    if identity.subject is None and identity.subject_regex is None:
        report(path, "a keyless trust root needs 'subject' or 'subjectRegex'")
    for key, pattern in (
        ("issuerRegex", identity.issuer_regex),
        ("subjectRegex", identity.subject_regex),
    ):
        if pattern is None:
            continue
        try:
            re.compile(pattern)
        except re.error as error:
            report((*path, key), f"not a valid regular expression ({error})")
