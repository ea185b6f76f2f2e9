"""Bundles whose DSSE envelope Rekor v1 logged as an ``intoto`` 0.0.2 entry (cosign v2
``attest``): they verify, and every way the entry can differ from the envelope (payload,
payload type, signatures encoded once, other, extra or missing signatures, another key,
wrong types) is refused naming the field; the body check never fails with anything but
``BundleError``."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from kenner.sigstore.bundle import DsseEnvelope, DsseSignature, parse_bundle
from kenner.sigstore.dsse import IN_TOTO_PAYLOAD_TYPE, pae
from kenner.sigstore.errors import BundleError
from kenner.sigstore.intoto import check_intoto_v2
from kenner.sigstore.trustroot import parse_trusted_root
from kenner.sigstore.tsa import check_timestamp
from kenner.sigstore.verify import Verified, verify_bundle
from tests.support.sigstore_sim import SIGNED_AT, Ca, Log, Signing, cosign_v3_bundle, trusted_root

DIGEST = "sha256:" + "ab" * 32
Body = dict[str, Any]


@pytest.fixture(scope="module")
def ca() -> Ca:
    return Ca()


def _verify(bundle: dict[str, Any], ca: Ca, log: Log, key: Any = None) -> Verified:
    return verify_bundle(
        parse_bundle(json.dumps(bundle)),
        parse_trusted_root(json.dumps(trusted_root(ca, log, None))),
        artifact_digest=DIGEST,
        key=key,
        check_timestamp=check_timestamp,
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _signed(
    ca: Ca, spoil: Callable[[Body], Body] | None = None, key: Any = None
) -> tuple[dict[str, Any], Log]:
    log = Log()
    signing = Signing(DIGEST, ca, log, rekor_kind="intoto")
    if key is not None:
        signing = Signing(DIGEST, ca, log, key=key, rekor_kind="intoto", keyed=True)
    extra = {} if spoil is None else {"body": spoil}
    return cosign_v3_bundle(signing, **extra), log


def _content(body: Body) -> dict[str, Any]:
    content: dict[str, Any] = body["spec"]["content"]
    return content


def _first_signature(body: Body) -> dict[str, Any]:
    signature: dict[str, Any] = _content(body)["envelope"]["signatures"][0]
    return signature


def _refused(ca: Ca, spoil: Callable[[Body], object]) -> str:
    def spoiled(body: Body) -> Body:
        spoil(body)
        return body

    bundle, log = _signed(ca, spoiled)
    with pytest.raises(BundleError) as caught:
        _verify(bundle, ca, log)
    return str(caught.value)


def test_a_keyless_intoto_entry_verifies(ca: Ca) -> None:
    bundle, log = _signed(ca)
    assert bundle["verificationMaterial"]["tlogEntries"][0]["kindVersion"] == {
        "kind": "intoto",
        "version": "0.0.2",
    }
    verified = _verify(bundle, ca, log)
    assert verified.times == (SIGNED_AT,)
    assert verified.statement is not None
    assert verified.statement["subject"][0]["digest"] == {"sha256": "ab" * 32}


def test_a_key_based_intoto_entry_verifies(ca: Ca) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    bundle, log = _signed(ca, key=key)
    assert _verify(bundle, ca, log, key=key.public_key()).statement is not None


def test_an_entry_about_another_payload_is_refused(ca: Ca) -> None:
    def spoil(body: Body) -> None:
        _content(body)["payloadHash"]["value"] = "cd" * 32

    assert "spec.content.payloadHash is not the hash of the envelope's payload" in _refused(
        ca, spoil
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("CD" * 32, "is not a lowercase SHA-256 hex digest"),
        ("ab" * 31, "is not a lowercase SHA-256 hex digest"),
        ("x" * 5000, "'" + "x" * 100),  # quoted, cut
        (7, "spec.content.payloadHash.value is missing or not a string"),
    ],
)
def test_a_malformed_payload_hash_is_refused(ca: Ca, value: Any, message: str) -> None:
    def spoil(body: Body) -> None:
        _content(body)["payloadHash"]["value"] = value

    refused = _refused(ca, spoil)
    assert message in refused
    assert len(refused) < 400


def test_another_hash_algorithm_is_refused(ca: Ca) -> None:
    def spoil(body: Body) -> None:
        _content(body)["payloadHash"]["algorithm"] = "sha512"

    assert "payloadHash.algorithm 'sha512' is not sha256" in _refused(ca, spoil)


def test_another_payload_type_is_refused(ca: Ca) -> None:
    def spoil(body: Body) -> None:
        _content(body)["envelope"]["payloadType"] = "application/json"

    assert "spec.content.envelope.payloadType is not the envelope's" in _refused(ca, spoil)


def test_a_signature_encoded_once_is_refused(ca: Ca) -> None:
    def spoil(body: Body) -> None:
        signature = _first_signature(body)
        signature["sig"] = base64.b64decode(signature["sig"]).decode()

    assert "signatures[0].sig does not hold base64 text" in _refused(ca, spoil)


def test_another_signature_by_the_same_key_is_refused(ca: Ca) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    statement = Signing(DIGEST, ca, Log(), key=key).statement()
    other = key.sign(pae(IN_TOTO_PAYLOAD_TYPE, statement), ec.ECDSA(hashes.SHA256()))
    log = Log()
    signing = Signing(DIGEST, ca, log, key=key, rekor_kind="intoto")

    def spoil(body: Body) -> Body:
        _first_signature(body)["sig"] = _b64(_b64(other).encode())
        return body

    bundle = cosign_v3_bundle(signing, body=spoil)
    with pytest.raises(BundleError, match="signatures are not the envelope's signatures"):
        _verify(bundle, ca, log)


def test_an_extra_logged_signature_is_refused(ca: Ca) -> None:
    def spoil(body: Body) -> None:
        signatures = _content(body)["envelope"]["signatures"]
        signatures.append(copy.deepcopy(signatures[0]))

    assert "envelope.signatures has 2 items, more than 1" in _refused(ca, spoil)


def test_a_missing_logged_signature_is_refused(ca: Ca) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    log = Log()
    signing = Signing(DIGEST, ca, log, key=key, rekor_kind="intoto")
    bundle = cosign_v3_bundle(signing)
    # a second valid signature by the same key in the envelope, which the log never saw
    payload = base64.b64decode(bundle["dsseEnvelope"]["payload"])
    second = key.sign(pae(IN_TOTO_PAYLOAD_TYPE, payload), ec.ECDSA(hashes.SHA256()))
    bundle["dsseEnvelope"]["signatures"].append({"sig": _b64(second), "keyid": ""})
    with pytest.raises(BundleError, match="has 1 items, the envelope 2 signatures"):
        _verify(bundle, ca, log)


def test_one_signature_logged_twice_for_two_is_refused(ca: Ca) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    log = Log()
    signing = Signing(DIGEST, ca, log, key=key, rekor_kind="intoto")

    def spoil(body: Body) -> Body:
        signatures = _content(body)["envelope"]["signatures"]
        signatures.append(copy.deepcopy(signatures[0]))
        return body

    bundle = cosign_v3_bundle(signing, body=spoil)
    payload = base64.b64decode(bundle["dsseEnvelope"]["payload"])
    second = key.sign(pae(IN_TOTO_PAYLOAD_TYPE, payload), ec.ECDSA(hashes.SHA256()))
    bundle["dsseEnvelope"]["signatures"].append({"sig": _b64(second), "keyid": ""})
    with pytest.raises(BundleError, match="signatures are not the envelope's signatures"):
        _verify(bundle, ca, log)


def test_another_signer_is_refused(ca: Ca) -> None:
    other = ca.leaf(ec.generate_private_key(ec.SECP256R1()))
    pem = other.public_bytes(serialization.Encoding.PEM)

    def spoil(body: Body) -> None:
        _first_signature(body)["publicKey"] = _b64(pem)

    assert "signatures[0].publicKey is not the bundle's signer" in _refused(ca, spoil)


def test_the_signer_as_a_bare_key_is_not_the_certificate(ca: Ca) -> None:
    def spoil(body: Body) -> None:
        signature = _first_signature(body)
        pem = base64.b64decode(signature["publicKey"])
        key = x509.load_pem_x509_certificate(pem).public_key()
        signature["publicKey"] = _b64(
            key.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )

    assert "signatures[0].publicKey is not the bundle's signer" in _refused(ca, spoil)


def _log_payload(ca: Ca, encode: Callable[[bytes], Any]) -> Callable[[Body], Body]:
    """Log the envelope's payload in the body (as the public Rekor does), ``encode``d."""

    def spoil(body: Body) -> Body:
        statement = Signing(DIGEST, ca, Log()).statement()
        _content(body)["envelope"]["payload"] = encode(statement)
        return body

    return spoil


