"""RFC 3161 parsers on hostile bytes: ``TimestampError`` or a result, never anything else.

Inputs are random bytes, and real tokens of the tests' own TSA with bytes flipped, cut or
inserted (so most of the structure still parses and the damage lands deep inside).
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kenner.timestamp.errors import TimestampError
from kenner.timestamp.parse import parse_timestamp_response
from kenner.timestamp.verify import verify_timestamp_token
from tests.support.tsa import make_tsa, response, stamp

_TSA = make_tsa()
_MESSAGE = b"signature"
_TOKEN = stamp(_TSA, _MESSAGE)
_RESPONSE = response(_TOKEN)


@st.composite
def _damaged(draw, original: bytes) -> bytes:
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["flip", "cut", "insert"]))
        if action == "flip":
            data[where] = draw(st.integers(0, 255))
        elif action == "cut":
            del data[where : where + draw(st.integers(1, 64))]
            if not data:
                break
        else:
            data[where:where] = draw(st.binary(min_size=1, max_size=8))
    return bytes(data)


def _verify(token: bytes) -> None:
    try:
        stamped = verify_timestamp_token(token, message=_MESSAGE, trusted_roots=[_TSA.root])
    except TimestampError:
        return
    assert stamped.tsa_certificate == _TSA.certificate  # a damaged token that still verifies


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.one_of(st.binary(max_size=512), _damaged(_TOKEN)))
def test_verify_raises_only_timestamp_errors(token):
    _verify(token)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.one_of(st.binary(max_size=512), _damaged(_RESPONSE)))
def test_parse_response_raises_only_timestamp_errors(der):
    try:
        token = parse_timestamp_response(der)
    except TimestampError:
        return
    _verify(token)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    imprint_hash=st.sampled_from(["sha1", "sha256", "sha384", "sha512", "md5"]),
    accuracy=st.none() | st.integers(0, 10**6),
    content_type=st.sampled_from(["tst_info", "data", "signed_data"]),
    signed_content_type=st.sampled_from(["tst_info", "data"]),
    ess=st.none()
    | st.lists(st.fixed_dictionaries({"cert_hash": st.binary(max_size=64)}), max_size=3),
    tst_info=st.none() | st.binary(max_size=64).map(lambda b: b"\x30" + bytes([len(b)]) + b),
)
def test_tokens_with_odd_fields_raise_only_timestamp_errors(
    imprint_hash, accuracy, content_type, signed_content_type, ess, tst_info
):
    token = stamp(
        _TSA,
        _MESSAGE,
        imprint_hash=imprint_hash,
        accuracy_seconds=accuracy,
        content_type=content_type,
        signed_content_type=signed_content_type,
        ess_certs=ess,
        tst_info=tst_info,
    )
    _verify(token)
