"""Registry answers are hostile input: manifests, Cosign payloads and signature annotations,
Rekor bundles and ``WWW-Authenticate`` challenges fail only with their documented errors.

* ``parse_manifest``: any bytes -> a manifest/index or ``ManifestError``;
* ``parse_payload``: any bytes -> a payload or ``Rejected``;
* ``verify_layer`` with a key root or a keyless root (a real certificate whose key really
  signs the hostile payload, or garbage) and ``verify_bundle``: any annotation text ->
  ``Rejected``;
* ``parse_challenges``: any text -> challenges or ``ChallengeError``, and challenges rendered
  from a model (tokens, quoted strings with escapes) parse back to the model.
Every message stays bounded (it quotes at most 200 characters of input).
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from kenner.cosign.errors import Rejected
from kenner.cosign.fulcio import IdentityPolicy
from kenner.cosign.keys import from_public_key
from kenner.cosign.payload import parse_payload
from kenner.cosign.rekor import verify_bundle
from kenner.cosign.signature import (
    Expectation,
    KeylessRoot,
    KeyRoot,
    SignatureLayer,
    Sigstore,
    verify_layer,
)
from kenner.net.challenge import Challenge, ChallengeError, parse_challenges
from kenner.oci.manifest import ManifestError, parse_manifest

MAX_MESSAGE = 4500  # as in test_tuf_parsers: two quoted values of <= 200 characters, escaped
KEY = from_public_key(ec.generate_private_key(ec.SECP256R1()).public_key())
DIGEST = "sha256:" + "a" * 64

_long = st.text(min_size=1, max_size=10).map(lambda text: (text * 5000)[:5000])
_text = st.text(max_size=8) | _long | st.sampled_from(["é", "\ud800", "A" * 44 + "=="])
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_text, children, max_size=3),
    max_leaves=10,
)


def _maybe(good: Any) -> st.SearchStrategy[Any]:
    right = good if isinstance(good, st.SearchStrategy) else st.just(good)
    return st.one_of(right, right, _json)


def _serialised(value: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    raw = value.map(lambda v: json.dumps(v).encode())
    deep = st.integers(1, 5000).map(lambda depth: b"[" * depth + b"]" * depth)
    odd = st.sampled_from([b"1" * 4400, b"\xff\xfe{}", b'"\\ud800"', b"NaN", b"{" * 100000])
    return raw | deep | odd | st.binary(max_size=40)


def _bounded(error: Exception) -> None:
    assert len(str(error)) <= MAX_MESSAGE, str(error)[:200]


_descriptor = st.fixed_dictionaries(
    {
        "mediaType": _maybe("application/vnd.dev.cosign.simplesigning.v1+json"),
        "digest": _maybe(st.sampled_from([DIGEST, "sha256:" + "A" * 64, "md5:00"])),
        "size": _maybe(st.integers(-1, 10)),
        "annotations": _maybe(st.dictionaries(_text, _maybe(_text), max_size=2)),
        "platform": _maybe({"os": "linux", "architecture": "amd64"}),
    }
)
_manifest = st.fixed_dictionaries(
    {
        "schemaVersion": _maybe(2),
        "mediaType": _maybe(
            st.sampled_from(
                [
                    "application/vnd.oci.image.manifest.v1+json",
                    "application/vnd.oci.image.index.v1+json",
                    "application/vnd.docker.distribution.manifest.v2+json",
                ]
            )
        ),
        "config": _maybe(_descriptor),
        "layers": _maybe(st.lists(_maybe(_descriptor), max_size=3)),
        "manifests": _maybe(st.lists(_maybe(_descriptor), max_size=3)),
    }
)


@settings(max_examples=300, deadline=None)
@given(_serialised(_manifest), st.none() | _text)
def test_parse_manifest_returns_a_manifest_or_a_manifest_error(raw: bytes, content_type) -> None:
    try:
        parse_manifest(raw, content_type)
    except ManifestError as error:
        _bounded(error)


_payload = st.fixed_dictionaries(
    {
        "critical": _maybe(
            st.fixed_dictionaries(
                {
                    "identity": _maybe({"docker-reference": "registry.k8s.io/pause"}),
                    "image": _maybe({"docker-manifest-digest": DIGEST}),
                    "type": _maybe("cosign container image signature"),
                }
            )
        ),
        "optional": _maybe(None),
    }
)


@settings(max_examples=300, deadline=None)
@given(_serialised(_payload))
def test_parse_payload_returns_a_payload_or_rejects(raw: bytes) -> None:
    try:
        parse_payload(raw)
    except Rejected as error:
        _bounded(error)


_bundle = st.fixed_dictionaries(
    {
        "SignedEntryTimestamp": _maybe("AAAA"),
        "Payload": _maybe(
            st.fixed_dictionaries(
                {
                    "body": _maybe(_text),
                    "integratedTime": _maybe(st.integers()),
                    "logIndex": _maybe(st.integers()),
                    # the log id is public (the hash of Rekor's public key): anyone can match it
                    "logID": _maybe(__import__("hashlib").sha256(KEY.der).hexdigest()),
                }
            )
        ),
    }
)


@settings(max_examples=300, deadline=None)
@given(_serialised(_bundle).map(lambda raw: raw.decode("utf-8", "replace")) | _text)
def test_verify_bundle_rejects_any_bundle_it_cannot_use(text: str) -> None:
    try:
        verify_bundle(text, KEY, payload=b"p", signature=b"s", signer_der=KEY.der)
    except Rejected as error:
        _bounded(error)


def test_a_bundle_body_with_half_a_surrogate_pair_is_rejected() -> None:
    """Found by the property above: UnicodeEncodeError escaped verify_bundle."""
    log_id = __import__("hashlib").sha256(KEY.der).hexdigest()
    payload = {"body": "\ud800", "integratedTime": 1, "logIndex": 1, "logID": log_id}
    text = json.dumps({"SignedEntryTimestamp": "AAAA", "Payload": payload})
    try:
        verify_bundle(text, KEY, payload=b"p", signature=b"s", signer_der=KEY.der)
    except Rejected as error:
        assert "not valid Unicode" in str(error)  # noqa: PT017 (the error is one of several outcomes)
    else:
        raise AssertionError("accepted")


@settings(max_examples=200, deadline=None)
@given(_text, _serialised(_payload), st.none() | _text)
def test_a_key_signature_layer_counts_or_is_rejected(signature: str, payload: bytes, bundle):
    layer = SignatureLayer(DIGEST, len(payload), signature, bundle=bundle)
    expectation = Expectation(DIGEST, "registry.k8s.io", "pause")
    try:
        verify_layer(layer, payload, KeyRoot("k", KEY), expectation, Sigstore(rekor_key=KEY))
    except Rejected as error:
        _bounded(error)


def _self_signed() -> tuple[ec.EllipticCurvePrivateKey, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fuzz")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return key, certificate.public_bytes(serialization.Encoding.PEM).decode()


SIGNER, SIGNER_PEM = _self_signed()
_pem_garbage = st.binary(max_size=60).map(
    lambda raw: (
        "-----BEGIN CERTIFICATE-----\n"
        + base64.b64encode(raw).decode()
        + "\n-----END CERTIFICATE-----\n"
    )
)


@settings(max_examples=200, deadline=None)
@given(
    _serialised(_payload),
    st.sampled_from([SIGNER_PEM, SIGNER_PEM * 2]) | _pem_garbage | _text,
    st.none() | _text,
    st.none() | _serialised(_bundle).map(lambda raw: raw.decode("utf-8", "replace")),
)
def test_a_keyless_signature_layer_counts_or_is_rejected(payload, certificate, chain, bundle):
    """The signature really verifies with the certificate's key, so every later step (payload,
    Rekor bundle, chain, identity) sees hostile input."""
    signature = SIGNER.sign(payload, ec.ECDSA(hashes.SHA256()))
    layer = SignatureLayer(
        DIGEST, len(payload), base64.b64encode(signature).decode(), certificate, chain, bundle
    )
    expectation = Expectation(DIGEST, "registry.k8s.io", "pause")
    root = KeylessRoot("keyless", IdentityPolicy(issuer="https://issuer.example"))
    try:
        verify_layer(layer, payload, root, expectation, Sigstore(rekor_key=KEY))
    except Rejected as error:
        _bounded(error)


# --- WWW-Authenticate ----------------------------------------------------------------------

_token = st.from_regex(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,8}", fullmatch=True)
_value = st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=12)


@st.composite
def _challenges(draw: st.DrawFn) -> tuple[list[Challenge], str]:
    rendered, model = [], []
    for _ in range(draw(st.integers(1, 3))):
        scheme = draw(_token)
        params = draw(st.lists(st.tuples(_token, _value | _token), max_size=3))
        parts = []
        for name, value in params:
            bare = draw(st.booleans()) and _is_token(value)
            quoted = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
            spaces = draw(st.sampled_from(["", " ", "\t"]))
            parts.append(f"{name}{spaces}={spaces}{value if bare else quoted}")
        separator = draw(st.sampled_from([",", ", ", " ,  "]))
        rendered.append(scheme + (" " + separator.join(parts) if parts else ""))
        model.append(Challenge(scheme.lower(), tuple((n.lower(), v) for n, v in params)))
    return model, draw(st.sampled_from([", ", ",", " , "])).join(rendered)


def _is_token(text: str) -> bool:
    import re

    return re.fullmatch(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+", text) is not None


@settings(max_examples=400)
@given(_challenges())
def test_rendered_challenges_parse_back_to_the_model(case: tuple[list[Challenge], str]) -> None:
    model, header = case
    assert list(parse_challenges(header)) == model


@settings(max_examples=400)
@given(st.text(alphabet=' \t,="\\=aB1/+', max_size=40) | st.text(max_size=40))
def test_any_header_parses_or_raises_challenge_error(header: str) -> None:
    try:
        parse_challenges(header)
    except ChallengeError as error:
        _bounded(error)