def test_a_logged_payload_encoded_twice_verifies(ca: Ca) -> None:
    bundle, log = _signed(ca, _log_payload(ca, lambda payload: _b64(_b64(payload).encode())))
    assert _verify(bundle, ca, log).statement is not None


@pytest.mark.parametrize(
    ("encode", "message"),
    [
        (lambda payload: _b64(_b64(payload + b" ").encode()), "payload is not the envelope's"),
        (lambda payload: _b64(payload), "payload does not hold base64 text"),
        (lambda payload: 5, "envelope.payload is not a base64 string"),
    ],
)
def test_another_or_once_encoded_logged_payload_is_refused(
    ca: Ca, encode: Callable[[bytes], Any], message: str
) -> None:
    bundle, log = _signed(ca, _log_payload(ca, encode))
    with pytest.raises(BundleError) as caught:
        _verify(bundle, ca, log)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c.pop("hash"), "spec.content.hash is missing"),
        (lambda c: c.pop("payloadHash"), "spec.content.payloadHash is missing"),
        (lambda c: c.pop("envelope"), "spec.content.envelope is missing"),
        (lambda c: c["envelope"].pop("signatures"), "has 0 items, the envelope 1"),
        (lambda c: c["envelope"].update(signatures={}), "signatures is not a list"),
        (lambda c: c["envelope"].update(signatures=["x"]), "signatures[0] is not an object"),
        (lambda c: c["envelope"].update(payloadType=1), "payloadType is missing or not a"),
        (
            lambda c: c["envelope"]["signatures"][0].update(sig=None),
            "signatures[0].sig is missing",
        ),
        (
            lambda c: c["envelope"]["signatures"][0].update(sig="!!"),
            "signatures[0].sig is not base64",
        ),
        (
            lambda c: c["envelope"]["signatures"][0].update(keyid=[1]),
            "signatures[0].keyid is not a string",
        ),
        (
            lambda c: c["envelope"]["signatures"][0].update(publicKey=_b64(b"not a PEM")),
            "publicKey is not the bundle's signer",
        ),
    ],
)
def test_a_mistyped_or_missing_field_is_named(
    ca: Ca, change: Callable[[dict[str, Any]], object], message: str
) -> None:
    assert message in _refused(ca, lambda body: change(_content(body)))


