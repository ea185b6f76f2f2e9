"""Notation envelopes and identities from hostile input: the module's error or a result.

Envelopes are random bytes, and real envelopes of the tests' own signer (JWS and COSE) with
bytes flipped, cut or inserted; verification must end in ``NotationError`` or succeed, never
raise anything else.
"""

from __future__ import annotations

import base64
import json

import cbor2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kenner.notation.errors import NotationError
from kenner.notation.identity import IdentityError, parse_identities
from kenner.notation.verify import Policy, TrustRoot, verify_envelope
from tests.support.notation_signing import NOW, TARGET, make_pki, sign
from tests.support.tsa import make_tsa

_PKI = make_pki()
_TSA = make_tsa()
_ROOT = TrustRoot("own", (_PKI.root,), (_TSA.root,))
_JWS = sign(_PKI, tsa=_TSA)
_COSE = sign(_PKI, media_type="application/cose", tsa=_TSA)


@st.composite
def _damaged(draw, original: bytes) -> bytes:
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        where = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["flip", "cut", "insert"]))
        if action == "flip":
            data[where] = draw(st.integers(0, 255))
        elif action == "cut":
            del data[where : where + draw(st.integers(1, 64))]
        else:
            data[where:where] = draw(st.binary(min_size=1, max_size=8))
    return bytes(data)


def _verify(media_type: str, raw: bytes) -> None:
    try:
        verify_envelope(media_type, raw, target=TARGET, root=_ROOT, policy=Policy(), now=NOW)
    except NotationError:
        return


_SETTINGS = settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)


@_SETTINGS
@given(st.one_of(st.binary(max_size=512), _damaged(_JWS)))
def test_jws_envelopes_raise_only_notation_errors(raw):
    _verify("application/jose+json", raw)


@_SETTINGS
@given(st.one_of(st.binary(max_size=512), _damaged(_COSE)))
def test_cose_envelopes_raise_only_notation_errors(raw):
    _verify("application/cose", raw)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=80), max_size=3))
def test_identities_raise_only_identity_errors(values):
    try:
        parse_identities([f"x509.subject: {value}" for value in values])
    except IdentityError:
        return


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
_NAMES = st.sampled_from(
    [
        "alg",
        "crit",
        "cty",
        "io.cncf.notary.signingScheme",
        "io.cncf.notary.signingTime",
        "io.cncf.notary.authenticSigningTime",
        "io.cncf.notary.expiry",
        "x5c",
        "io.cncf.notary.timestampSignature",
    ]
)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@_SETTINGS
@given(
    st.dictionaries(_NAMES, _JSON, max_size=7),
    st.dictionaries(_NAMES, _JSON, max_size=3),
    _JSON,
)
def test_jws_headers_of_any_json_shape_raise_only_notation_errors(protected, unsigned, payload):
    base = json.loads(_JWS)
    headers = json.loads(base64.urlsafe_b64decode(base["protected"] + "=="))
    envelope = {
        "payload": _b64url(json.dumps(payload).encode()),
        "protected": _b64url(json.dumps({**headers, **protected}).encode()),
        "header": {**base["header"], **unsigned},
        "signature": base["signature"],
    }
    _verify("application/jose+json", json.dumps(envelope).encode())


@_SETTINGS
@given(st.dictionaries(_NAMES | st.integers(-40, 40), _JSON, max_size=7), _JSON)
def test_cose_headers_of_any_shape_raise_only_notation_errors(protected, unsigned_value):
    message = cbor2.loads(_COSE)
    headers = {**cbor2.loads(message.value[0]), **protected}
    unsigned = {**message.value[1], 33: unsigned_value} if unsigned_value else message.value[1]
    parts = [cbor2.dumps(headers), unsigned, message.value[2], message.value[3]]
    _verify("application/cose", cbor2.dumps(cbor2.CBORTag(18, parts)))
