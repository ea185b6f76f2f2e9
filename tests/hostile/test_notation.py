"""Hostile review of the Notation verifier (``kenner.notation``): what a signer, a CA that lets
requesters choose their subject, or a pusher of referrers can make of an envelope.

Envelopes come from the tests' own signer (``tests.support.notation_signing``), each breaking
one rule; the trust root is the signer's own root.

Holes found and fixed:

* A leaf whose subject repeats an attribute type (``O=evil, O=wabbit-networks.io``, or one
  multi-valued RDN ``O=evil+O=wabbit-networks.io``) matched the trusted identity
  ``O=wabbit-networks.io``: the match looked for the value among all values of the type. The
  spec (and notation-go) reads a subject as one value per type and refuses a DN that repeats
  one; a CA that lets a requester add attributes could otherwise issue a certificate that
  passes for another organisation.
* The chain counted as trusted when any of its certificates was the trust root's, while the
  path builder may leave an envelope certificate unused: an attacker's own chain carrying the
  victim's public root (or intermediate) as an extra certificate verified at ``strict``, so
  anyone could sign for any trust root. The chain must now be exactly the verified path.

* A trust root's ``cert`` served as both the spec's ``ca`` and ``signingAuthority`` store, so
  an expired CA-issued key backdated a ``notary.x509.signingAuthority`` envelope and skipped
  the required timestamp. Each root now has one store type (``trustStoreType``, default
  ``ca``) and a scheme verifies only against its own type, as in notation-go.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from kenner.notation.errors import Check, NotationError
from kenner.notation.identity import parse_identities
from kenner.notation.levels import Level
from kenner.notation.payload import Target
from kenner.notation.verify import Policy, TrustRoot, Verified, verify_envelope
from tests.support.notation_signing import DAY, NOW, TARGET, Pki, make_pki, sign

JWS = "application/jose+json"
COSE = "application/cose"
IDENTITY = "x509.subject: C=US, ST=WA, O=wabbit-networks.io"


@pytest.fixture(scope="module")
def pki() -> Pki:
    return make_pki()


def _verify(
    raw: bytes,
    root: TrustRoot,
    *,
    media_type: str = JWS,
    level: Level = Level.STRICT,
    target: Target = TARGET,
    now: datetime.datetime = NOW,
) -> Verified:
    policy = Policy(level)
    return verify_envelope(media_type, raw, target=target, root=root, policy=policy, now=now)


def _failed_check(raw: bytes, root: TrustRoot, **kwargs: Any) -> Check:
    with pytest.raises(NotationError) as raised:
        _verify(raw, root, **kwargs)
    return raised.value.check


def _name(*rdns: x509.RelativeDistinguishedName) -> x509.Name:
    return x509.Name(list(rdns))


def _rdn(*pairs: tuple[x509.ObjectIdentifier, str]) -> x509.RelativeDistinguishedName:
    return x509.RelativeDistinguishedName([x509.NameAttribute(oid, value) for oid, value in pairs])


_C, _ST, _O, _CN = (
    NameOID.COUNTRY_NAME,
    NameOID.STATE_OR_PROVINCE_NAME,
    NameOID.ORGANIZATION_NAME,
    NameOID.COMMON_NAME,
)


@pytest.mark.parametrize(
    "subject",
    [
        # the attribute repeated in two RDNs, the trusted value second or first
        _name(
            _rdn((_C, "US")),
            _rdn((_ST, "WA")),
            _rdn((_O, "evil")),
            _rdn((_O, "wabbit-networks.io")),
        ),
        _name(
            _rdn((_C, "US")),
            _rdn((_ST, "WA")),
            _rdn((_O, "wabbit-networks.io")),
            _rdn((_O, "evil")),
        ),
        # one multi-valued RDN
        _name(_rdn((_C, "US")), _rdn((_ST, "WA")), _rdn((_O, "evil"), (_O, "wabbit-networks.io"))),
        # a repeated type the identity does not name (notation-go refuses any repeated type)
        _name(
            _rdn((_C, "US")),
            _rdn((_ST, "WA")),
            _rdn((_O, "wabbit-networks.io")),
            _rdn((_CN, "a")),
            _rdn((_CN, "b")),
        ),
    ],
    ids=["repeated-before", "repeated-after", "multi-valued", "repeated-other-type"],
)
def test_a_subject_repeating_an_attribute_type_is_no_trusted_identity(subject: x509.Name) -> None:
    """Hole: the identity matched the value among all the leaf's values of the type."""
    assert not parse_identities([IDENTITY]).trusts(subject)


