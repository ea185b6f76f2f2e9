"""Every verification step broken once, with envelopes, chains and timestamps of our own."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from kenner.notation.errors import Check, NotationError
from kenner.notation.identity import parse_identities
from kenner.notation.levels import Level
from kenner.notation.payload import Target
from kenner.notation.verify import Policy, TrustRoot, Verified, verify_envelope
from tests.support.notation_signing import DAY, NOW, TARGET, Pki, make_pki, sign
from tests.support.tsa import make_tsa

JWS = "application/jose+json"
STRICT = Policy()
COSE = "application/cose"
FORMATS = [JWS, COSE]


@pytest.fixture(scope="module")
def pki() -> Pki:
    return make_pki()


@pytest.fixture(scope="module")
def expired() -> Pki:
    return make_pki(name="Expired", not_before=NOW - 60 * DAY, not_after=NOW - DAY)


def _root(pki: Pki, **kwargs: Any) -> TrustRoot:
    return TrustRoot("own", (pki.root,), **kwargs)


def _verify(
    raw: bytes,
    root: TrustRoot,
    *,
    media_type: str = JWS,
    policy: Policy = STRICT,
    target: Target = TARGET,
    now: datetime.datetime = NOW,
) -> Verified:
    return verify_envelope(media_type, raw, target=target, root=root, policy=policy, now=now)


def _check(raw: bytes, root: TrustRoot, **kwargs: Any) -> Check:
    with pytest.raises(NotationError) as raised:
        _verify(raw, root, **kwargs)
    assert len(raised.value.message) < 600
    return raised.value.check


@pytest.mark.parametrize("algorithm", ["PS256", "PS384", "PS512", "ES256", "ES384", "ES512"])
@pytest.mark.parametrize("media_type", FORMATS)
def test_every_algorithm_verifies_in_both_formats(algorithm, media_type):
    pki = make_pki(algorithm)
    verified = _verify(sign(pki, media_type=media_type), _root(pki), media_type=media_type)
    assert verified.signer.startswith("CN=Leaf")
    assert verified.logged == ()


@pytest.mark.parametrize("media_type", FORMATS)
def test_a_signing_authority_envelope_verifies(pki, media_type):
    raw = sign(pki, media_type=media_type, scheme="notary.x509.signingAuthority")
    _verify(raw, _root(pki, store_type="signingAuthority"), media_type=media_type)


@pytest.mark.parametrize("media_type", FORMATS)
def test_a_tampered_payload_fails_integrity(pki, media_type):
    raw = sign(pki, media_type=media_type, tamper=True)
    assert _check(raw, _root(pki), media_type=media_type) is Check.INTEGRITY


@pytest.mark.parametrize("media_type", FORMATS)
@pytest.mark.parametrize(
    "knobs",
    [
        {"algorithm": "ES384"},  # the key is P-256: only ES256 fits
        {"content_type": "application/json"},
        {"scheme": "notary.x509.other"},
        {"crit": []},
        {"crit": ["io.cncf.notary.signingScheme", "io.cncf.notary.verificationPlugin"]},
        {"crit": ["io.cncf.notary.signingScheme", "io.cncf.notary.expiry"]},  # not present
        {"crit": ["io.cncf.notary.signingScheme", "io.cncf.notary.signingScheme"]},
        {"expiry": NOW + DAY, "crit": ["io.cncf.notary.signingScheme"]},  # expiry not critical
        {"drop_headers": ["io.cncf.notary.signingTime"]},
        {"payload": b"not json"},
        {"payload": b'{"subject": {}}'},
        {"chain": []},
    ],
)
def test_each_broken_envelope_rule_fails_integrity(pki, media_type, knobs):
    raw = sign(pki, media_type=media_type, **knobs)
    assert _check(raw, _root(pki), media_type=media_type) is Check.INTEGRITY


def test_a_foreign_media_type_fails_integrity(pki):
    assert _check(sign(pki), _root(pki), media_type="application/pgp") is Check.INTEGRITY


@pytest.mark.parametrize(
    "target",
    [
        Target(TARGET.media_type, "sha256:" + "cd" * 32, TARGET.size),
        Target("application/vnd.docker.distribution.manifest.v2+json", TARGET.digest, TARGET.size),
        Target(TARGET.media_type, TARGET.digest, TARGET.size + 1),
    ],
)
def test_a_signature_for_another_manifest_fails_at_every_level(pki, target):
    for level in Level:
        check = _check(sign(pki), _root(pki), target=target, policy=Policy(level))
        assert check is Check.TARGET


def test_a_chain_without_its_intermediate_or_root_is_untrusted(pki):
    assert _check(sign(pki, chain=[pki.leaf, pki.root]), _root(pki)) is Check.AUTHENTICITY
    assert _check(sign(pki, chain=[pki.leaf, pki.intermediate]), _root(pki)) is Check.AUTHENTICITY
    assert _check(sign(pki, chain=[pki.leaf]), _root(pki)) is Check.AUTHENTICITY


def test_another_root_does_not_trust_the_chain(pki):
    other = make_pki(name="Other")
    assert _check(sign(pki), _root(other)) is Check.AUTHENTICITY
    # An intermediate of the chain as the trust root is enough.
    _verify(sign(pki), TrustRoot("intermediate", (pki.intermediate,)))


@pytest.mark.parametrize(
    "knobs",
    [
        {"eku": (ExtendedKeyUsageOID.SERVER_AUTH,)},
        {"leaf_is_ca": True},
    ],
)
def test_the_leaf_must_be_a_code_signing_certificate(knobs):
    pki = make_pki(**knobs)
    assert _check(sign(pki), _root(pki)) is Check.AUTHENTICITY


def test_a_leaf_without_extended_key_usage_may_sign():
    pki = make_pki(eku=None)
    _verify(sign(pki), _root(pki))


def test_trusted_identities_select_the_signer(pki):
    trusted = parse_identities(["x509.subject: C=US, ST=WA, O=wabbit-networks.io, CN=Leaf"])
    _verify(sign(pki), _root(pki, identities=trusted))
    other = parse_identities(["x509.subject: C=US, ST=WA, O=wabbit-networks.io, CN=Someone"])
    assert _check(sign(pki), _root(pki, identities=other)) is Check.IDENTITY
    audited = _verify(sign(pki), _root(pki, identities=other), policy=Policy(Level.AUDIT))
    assert [e.check for e in audited.logged] == [Check.IDENTITY]


def test_a_passed_expiry_fails_unless_only_logged(pki):
    raw = sign(pki, expiry=NOW - DAY)
    assert _check(raw, _root(pki)) is Check.EXPIRY
    for level in (Level.PERMISSIVE, Level.AUDIT):
        logged = _verify(raw, _root(pki), policy=Policy(level)).logged
        assert [e.check for e in logged] == [Check.EXPIRY]
    _verify(sign(pki, expiry=NOW + DAY), _root(pki))


@pytest.mark.parametrize("media_type", FORMATS)
def test_an_expired_certificate_needs_an_authentic_timestamp(expired, media_type):
    tsa = make_tsa()
    root = _root(expired, tsa_certificates=(tsa.root,))
    signed_at = NOW - 10 * DAY
    stamped = sign(expired, media_type=media_type, tsa=tsa, signing_time=signed_at)
    for verify_timestamp in ("always", "afterCertExpiry"):
        _verify(
            stamped, root, media_type=media_type, policy=Policy(verify_timestamp=verify_timestamp)
        )
    unstamped = sign(expired, media_type=media_type, signing_time=signed_at)
    assert _check(unstamped, root, media_type=media_type) is Check.TIMESTAMP
    # Without a TSA store no timestamp is read: the chain must be valid now.
    assert _check(stamped, _root(expired), media_type=media_type) is Check.TIMESTAMP
    # The signed signing time is a claim: it never rescues an expired certificate.
    assert _check(unstamped, _root(expired), media_type=media_type) is Check.TIMESTAMP


def test_a_timestamp_outside_the_certificate_validity_fails(expired):
    tsa = make_tsa()
    root = _root(expired, tsa_certificates=(tsa.root,))
    raw = sign(expired, tsa=tsa, stamp_at=NOW)  # after the leaf expired
    assert _check(raw, root) is Check.TIMESTAMP
    assert [e.check for e in _verify(raw, root, policy=Policy(Level.PERMISSIVE)).logged] == [
        Check.TIMESTAMP
    ]


def test_a_timestamp_of_an_untrusted_tsa_fails(expired):
    raw = sign(expired, tsa=make_tsa(), signing_time=NOW - 10 * DAY)
    root = _root(expired, tsa_certificates=(make_tsa(name="Other TSA").root,))
    assert _check(raw, root) is Check.TIMESTAMP


def test_always_checks_the_timestamp_of_a_valid_certificate(pki):
    tsa = make_tsa()
    root = _root(pki, tsa_certificates=(tsa.root,))
    assert _check(sign(pki), root) is Check.TIMESTAMP  # no token
    _verify(sign(pki), root, policy=Policy(verify_timestamp="afterCertExpiry"))
    _verify(sign(pki, tsa=tsa), root)


def test_a_signing_authority_time_outside_the_validity_fails(expired):
    root = _root(expired, store_type="signingAuthority")
    raw = sign(expired, scheme="notary.x509.signingAuthority", signing_time=NOW)
    assert _check(raw, root) is Check.TIMESTAMP
    inside = sign(expired, scheme="notary.x509.signingAuthority", signing_time=NOW - 10 * DAY)
    _verify(inside, root)


def _crl(
    issuer: x509.Certificate,
    key: ec.EllipticCurvePrivateKey,
    serials: list[int],
    *,
    next_update: datetime.datetime = NOW + DAY,
    invalidity: datetime.datetime | None = None,
) -> x509.CertificateRevocationList:
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.subject)
        .last_update(NOW - DAY)
        .next_update(next_update)
    )
    for serial in serials:
        entry = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(NOW - DAY)
        if invalidity is not None:
            entry = entry.add_extension(x509.InvalidityDate(invalidity), critical=False)
        builder = builder.add_revoked_certificate(entry.build())
    return builder.sign(key, hashes.SHA256())


@pytest.fixture(scope="module")
def issuer_key_pki() -> tuple[Pki, ec.EllipticCurvePrivateKey]:
    """A PKI whose intermediate key the test keeps, to issue CRLs."""
    key = ec.generate_private_key(ec.SECP256R1())
    pki = make_pki(name="Crl")
    # Re-issue the leaf under an intermediate whose key we hold.
    middle = (
        x509.CertificateBuilder()
        .subject_name(pki.intermediate.subject)
        .issuer_name(pki.intermediate.subject)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - 3650 * DAY)
        .not_valid_after(NOW + 3650 * DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), True
        )
        .sign(key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(pki.leaf.subject)
        .issuer_name(middle.subject)
        .public_key(pki.leaf_key.public_key())
        .serial_number(4242)
        .not_valid_before(NOW - DAY)
        .not_valid_after(NOW + DAY)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False), True
        )
        .sign(key, hashes.SHA256())
    )
    return Pki(middle, middle, leaf, pki.leaf_key, pki.algorithm), key


def test_a_configured_crl_revokes_the_leaf(issuer_key_pki):
    pki, key = issuer_key_pki
    chain = [pki.leaf, pki.root]
    raw = sign(pki, chain=chain)
    root = pki.root
    _verify(raw, TrustRoot("r", (root,), crls=(_crl(root, key, [7]),)))
    revoked = TrustRoot("r", (root,), crls=(_crl(root, key, [4242]),))
    assert _check(raw, revoked) is Check.REVOCATION
    assert [e.check for e in _verify(raw, revoked, policy=Policy(Level.PERMISSIVE)).logged] == [
        Check.REVOCATION
    ]
    stale = TrustRoot("r", (root,), crls=(_crl(root, key, [], next_update=NOW - DAY),))
    assert _check(raw, stale) is Check.REVOCATION
    # A CRL of another CA with the same name does not apply.
    foreign = _crl(root, ec.generate_private_key(ec.SECP256R1()), [4242])
    _verify(raw, TrustRoot("r", (root,), crls=(foreign,)))


def test_an_invalidity_date_after_the_timestamp_keeps_the_signature(issuer_key_pki):
    pki, key = issuer_key_pki
    tsa = make_tsa()
    raw = sign(pki, chain=[pki.leaf, pki.root], tsa=tsa, stamp_at=NOW - DAY / 2)
    crl = _crl(pki.root, key, [4242], invalidity=NOW)
    root = TrustRoot("r", (pki.root,), tsa_certificates=(tsa.root,), crls=(crl,))
    _verify(raw, root)
    early = _crl(pki.root, key, [4242], invalidity=NOW - DAY)
    root = TrustRoot("r", (pki.root,), tsa_certificates=(tsa.root,), crls=(early,))
    assert _check(raw, root) is Check.REVOCATION


@pytest.mark.parametrize("media_type", FORMATS)
@pytest.mark.parametrize("name", [["io.cncf.notary.signingScheme"], 7, None, {"a": 1}])
def test_a_critical_header_name_that_is_no_string_fails_integrity(pki, media_type, name):
    raw = sign(pki, media_type=media_type, crit=["io.cncf.notary.signingScheme", name])
    assert _check(raw, _root(pki), media_type=media_type) is Check.INTEGRITY