def test_an_intoto_0_0_1_entry_is_refused(ca: Ca) -> None:
    def spoil(body: Body) -> None:
        body["apiVersion"] = "0.0.1"

    assert "log entries of kind 'intoto' '0.0.1' are not supported" in _refused(ca, spoil)


def test_a_key_id_is_a_hint(ca: Ca) -> None:
    def spoil(body: Body) -> Body:
        _first_signature(body)["keyid"] = "anything"
        return body

    bundle, log = _signed(ca, spoil)
    assert _verify(bundle, ca, log).statement is not None


# -- the body parser alone ----------------------------------------------------------------

_KEY = ec.generate_private_key(ec.SECP256R1())
_PAYLOAD = b'{"_type":"https://in-toto.io/Statement/v1"}'
_SIG = _KEY.sign(pae(IN_TOTO_PAYLOAD_TYPE, _PAYLOAD), ec.ECDSA(hashes.SHA256()))
_PEM = _KEY.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
)
_DER = _KEY.public_key().public_bytes(
    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
)
_ENVELOPE = DsseEnvelope(_PAYLOAD, IN_TOTO_PAYLOAD_TYPE, (DsseSignature(_SIG, ""),))


def _spec() -> dict[str, Any]:
    digest = hashlib.sha256(_PAYLOAD).hexdigest()
    return {
        "content": {
            "envelope": {
                "payload": _b64(_b64(_PAYLOAD).encode()),
                "payloadType": IN_TOTO_PAYLOAD_TYPE,
                "signatures": [{"sig": _b64(_b64(_SIG).encode()), "publicKey": _b64(_PEM)}],
            },
            "hash": {"algorithm": "sha256", "value": "11" * 32},
            "payloadHash": {"algorithm": "sha256", "value": digest},
        }
    }


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [leaf for key in value for leaf in _leaves(value[key], (*path, key))]
    if isinstance(value, list):
        return [leaf for i, item in enumerate(value) for leaf in _leaves(item, (*path, i))]
    return [path]


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=12,
)


def test_the_reference_spec_is_accepted() -> None:
    check_intoto_v2(_spec(), _ENVELOPE, _DER)


@settings(max_examples=300)
@given(_JSON)
def test_any_json_spec_is_refused_with_a_bundle_error(spec: Any) -> None:
    with pytest.raises(BundleError):
        check_intoto_v2(spec, _ENVELOPE, _DER)


@settings(max_examples=300)
@given(st.data(), _JSON)
def test_changing_any_checked_field_is_refused(data: st.DataObject, value: Any) -> None:
    spec = _spec()
    leaves = [leaf for leaf in _leaves(spec) if leaf[-2:] != ("hash", "value")]
    path = data.draw(st.sampled_from(leaves))
    parent = spec
    for key in path[:-1]:
        parent = parent[key]
    if parent[path[-1]] == value or (path[-1] == "payload" and value is None):
        return  # unchanged, or a payload left out as Rekor's canonical form does
    parent[path[-1]] = value
    with pytest.raises(BundleError):
        check_intoto_v2(spec, _ENVELOPE, _DER)


@settings(max_examples=200)
@given(st.binary(max_size=300), st.text(max_size=60))
def test_any_logged_signature_or_key_text_is_refused_unless_it_is_the_signers(
    raw: bytes, text: str
) -> None:
    for field, value in (("sig", _b64(raw)), ("sig", text), ("publicKey", text)):
        spec = _spec()
        spec["content"]["envelope"]["signatures"][0][field] = value
        with pytest.raises(BundleError):
            check_intoto_v2(spec, _ENVELOPE, _DER)