def test_the_plain_subject_still_matches_and_escaped_commas_are_one_value() -> None:
    plain = _name(_rdn((_C, "US")), _rdn((_ST, "WA")), _rdn((_O, "wabbit-networks.io")))
    assert parse_identities([IDENTITY]).trusts(plain)
    comma = _name(_rdn((_C, "US")), _rdn((_ST, "WA")), _rdn((_O, "Acme, Inc")))
    assert parse_identities(["x509.subject: C=US, ST=WA, O=Acme\\, Inc"]).trusts(comma)
    # "O=Acme" is not a prefix match of "Acme, Inc", and a CN holding "O=..." is a CN.
    assert not parse_identities(["x509.subject: C=US, ST=WA, O=Acme"]).trusts(comma)
    injected = _name(
        _rdn((_C, "US")), _rdn((_ST, "WA")), _rdn((_O, "evil")), _rdn((_CN, "x, O=Acme"))
    )
    assert not parse_identities(["x509.subject: C=US, ST=WA, O=Acme"]).trusts(injected)


@pytest.mark.parametrize("media_type", [JWS, COSE])
@pytest.mark.parametrize("level", [Level.PERMISSIVE, Level.AUDIT])
def test_the_lenient_levels_still_enforce_integrity_and_target(
    pki: Pki, media_type: str, level: Level
) -> None:
    root = TrustRoot("own", (pki.root,))
    other = Target(TARGET.media_type, "sha256:" + "cd" * 32, TARGET.size)
    for_other = sign(pki, media_type=media_type, target=other)
    assert _failed_check(for_other, root, media_type=media_type, level=level) is Check.TARGET
    resized = Target(TARGET.media_type, TARGET.digest, TARGET.size + 1)
    wrong_size = sign(pki, media_type=media_type, target=resized)
    assert _failed_check(wrong_size, root, media_type=media_type, level=level) is Check.TARGET
    retyped = Target("application/vnd.oci.image.index.v1+json", TARGET.digest, TARGET.size)
    wrong_type = sign(pki, media_type=media_type, target=retyped)
    assert _failed_check(wrong_type, root, media_type=media_type, level=level) is Check.TARGET
    tampered = sign(pki, media_type=media_type, tamper=True)
    assert _failed_check(tampered, root, media_type=media_type, level=level) is Check.INTEGRITY
    unknown_critical = sign(
        pki,
        media_type=media_type,
        extra_headers={"io.example.plugin": "x"},
        crit=["io.cncf.notary.signingScheme", "io.example.plugin"],
    )
    assert (
        _failed_check(unknown_critical, root, media_type=media_type, level=level) is Check.INTEGRITY
    )


def test_an_expired_certificate_with_a_timestamp_from_an_untrusted_tsa_is_denied_at_strict(
    pki: Pki,
) -> None:
    from tests.support.tsa import make_tsa

    expired = make_pki(name="Expired", not_before=NOW - 60 * DAY, not_after=NOW - DAY)
    trusted_tsa, rogue_tsa = make_tsa(), make_tsa()
    root = TrustRoot("own", (expired.root,), tsa_certificates=(trusted_tsa.root,))
    stamped_by_rogue = sign(expired, tsa=rogue_tsa, stamp_at=NOW - 10 * DAY)
    assert _failed_check(stamped_by_rogue, root) is Check.TIMESTAMP
    # Without any TSA trusted, an expired chain is expired, timestamp or not.
    bare = TrustRoot("own", (expired.root,))
    assert _failed_check(stamped_by_rogue, bare) is Check.TIMESTAMP


@pytest.mark.parametrize("media_type", [JWS, COSE])
def test_a_signing_authority_envelope_without_its_authentic_time_is_no_signature(
    pki: Pki, media_type: str
) -> None:
    root = TrustRoot("own", (pki.root,))
    raw = sign(
        pki,
        media_type=media_type,
        scheme="notary.x509.signingAuthority",
        drop_headers=["io.cncf.notary.authenticSigningTime"],
        crit=["io.cncf.notary.signingScheme"],
    )
    for level in Level:
        assert _failed_check(raw, root, media_type=media_type, level=level) is Check.INTEGRITY


