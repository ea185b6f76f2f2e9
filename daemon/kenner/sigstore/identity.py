"""Who a Fulcio certificate names, checked against a keyless trust root's expectations.

The issuer and subject checks are ``kenner.cosign.fulcio.IdentityPolicy``'s, unchanged (so a
trust root means the same for bundles and legacy signatures: regular expressions searched, as
in Cosign and Connaisseur). ``with.certificateExtensions`` adds Fulcio's OIDC claims
(OIDs ``1.3.6.1.4.1.57264.1.*``): each configured name must be present in the certificate
with exactly the value given, or, for a ``<name>Regex`` key, a value the regular expression
matches in full (anchored at both ends: ``my-org/app`` never matches ``my-org/app-evil``).

Extensions 1 to 6 are the deprecated GitHub ones, raw strings; from 8 on they are DER
UTF8Strings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import attrs
from cryptography import x509
from cryptography.x509.oid import ObjectIdentifier

from kenner.cosign.fulcio import IdentityPolicy, der_utf8, identity_of
from kenner.sigstore.errors import quoted

_FULCIO_ARC = "1.3.6.1.4.1.57264.1."
#: The names ``with.certificateExtensions`` accepts, with the number of their OID in the arc.
EXTENSIONS: Mapping[str, int] = {
    "githubWorkflowTrigger": 2,
    "githubWorkflowSha": 3,
    "githubWorkflowName": 4,
    "githubWorkflowRepository": 5,
    "githubWorkflowRef": 6,
    "buildSignerURI": 9,
    "buildSignerDigest": 10,
    "runnerEnvironment": 11,
    "sourceRepositoryURI": 12,
    "sourceRepositoryDigest": 13,
    "sourceRepositoryRef": 14,
    "sourceRepositoryIdentifier": 15,
    "sourceRepositoryOwnerURI": 16,
    "sourceRepositoryOwnerIdentifier": 17,
    "buildConfigURI": 18,
    "buildConfigDigest": 19,
    "buildTrigger": 20,
    "runInvocationURI": 21,
    "sourceRepositoryVisibilityAtSigning": 22,
}
_RAW_STRING_LIMIT = 7  # extensions below 7 hold the raw string, not a DER UTF8String


@attrs.frozen
class ExtensionCheck:
    """One expected extension value: exact, or a regular expression matched in full."""

    name: str
    value: str
    regex: bool = False

    def matches(self, actual: str | None) -> bool:
        """Whether ``actual`` (None: the extension is absent) satisfies the check."""
        if actual is None:
            return False
        if self.regex:
            return re.fullmatch(self.value, actual) is not None
        return actual == self.value


def parse_extension_checks(config: Mapping[str, str]) -> tuple[ExtensionCheck, ...]:
    """``with.certificateExtensions`` as checks; keys are ``EXTENSIONS`` names, maybe with
    ``Regex`` appended.

    Raises:
        ValueError: an unknown name or an invalid regular expression (the loader names it).
    """
    checks = []
    for key, value in config.items():
        name, regex = (key[:-5], True) if key.endswith("Regex") else (key, False)
        if name not in EXTENSIONS:
            raise ValueError(f"unknown certificate extension {key!r}")
        if regex:
            try:
                re.compile(value)
            except re.error as error:
                raise ValueError(f"{key}: invalid regular expression ({error})") from None
        checks.append(ExtensionCheck(name, value, regex))
    return tuple(checks)


def extension_value(certificate: x509.Certificate, name: str) -> str | None:
    """The value of the Fulcio extension ``name`` in ``certificate``, None when absent or
    unreadable."""
    number = EXTENSIONS[name]
    try:
        extension = certificate.extensions.get_extension_for_oid(
            ObjectIdentifier(f"{_FULCIO_ARC}{number}")
        )
    except (x509.ExtensionNotFound, ValueError):
        return None
    value = extension.value
    raw = value.value if isinstance(value, x509.UnrecognizedExtension) else b""
    if number >= _RAW_STRING_LIMIT:
        raw = der_utf8(raw)
    try:
        return raw.decode() if raw else None
    except UnicodeDecodeError:
        return None


def identity_problem(
    certificate: x509.Certificate, policy: IdentityPolicy, checks: tuple[ExtensionCheck, ...]
) -> str | None:
    """Why ``certificate`` does not name the expected identity (None when it does)."""
    identity = identity_of(certificate)
    if not policy.matches(identity):
        subjects = ", ".join(identity.subjects) or "no subject"
        return (
            f"certified {subjects[:200]} from issuer {quoted(identity.issuer)}, expected {policy}"
        )
    for check in checks:
        actual = extension_value(certificate, check.name)
        if not check.matches(actual):
            shown = "absent" if actual is None else quoted(actual)
            how = "matching" if check.regex else "equal to"
            return f"certificate extension {check.name} is {shown}, not {how} {check.value!r}"
    return None
