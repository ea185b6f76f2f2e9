"""Embedded SCTs of Fulcio certificates: the real Sigstore one, and ones made here.

The certificates made here follow RFC 6962 s3.3: the CT log signs the precertificate entry (the
leaf's TBS without the SCT list, bound to the issuer's key hash), and the SCT list is added to
the final certificate as a TLS-encoded list inside an OCTET STRING.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID

from kenner.certs import key_usage
from kenner.cosign.errors import Failure, Rejected
from kenner.cosign.fulcio import IdentityPolicy, load_certificates, verify_chain
from kenner.cosign.keys import load_public_key
from kenner.cosign.sct import CtLog, load_ct_log, verify_embedded_sct, verify_embedded_scts
from kenner.cosign.signature import (
    Expectation,
    KeylessRoot,
    SignatureLayer,
    Sigstore,
    signature_layers,
    verify_layer,
)
from kenner.oci.manifest import ImageManifest, parse_manifest
from tests.shared import connaisseur_fixtures

LogKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
REPOSITORY = "securesystemsengineering/testimage"
KEYLESS_DIGEST = "sha256:31dc72a13a0c34b40eb95419d2b2fd67320c856baf3b72da518023ee8d370aee"
ISSUED = datetime(2024, 5, 30, 15, 18, 10, tzinfo=UTC)
LOGGED = ISSUED + timedelta(milliseconds=907)
# Sigstore's public CT log: the log id is the SHA-256 of the key's DER SubjectPublicKeyInfo.
SIGSTORE_CT_LOG_ID = "dd3d306ac6c7113263191e1c99673702a24a5eb8de3cadff878a72802f29ee8e"
# A CA, anchor included, must be allowed to sign certificates (RFC 5280 s4.2.1.3).
CA_KEY_USAGE = key_usage(cert_sign=True)
PHILIPP = KeylessRoot("philipp", IdentityPolicy(issuer_regex="github", subject_regex="philipp"))


# --- The real keyless signature of Connaisseur's test data (public Sigstore, 2024-05-30) ---


def _cosign() -> Path:
    return connaisseur_fixtures() / "cosign"


def _host() -> dict[str, str]:
    config = yaml.safe_load((_cosign() / "validator_configs/11_keyless.yaml").read_text())
    host: dict[str, str] = config["host"]
    return host


def _real_layer() -> tuple[SignatureLayer, bytes]:
    name = f"sha256-{KEYLESS_DIGEST.split(':')[1]}.sig.json"
    registry = _cosign() / "registry" / REPOSITORY
    manifest = parse_manifest((registry / "manifests" / name).read_bytes())
    assert isinstance(manifest, ImageManifest)
    [layer] = signature_layers(manifest)
    return layer, (registry / "blobs" / f"{layer.payload_digest}.json").read_bytes()


def _real_certificates() -> tuple[x509.Certificate, tuple[x509.Certificate, ...]]:
    layer, _ = _real_layer()
    assert layer.certificate is not None
    assert layer.chain is not None
    [leaf] = load_certificates(layer.certificate, "leaf")
    return leaf, load_certificates(layer.chain, "chain")


def _real_issuer(leaf: x509.Certificate, chain: tuple[x509.Certificate, ...]) -> x509.Certificate:
    anchors = load_certificates(_host()["fulcioCert"], "fulcioCert")
    return verify_chain(leaf, chain, anchors, datetime.fromtimestamp(1717082297, UTC))


def test_the_sigstore_sct_verifies_with_the_configured_ct_log_key() -> None:
    leaf, chain = _real_certificates()
    issuer = _real_issuer(leaf, chain)
    # Fulcio's leaf is issued by the shipped intermediate, not by the configured root.
    assert issuer.subject.rfc4514_string() == "CN=sigstore-intermediate,O=sigstore.dev"
    log = load_ct_log(_host()["ctLogPubkey"])
    assert log.log_id.hex() == SIGSTORE_CT_LOG_ID
    assert verify_embedded_sct(leaf, issuer, log) == datetime(
        2024, 5, 30, 15, 18, 10, 907000, tzinfo=UTC
    )


def test_the_sigstore_sct_is_refused_for_another_log_key() -> None:
    leaf, chain = _real_certificates()
    rekor = load_ct_log(_host()["rekorPubkey"])
    with pytest.raises(Rejected) as info:
        verify_embedded_sct(leaf, _real_issuer(leaf, chain), rekor)
    assert info.value.failure == Failure.BAD_SCT
    assert f"SCT is from another CT log (log id {SIGSTORE_CT_LOG_ID})" in info.value.message
    assert rekor.log_id.hex() in info.value.message


def test_the_sigstore_sct_with_a_flipped_signature_byte_does_not_verify() -> None:
    leaf, chain = _real_certificates()
    [sct] = leaf.extensions.get_extension_for_class(
        x509.PrecertificateSignedCertificateTimestamps
    ).value
    der = bytearray(leaf.public_bytes(serialization.Encoding.DER))
    # The last byte of the ECDSA signature's s value: the DER structure stays intact.
    der[bytes(der).index(sct.signature) + len(sct.signature) - 1] ^= 1
    broken = x509.load_der_x509_certificate(bytes(der))
    log = load_ct_log(_host()["ctLogPubkey"])
    with pytest.raises(Rejected) as info:
        verify_embedded_sct(broken, _real_issuer(leaf, chain), log)
    assert info.value.message == f"the SCT signature does not verify with {log.name}"


def test_the_sigstore_sct_is_bound_to_the_issuer_key() -> None:
    leaf, chain = _real_certificates()
    root = chain[1]
    with pytest.raises(Rejected, match="SCT signature does not verify"):
        verify_embedded_sct(leaf, root, load_ct_log(_host()["ctLogPubkey"]))


def _sigstore(ct_log: CtLog | None) -> Sigstore:
    host = _host()
    fulcio = load_certificates(host["fulcioCert"], "fulcioCert")
    return Sigstore(load_public_key(host["rekorPubkey"]), fulcio, ct_log)


def test_a_keyless_layer_counts_only_with_an_sct_of_the_configured_log() -> None:
    layer, payload = _real_layer()
    # The payload names index.docker.io/phbelitz/rekor-test (see the MANIFEST's caveat).
    expectation = Expectation(KEYLESS_DIGEST, "docker.io", REPOSITORY, "any")
    sigstore = _sigstore(load_ct_log(_host()["ctLogPubkey"]))
    entry = verify_layer(layer, payload, PHILIPP, expectation, sigstore)
    assert entry is not None
    assert entry.log_index == 98235800
    other_log = _sigstore(load_ct_log(_host()["rekorPubkey"]))
    with pytest.raises(Rejected) as info:
        verify_layer(layer, payload, PHILIPP, expectation, other_log)
    assert str(info.value).startswith("bad_sct: the signing certificate's SCT is from another")
    # Without ctLogPubkey the SCT is not looked at: today's behaviour.
    assert verify_layer(layer, payload, PHILIPP, expectation, _sigstore(None))


# --- Certificates and SCTs made here ---

_SHA256, _RSA, _ECDSA = 4, 1, 3  # RFC 5246 HashAlgorithm / SignatureAlgorithm codes


@attrs.frozen
class Fulcio:
    """A test CA with the key it signs leaves with."""

    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate


@attrs.frozen
class SctSpec:
    """How to make one SCT: which key signs, which log id it claims, what it covers."""

    log_key: LogKey
    log_id: bytes | None = None  # default: the log key's real id
    logged: datetime = LOGGED
    extensions: bytes = b""
    issuer_key_hash: bytes | None = None  # default: the real issuer's
    flip_signature_byte: bool = False


def _spki(key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _pem(key: LogKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _log_id(key: LogKey) -> bytes:
    return hashlib.sha256(_spki(key.public_key())).digest()


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _fulcio() -> Fulcio:
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name("test fulcio"))
        .issuer_name(_name("test fulcio"))
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(ISSUED - timedelta(days=1))
        .not_valid_after(ISSUED + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(CA_KEY_USAGE, critical=True)
        .sign(key, hashes.SHA256())
    )
    return Fulcio(key, certificate)


def _tls_vector(data: bytes, length_bytes: int) -> bytes:
    return len(data).to_bytes(length_bytes, "big") + data


def _der_octet_string(data: bytes) -> bytes:
    size = len(data)
    if size < 0x80:
        return bytes((0x04, size)) + data
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes((0x04, 0x80 | len(length))) + length + data


def _sct(spec: SctSpec, fulcio: Fulcio, precert_tbs: bytes) -> bytes:
    milliseconds = (spec.logged - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
    issuer_key_hash = (
        spec.issuer_key_hash or hashlib.sha256(_spki(fulcio.key.public_key())).digest()
    )
    signed = (
        b"\x00\x00"  # version v1, signature type certificate_timestamp
        + milliseconds.to_bytes(8, "big")
        + b"\x00\x01"  # entry type precert_entry
        + issuer_key_hash
        + _tls_vector(precert_tbs, 3)
        + _tls_vector(spec.extensions, 2)
    )
    if isinstance(spec.log_key, ec.EllipticCurvePrivateKey):
        algorithm = _ECDSA
        signature = spec.log_key.sign(signed, ec.ECDSA(hashes.SHA256()))
    else:
        algorithm = _RSA
        signature = spec.log_key.sign(signed, padding.PKCS1v15(), hashes.SHA256())
    if spec.flip_signature_byte:
        signature = signature[:-1] + bytes((signature[-1] ^ 1,))
    return (
        b"\x00"  # version v1
        + (spec.log_id or _log_id(spec.log_key))
        + milliseconds.to_bytes(8, "big")
        + _tls_vector(spec.extensions, 2)
        + bytes((_SHA256, algorithm))
        + _tls_vector(signature, 2)
    )


def _leaf_builder(fulcio: Fulcio, valid_from: datetime = ISSUED) -> x509.CertificateBuilder:
    key = ec.generate_private_key(ec.SECP256R1())
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([]))
        .issuer_name(fulcio.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid_from)
        .not_valid_after(valid_from + timedelta(minutes=10))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
        .add_extension(
            x509.SubjectAlternativeName([x509.RFC822Name("dev@example.test")]), critical=True
        )
    )


def _leaf(
    fulcio: Fulcio,
    *specs: SctSpec,
    raw_extension: bytes | None = None,
    edit: Callable[[bytes], bytes] = lambda raw: raw,
) -> x509.Certificate:
    """A leaf issued by ``fulcio`` with the SCTs of ``specs`` (or this SCT list extension).

    ``edit`` changes the extension's bytes after the SCTs were signed.
    """
    builder = _leaf_builder(fulcio)
    precert = builder.sign(fulcio.key, hashes.SHA256())
    if raw_extension is None and not specs:
        return precert
    if raw_extension is None:
        scts = b"".join(
            _tls_vector(_sct(spec, fulcio, precert.tbs_certificate_bytes), 2) for spec in specs
        )
        raw_extension = _der_octet_string(_tls_vector(scts, 2))
    extension = x509.UnrecognizedExtension(
        ExtensionOID.PRECERT_SIGNED_CERTIFICATE_TIMESTAMPS, edit(raw_extension)
    )
    final = builder.add_extension(extension, critical=False).sign(fulcio.key, hashes.SHA256())
    # RFC 6962 s3.2: the final TBS without the SCT list is the TBS the log signed.
    assert final.tbs_precertificate_bytes == precert.tbs_certificate_bytes
    return final


def _raw_sct_extension(leaf: x509.Certificate) -> bytes:
    oid = ExtensionOID.PRECERT_SIGNED_CERTIFICATE_TIMESTAMPS
    return leaf.extensions.get_extension_for_oid(oid).value.public_bytes()


@pytest.fixture(scope="module")
def fulcio() -> Fulcio:
    return _fulcio()


@pytest.fixture(scope="module")
def ct_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.mark.parametrize("kind", ["ecdsa", "rsa"])
def test_an_sct_made_here_verifies_with_its_log_key(fulcio: Fulcio, kind: str) -> None:
    log_key: LogKey = (
        ec.generate_private_key(ec.SECP256R1())
        if kind == "ecdsa"
        else rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    leaf = _leaf(fulcio, SctSpec(log_key, extensions=b"\x01\x02"))
    logged = verify_embedded_sct(leaf, fulcio.certificate, load_ct_log(_pem(log_key)))
    assert logged == LOGGED


def test_a_leaf_without_sct_is_refused_naming_the_log(
    fulcio: Fulcio, ct_key: ec.EllipticCurvePrivateKey
) -> None:
    log = load_ct_log(_pem(ct_key))
    with pytest.raises(Rejected) as info:
        verify_embedded_sct(_leaf(fulcio), fulcio.certificate, log)
    assert info.value.failure == Failure.BAD_SCT
    assert info.value.message == (
        f"the signing certificate has no embedded SCT, but ctLogPubkey (log id "
        f"{_log_id(ct_key).hex()}) requires one"
    )


def test_an_sct_of_another_log_is_refused(
    fulcio: Fulcio, ct_key: ec.EllipticCurvePrivateKey
) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    leaf = _leaf(fulcio, SctSpec(other))
    with pytest.raises(Rejected) as info:
        verify_embedded_sct(leaf, fulcio.certificate, load_ct_log(_pem(ct_key)))
    assert info.value.message == (
        f"the signing certificate's SCT is from another CT log (log id {_log_id(other).hex()}), "
        f"not from ctLogPubkey (log id {_log_id(ct_key).hex()})"
    )


def test_one_sct_of_the_configured_log_among_others_is_enough(
    fulcio: Fulcio, ct_key: ec.EllipticCurvePrivateKey
) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    leaf = _leaf(fulcio, SctSpec(other), SctSpec(ct_key))
    assert verify_embedded_sct(leaf, fulcio.certificate, load_ct_log(_pem(ct_key))) == LOGGED


@pytest.mark.parametrize(
    "tampering", ["flipped signature byte", "another issuer's key", "extensions changed"]
)
def test_a_tampered_sct_does_not_verify(
    fulcio: Fulcio, ct_key: ec.EllipticCurvePrivateKey, tampering: str
) -> None:
    log = load_ct_log(_pem(ct_key))
    if tampering == "flipped signature byte":
        leaf = _leaf(fulcio, SctSpec(ct_key, flip_signature_byte=True))
    elif tampering == "another issuer's key":
        leaf = _leaf(fulcio, SctSpec(ct_key, issuer_key_hash=bytes(32)))
    else:

        def change_extensions(raw: bytes) -> bytes:
            # The SCT's one-byte extensions (0x0001 00) become 0x0001 01.
            index = raw.index(b"\x00\x01\x00" + bytes((_SHA256, _ECDSA)))
            return raw[: index + 2] + b"\x01" + raw[index + 3 :]

        leaf = _leaf(fulcio, SctSpec(ct_key, extensions=b"\x00"), edit=change_extensions)
    with pytest.raises(Rejected) as info:
        verify_embedded_sct(leaf, fulcio.certificate, log)
    assert info.value.failure == Failure.BAD_SCT
    assert info.value.message == f"the SCT signature does not verify with {log.name}"


def test_an_sct_copied_from_another_certificate_does_not_verify(
    fulcio: Fulcio, ct_key: ec.EllipticCurvePrivateKey
) -> None:
    donor = _leaf(fulcio, SctSpec(ct_key))
    log = load_ct_log(_pem(ct_key))
    assert verify_embedded_sct(donor, fulcio.certificate, log) == LOGGED
    leaf = _leaf(fulcio, raw_extension=_raw_sct_extension(donor))
    with pytest.raises(Rejected, match="the SCT signature does not verify"):
        verify_embedded_sct(leaf, fulcio.certificate, log)


@pytest.mark.parametrize(
    "logged", [ISSUED - timedelta(milliseconds=1), ISSUED + timedelta(minutes=10, seconds=1)]
)
def test_an_sct_timestamp_outside_the_certificate_validity_is_refused(
    fulcio: Fulcio, ct_key: ec.EllipticCurvePrivateKey, logged: datetime
) -> None:
    leaf = _leaf(fulcio, SctSpec(ct_key, logged=logged))
    with pytest.raises(Rejected) as info:
        verify_embedded_sct(leaf, fulcio.certificate, load_ct_log(_pem(ct_key)))
    assert info.value.message == (
        f"the SCT timestamp {logged.isoformat()} lies outside the signing certificate's "
        "validity 2024-05-30T15:18:10+00:00 to 2024-05-30T15:28:10+00:00"
    )


def _windowed(key: LogKey, start: datetime | None, end: datetime | None) -> CtLog:
    log = load_ct_log(_pem(key))
    return attrs.evolve(log, label="https://ct.test", valid_from=start, valid_until=end)


def test_an_sct_dated_outside_the_ct_log_window_is_refused(
    fulcio: Fulcio, ct_key: ec.EllipticCurvePrivateKey
) -> None:
    leaf = _leaf(fulcio, SctSpec(ct_key))
    # Inclusive at both ends, as sigstore-go reads a trusted root's validFor.
    exact = _windowed(ct_key, LOGGED, LOGGED)
    assert verify_embedded_scts(leaf, fulcio.certificate, [exact]) == LOGGED
    late = _windowed(ct_key, LOGGED + timedelta(milliseconds=1), None)
    with pytest.raises(Rejected) as info:
        verify_embedded_scts(leaf, fulcio.certificate, [late])
    assert info.value.failure == Failure.BAD_SCT
    assert info.value.message == (
        "CT log validity check: the SCT of https://ct.test is dated 2024-05-30T15:18:10.907000"
        "+00:00, outside the log's validity 2024-05-30T15:18:10.908000+00:00 to open"
    )
    # The same log listed again with a window that holds the SCT: that entry counts.
    early = _windowed(ct_key, None, LOGGED)
    assert verify_embedded_scts(leaf, fulcio.certificate, [late, early]) == LOGGED


def test_an_sct_claiming_a_log_id_of_another_key_type_is_refused(fulcio: Fulcio) -> None:
    rsa_log = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forger = ec.generate_private_key(ec.SECP256R1())
    leaf = _leaf(fulcio, SctSpec(forger, log_id=_log_id(rsa_log)))
    log = load_ct_log(_pem(rsa_log))
    with pytest.raises(Rejected) as info:
        verify_embedded_sct(leaf, fulcio.certificate, log)
    assert info.value.message == f"the SCT has an ECDSA signature, but {log.name} is RSA"


def test_an_unparsable_sct_list_is_refused(
    fulcio: Fulcio, ct_key: ec.EllipticCurvePrivateKey
) -> None:
    leaf = _leaf(fulcio, raw_extension=_der_octet_string(b"\x00\x05abc"))
    with pytest.raises(Rejected) as info:
        verify_embedded_sct(leaf, fulcio.certificate, load_ct_log(_pem(ct_key)))
    assert info.value.failure == Failure.BAD_SCT
    assert info.value.message.startswith("the signing certificate's SCT list cannot be parsed")
    # The chain check, which comes first, refuses it as well rather than failing.
    with pytest.raises(Rejected) as info:
        verify_chain(leaf, (), (fulcio.certificate,), LOGGED)
    assert info.value.failure == Failure.BAD_CERTIFICATE
    assert "extensions cannot be parsed" in info.value.message


def test_verify_chain_names_the_leaf_issuer(fulcio: Fulcio) -> None:
    leaf = _leaf(fulcio)
    assert verify_chain(leaf, (), (fulcio.certificate,), LOGGED) == fulcio.certificate