def test_an_envelope_under_the_other_format_s_media_type_is_no_signature(pki: Pki) -> None:
    root = TrustRoot("own", (pki.root,))
    for level in Level:
        jws = sign(pki, media_type=JWS)
        assert _failed_check(jws, root, media_type=COSE, level=level) is Check.INTEGRITY
        cose = sign(pki, media_type=COSE)
        assert _failed_check(cose, root, media_type=JWS, level=level) is Check.INTEGRITY


@pytest.mark.parametrize("media_type", [JWS, COSE])
@pytest.mark.parametrize("position", [1, 2])
def test_a_trusted_certificate_carried_off_the_path_does_not_make_the_chain_trusted(
    pki: Pki, media_type: str, position: int
) -> None:
    """Hole: the chain counted as trusted when ANY certificate in it was the trust root's,
    while the path builder may leave an envelope certificate unused: an attacker's own chain
    with the victim's (public) root certificate slipped in as an extra "intermediate"
    verified, and the victim's root was "in the chain"."""
    attacker = make_pki(name="Attacker")
    chain = [attacker.leaf, attacker.intermediate, attacker.root]
    chain.insert(position, pki.root)  # the victim's root, not on the attacker's path
    raw = sign(attacker, media_type=media_type, chain=chain)
    root = TrustRoot("victim", (pki.root,))
    assert _failed_check(raw, root, media_type=media_type) is Check.AUTHENTICITY
    # The same with the victim's intermediate configured as the trust root's certificate.
    by_intermediate = TrustRoot("victim", (pki.intermediate,))
    chain[position] = pki.intermediate
    raw = sign(attacker, media_type=media_type, chain=chain)
    assert _failed_check(raw, by_intermediate, media_type=media_type) is Check.AUTHENTICITY


def test_an_expired_ca_issued_key_cannot_backdate_itself_with_the_signing_authority_scheme(
    pki: Pki,
) -> None:
    """Hole (closed): notation-go verifies a ``notary.x509.signingAuthority`` envelope only
    against trust stores of type ``signingAuthority``, never ``ca``: with a ``ca`` root, the
    signing time a signer states is not authentic. kenner read ``cert`` as either, so the
    holder of an EXPIRED code signing key certified by the company CA signs today with
    ``authenticSigningTime`` set inside the certificate's validity, and passed ``strict``
    although the root demands an RFC 3161 timestamp (``tsCert``, ``verifyTimestamp: always``)."""
    from tests.support.tsa import make_tsa

    expired = make_pki(name="Expired", not_before=NOW - 60 * DAY, not_after=NOW - DAY)
    root = TrustRoot("company-ca", (expired.root,), tsa_certificates=(make_tsa().root,))
    # As notary.x509 the expired key needs a trusted timestamp, and has none: denied.
    assert _failed_check(sign(expired, signing_time=NOW), root) is Check.TIMESTAMP
    backdated = sign(expired, scheme="notary.x509.signingAuthority", signing_time=NOW - 10 * DAY)
    assert _failed_check(backdated, root) is Check.AUTHENTICITY
    with pytest.raises(NotationError, match="'company-ca' is a 'ca' trust store"):
        _verify(backdated, root)
    # And the other way round: a signingAuthority store does not verify notary.x509.
    authority = TrustRoot("authority", (pki.root,), store_type="signingAuthority")
    assert _failed_check(sign(pki), authority) is Check.AUTHENTICITY
    _verify(sign(pki, scheme="notary.x509.signingAuthority"), authority)


def _leaf_with_bit_string_country(pki: Pki) -> x509.Certificate:
    der = pki.leaf.public_bytes(serialization.Encoding.DER)
    country = b"\x06\x03U\x04\x06\x13\x02US"  # countryName, PrintableString "US"
    at = der.rindex(country)  # the subject's (the issuer's comes first)
    bit_string = country[:-4] + b"\x03" + country[-3:]
    return x509.load_der_x509_certificate(der[:at] + bit_string + der[at + len(country) :])


@pytest.mark.parametrize("media_type", [JWS, COSE])
def test_a_certificate_name_of_a_forbidden_asn1_type_fails_integrity(
    pki: Pki, media_type: str
) -> None:
    """Found by hypothesis: a subject attribute as a BIT STRING (allowed only for
    x500UniqueIdentifier) raised TypeError out of the chain loader instead of a denial."""
    chain = [_leaf_with_bit_string_country(pki), pki.intermediate, pki.root]
    raw = sign(pki, media_type=media_type, chain=chain)
    root = TrustRoot("own", (pki.root,))
    assert _failed_check(raw, root, media_type=media_type) is Check.INTEGRITY
