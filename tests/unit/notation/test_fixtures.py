"""Every outcome of the Notation fixtures, at the envelope level, against the signed target.

``../shared/fixtures/notation/`` (notation-go's test data; its MANIFEST gives the outcomes)
and ``../shared/fixtures/connaisseur/notation/`` (Connaisseur's validator tests). notation-go
checks its timestamp envelopes with the timestamp step alone; here the whole verification
runs, so each envelope's own (self-signed) leaf is in its trust root where notation-go's
store does not hold it.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json

import pytest
import yaml
from cryptography import x509

from kenner.notation.errors import Check, NotationError
from kenner.notation.formats import parse_envelope
from kenner.notation.levels import Level
from kenner.notation.payload import Target
from kenner.notation.verify import Policy, TrustRoot, Verified, verify_envelope
from kenner.timestamp.verify import check_trust_roots
from tests.shared import connaisseur_fixtures
from tests.unit.timestamp.realdata import notation_fixtures, trust_store

NOW = datetime.datetime(2026, 12, 4, tzinfo=datetime.UTC)
JWS = "application/jose+json"
STRICT = Policy()
COSE = "application/cose"


def _media_type(raw: bytes) -> str:
    return JWS if raw.startswith(b"{") else COSE


def _signed_target(raw: bytes) -> Target:
    descriptor = json.loads(parse_envelope(_media_type(raw), raw).payload)["targetArtifact"]
    return Target(descriptor["mediaType"], descriptor["digest"], descriptor["size"])


def _leaf(raw: bytes) -> x509.Certificate:
    der = parse_envelope(_media_type(raw), raw).certificates[0]
    return x509.load_der_x509_certificate(der)


def _verify(raw: bytes, root: TrustRoot, policy: Policy = STRICT) -> Verified:
    return verify_envelope(
        _media_type(raw), raw, target=_signed_target(raw), root=root, policy=policy, now=NOW
    )


def _fails(raw: bytes, root: TrustRoot, policy: Policy = STRICT) -> NotationError:
    with pytest.raises(NotationError) as raised:
        _verify(raw, root, policy)
    return raised.value


def _timestamp_envelope(name: str) -> bytes:
    return (notation_fixtures() / "timestamp" / "sigEnv" / name).read_bytes()


def _ca_and_tsa(raw: bytes, *, tsa: bool) -> TrustRoot:
    certificates = (*trust_store("ca/valid-trust-store"), _leaf(raw))
    tsa_certificates = tuple(trust_store("tsa/test-timestamp")) if tsa else ()
    return TrustRoot("valid-trust-store", certificates, tsa_certificates)


@pytest.mark.parametrize("name", ["jws_signature.sig", "cose_signature.sig"])
def test_the_internal_envelopes_verify_over_the_oci_layout_manifest(name):
    raw = (notation_fixtures() / name).read_bytes()
    layout = notation_fixtures() / "oci-layout"
    descriptor = json.loads((layout / "index.json").read_text())["manifests"][0]
    target = Target(descriptor["mediaType"], descriptor["digest"], descriptor["size"])
    manifest = (layout / "blobs" / "sha256" / target.digest.removeprefix("sha256:")).read_bytes()
    assert "sha256:" + hashlib.sha256(manifest).hexdigest() == target.digest
    verified = verify_envelope(
        _media_type(raw),
        raw,
        target=target,
        root=TrustRoot("self", (_leaf(raw),)),
        policy=Policy(),
        now=NOW,
    )
    assert verified.signer.startswith("CN=alpine")
    other = Target(target.media_type, "sha256:" + "0" * 64, target.size)
    with pytest.raises(NotationError) as raised:
        verify_envelope(
            _media_type(raw),
            raw,
            target=other,
            root=TrustRoot("self", (_leaf(raw),)),
            policy=Policy(),
            now=NOW,
        )
    assert raised.value.check is Check.TARGET


@pytest.mark.parametrize("name", ["jws_signature.sig", "cose_signature.sig"])
def test_the_internal_envelopes_are_untrusted_by_the_notation_store(name):
    raw = (notation_fixtures() / name).read_bytes()
    root = TrustRoot("valid-trust-store", tuple(trust_store("ca/valid-trust-store")))
    assert _fails(raw, root).check is Check.AUTHENTICITY


@pytest.mark.parametrize("verify_timestamp", ["always", "afterCertExpiry"])
@pytest.mark.parametrize("name", ["jwsWithTimestamp.sig", "coseWithTimestamp.sig"])
def test_the_authentic_timestamp_verifies(name, verify_timestamp):
    raw = _timestamp_envelope(name)
    verified = _verify(raw, _ca_and_tsa(raw, tsa=True), Policy(verify_timestamp=verify_timestamp))
    assert verified.logged == ()


@pytest.mark.parametrize("verify_timestamp", ["always", "afterCertExpiry"])
def test_the_timestamp_rescues_the_expired_signing_certificate(verify_timestamp):
    raw = _timestamp_envelope("jwsExpiredWithTimestamp.sig")
    assert _leaf(raw).not_valid_after_utc < NOW
    verified = _verify(raw, _ca_and_tsa(raw, tsa=True), Policy(verify_timestamp=verify_timestamp))
    assert verified.signer.startswith("CN=testTSA")


def test_without_a_tsa_store_the_expired_certificate_fails():
    raw = _timestamp_envelope("jwsExpiredWithTimestamp.sig")
    error = _fails(raw, _ca_and_tsa(raw, tsa=False))
    assert error.check is Check.TIMESTAMP
    assert "expired at 2024-06-18T07:30:31+00:00" in error.message


def test_a_required_timestamp_must_be_there():
    raw = _timestamp_envelope("withoutTimestamp.sig")
    error = _fails(raw, _ca_and_tsa(raw, tsa=True))
    assert error.check is Check.TIMESTAMP
    assert "no timestamp countersignature was found" in error.message
    # afterCertExpiry: the chain is valid now, so no timestamp is needed.
    _verify(raw, _ca_and_tsa(raw, tsa=True), Policy(verify_timestamp="afterCertExpiry"))


@pytest.mark.parametrize(
    ("file", "why"),
    [
        ("TimeStampTokenWithInvalideContentType.p7s", "wrong_content_type"),
        ("TimeStampTokenWithInvalidTSTInfo.p7s", "bad_tstinfo"),
        ("TimeStampToken.p7s", "imprint_mismatch"),
    ],
)
def test_a_bad_countersignature_in_the_envelope_fails(file, why):
    envelope = json.loads(_timestamp_envelope("jwsExpiredWithTimestamp.sig"))
    token = (notation_fixtures() / "timestamp" / "countersignature" / file).read_bytes()
    envelope["header"]["io.cncf.notary.timestampSignature"] = base64.b64encode(token).decode()
    raw = json.dumps(envelope).encode()
    error = _fails(raw, _ca_and_tsa(raw, tsa=True))
    assert error.check is Check.TIMESTAMP
    assert why in error.message


def test_a_foreign_tsa_store_fails_the_timestamp():
    raw = _timestamp_envelope("jwsExpiredWithTimestamp.sig")
    root = TrustRoot(
        "r",
        (_leaf(raw),),
        tuple(trust_store("tsa/test-mismatch")),
    )
    error = _fails(raw, root)
    assert error.check is Check.TIMESTAMP
    assert "untrusted_tsa" in error.message


@pytest.mark.parametrize("tsa", [True, False])
def test_a_timestamp_after_the_certificate_expired_fails(tsa):
    raw = _timestamp_envelope("timestampAfterNotAfter.sig")
    error = _fails(raw, _ca_and_tsa(raw, tsa=tsa))
    assert error.check is Check.TIMESTAMP
    assert "expired at 2001-09-18T11:54:34+00:00" in error.message


def test_the_timestamp_check_is_only_logged_when_permissive():
    raw = _timestamp_envelope("timestampAfterNotAfter.sig")
    verified = _verify(raw, _ca_and_tsa(raw, tsa=True), Policy(level=Level.PERMISSIVE))
    assert [e.check for e in verified.logged] == [Check.TIMESTAMP]


def _mock(name: str) -> bytes:
    return (notation_fixtures() / "mock-envelopes" / name).read_bytes()


def _mock_root(kind: str) -> TrustRoot:
    # notation-go's stores of type ``kind`` hold these; the scheme must match the type.
    return TrustRoot(kind, tuple(trust_store(f"{kind}/valid-trust-store")), store_type=kind)


@pytest.mark.parametrize(
    ("name", "kind"),
    [("ca_valid_sig_env.json", "ca"), ("sa_valid_sig_env.json", "signingAuthority")],
)
def test_the_valid_mock_envelopes_verify_for_both_schemes(name, kind):
    verified = _verify(_mock(name), _mock_root(kind))
    assert verified.signer.startswith("CN=Notation Test Root")


def test_the_tampered_mock_envelope_fails_its_integrity():
    assert _fails(_mock("ca_invalid_sig_env.json"), _mock_root("ca")).check is Check.INTEGRITY


def test_the_expired_mock_envelope_fails_unless_only_logged():
    raw = _mock("sa_expired_sig_env.json")
    assert _fails(raw, _mock_root("signingAuthority")).check is Check.EXPIRY
    verified = _verify(raw, _mock_root("signingAuthority"), Policy(level=Level.PERMISSIVE))
    assert [e.check for e in verified.logged] == [Check.EXPIRY]


def _connaisseur() -> tuple[bytes, Target, dict[str, TrustRoot]]:
    folder = connaisseur_fixtures() / "notation"
    repository = folder / "registry" / "sse-secure-systems" / "testimage"
    manifest = (repository / "manifests" / "notation-sign.json").read_bytes()
    digest = "sha256:a136cc4e785798e5e8483047cf621cf0a0300a93d47703a3f066c340c070f5cf"
    target = Target(json.loads(manifest)["mediaType"], digest, len(manifest))
    index = json.loads((repository / "manifests" / f"{digest.replace(':', '-')}.json").read_bytes())
    signature_manifest = index["manifests"][0]
    assert signature_manifest["artifactType"] == "application/vnd.cncf.notary.signature"
    layers = json.loads(
        (repository / "manifests" / f"{signature_manifest['digest']}.json").read_bytes()
    )["layers"]
    envelope = (repository / "blobs" / f"{layers[0]['digest']}.json").read_bytes()
    config = yaml.safe_load((folder / "validator_configs" / "07_selfsigned_cert.yaml").read_text())
    roots = {
        root["name"]: TrustRoot(
            root["name"], tuple(x509.load_pem_x509_certificates(root["cert"].encode()))
        )
        for root in config["trustRoots"]
    }
    return envelope, target, roots


@pytest.mark.parametrize("level", [Level.STRICT, Level.PERMISSIVE, Level.AUDIT])
def test_connaisseur_self_signed_signature_verifies(level):
    envelope, target, roots = _connaisseur()
    verified = verify_envelope(
        JWS, envelope, target=target, root=roots["default"], policy=Policy(level), now=NOW
    )
    assert verified.signer.startswith("CN=securesystems.de")
    assert verified.logged == ()


def test_connaisseur_different_cert_fails_unless_audited():
    envelope, target, roots = _connaisseur()
    for level in (Level.STRICT, Level.PERMISSIVE):
        with pytest.raises(NotationError) as raised:
            verify_envelope(
                JWS,
                envelope,
                target=target,
                root=roots["different-cert"],
                policy=Policy(level),
                now=NOW,
            )
        assert raised.value.check is Check.AUTHENTICITY
    audited = verify_envelope(
        JWS,
        envelope,
        target=target,
        root=roots["different-cert"],
        policy=Policy(Level.AUDIT),
        now=NOW,
    )
    assert [e.check for e in audited.logged] == [Check.AUTHENTICITY]


def test_the_connaisseur_tsa_root_is_a_usable_tsa_store():
    pem = (connaisseur_fixtures() / "notation" / "certs" / "digi_cert_root.pem").read_bytes()
    check_trust_roots(x509.load_pem_x509_certificates(pem))
