"""Trusted identities: ``x509.subject:`` distinguished names matched against the leaf's subject.

Rules (trust-store-trust-policy.md, "Trusted Identities Constraints"):

* A trusted identity is ``x509.subject:`` followed by comma-separated RDNs ``TYPE=value``
  (types C, ST, L, O, OU, CN, SERIALNUMBER, DC, STREET, POSTALCODE; case-insensitive); a value
  escapes ``\\,``, ``\\;``, ``\\\\`` and a leading or trailing space as ``\\ ``; other
  whitespace around the RDNs is dropped. It must name C, ST and O, each type at most once.
* The list is either ``["*"]`` (any identity the trust root certifies; also the default) or
  x509.subject identities only, none overlapping: two overlap when a certificate could match
  both, that is when one's RDNs are a subset of the other's (the spec calls such a policy
  invalid).
* An identity matches a leaf when every RDN it names is in the leaf's subject with the same
  value (exact string comparison, as notation-go does); the leaf may have more RDNs. A leaf
  whose subject repeats an attribute type or has a multi-valued RDN matches no identity (as
  notation-go refuses it): ``O=evil, O=acme`` must not pass for ``O=acme``.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
from cryptography import x509
from cryptography.x509.oid import NameOID

from kenner.errors import KennerError
from kenner.quoting import quote

PREFIX = "x509.subject:"
ANY = "*"
_TYPES = {
    "C": NameOID.COUNTRY_NAME,
    "ST": NameOID.STATE_OR_PROVINCE_NAME,
    "L": NameOID.LOCALITY_NAME,
    "O": NameOID.ORGANIZATION_NAME,
    "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "CN": NameOID.COMMON_NAME,
    "SERIALNUMBER": NameOID.SERIAL_NUMBER,
    "DC": NameOID.DOMAIN_COMPONENT,
    "STREET": NameOID.STREET_ADDRESS,
    "POSTALCODE": NameOID.POSTAL_CODE,
}
_REQUIRED = ("C", "ST", "O")
_MAX_LENGTH = 1024


class IdentityError(KennerError, ValueError):
    """A trusted identity that cannot be used."""


@attrs.frozen
class Identity:
    """One ``x509.subject`` identity: type name -> value."""

    text: str
    rdns: frozenset[tuple[str, str]]

    def matches(self, subject: x509.Name) -> bool:
        """Whether every RDN of this identity is in ``subject`` with the same value."""
        for kind, value in self.rdns:
            values = [a.value for a in subject.get_attributes_for_oid(_TYPES[kind])]
            if value not in values:
                return False
        return True


@attrs.frozen
class TrustedIdentities:
    """``None`` identities: any; else the leaf must match one of them."""

    identities: tuple[Identity, ...] | None

    def trusts(self, subject: x509.Name) -> bool:
        """Whether a leaf with ``subject`` is trusted."""
        if self.identities is None:
            return True
        return _one_value_per_type(subject) and any(i.matches(subject) for i in self.identities)


def _one_value_per_type(subject: x509.Name) -> bool:
    """Whether ``subject`` has single-valued RDNs and no attribute type twice."""
    types = [attribute.oid for attribute in subject]
    return len(subject.rdns) == len(types) == len(set(types))


def parse_identities(values: Sequence[str]) -> TrustedIdentities:
    """Parse a ``trustedIdentities`` list; see the module rules.

    Raises:
        IdentityError: a malformed identity, ``*`` mixed with others, overlapping identities.
    """
    if not values or list(values) == [ANY]:
        return TrustedIdentities(None)
    if ANY in values:
        raise IdentityError("'*' must be the only trusted identity when it is used")
    identities = tuple(parse_identity(value) for value in values)
    for i, first in enumerate(identities):
        for second in identities[i + 1 :]:
            if first.rdns <= second.rdns or second.rdns <= first.rdns:
                raise IdentityError(
                    f"the trusted identities {first.text!r} and {second.text!r} overlap"
                )
    return TrustedIdentities(identities)


def parse_identity(text: str) -> Identity:
    """Parse one ``x509.subject:`` identity."""
    if len(text) > _MAX_LENGTH or not text.startswith(PREFIX):
        raise IdentityError(f"a trusted identity must start with {PREFIX!r}: {quote(text)}")
    rdns: dict[str, str] = {}
    for part in _split(text[len(PREFIX) :], text):
        kind, sep, value = part.partition("=")
        kind = kind.strip().upper()
        if not sep or kind not in _TYPES:
            raise IdentityError(f"the RDN {quote(part)} in {quote(text)} is not TYPE=value")
        if kind in rdns:
            raise IdentityError(f"the identity {quote(text)} names {kind} twice")
        rdns[kind] = _unescape(value, text)
    missing = [kind for kind in _REQUIRED if kind not in rdns]
    if missing:
        raise IdentityError(f"the identity {quote(text)} lacks {', '.join(missing)}")
    return Identity(text, frozenset(rdns.items()))


def _split(body: str, text: str) -> list[str]:
    parts, current, escaped = [], [], False
    for char in body:
        if escaped:
            current.append("\\" + char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if escaped:
        raise IdentityError(f"the identity {quote(text)} ends in a lone backslash")
    parts.append("".join(current))
    return parts


def _unescape(value: str, text: str) -> str:
    # Unescaped spaces at either end are layout; escaped ones are part of the value.
    value = value.lstrip(" ")
    while value.endswith(" ") and not value.endswith("\\ "):
        value = value[:-1]
    result, i = [], 0
    while i < len(value):
        if value[i] == "\\":
            if i + 1 >= len(value) or value[i + 1] not in ",;\\ ":
                raise IdentityError(f"the identity {quote(text)} has an unknown escape")
            result.append(value[i + 1])
            i += 2
        else:
            if value[i] == ";":
                raise IdentityError(f"the identity {quote(text)} has an unescaped ';'")
            result.append(value[i])
            i += 1
    if not result:
        raise IdentityError(f"the identity {quote(text)} has an empty value")
    return "".join(result)
