"""Every rule of kenner.timestamp broken once, with tokens of the tests' own TSA."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from cryptography.x509.oid import ExtendedKeyUsageOID

from kenner.timestamp.errors import Reason, TimestampError
from kenner.timestamp.parse import MAX_TOKEN_BYTES, parse_timestamp_response
from kenner.timestamp.verify import verify_timestamp_token
from tests.support.tsa import DAY, NOW, Tsa, make_tsa, response, stamp

MESSAGE = b"the signature value of an envelope"


@pytest.fixture(scope="module")
def tsa():
    return make_tsa()


def _reason(token: bytes, tsa: Tsa, **kwargs: Any) -> Reason:
    kwargs.setdefault("trusted_roots", [tsa.root])
    with pytest.raises(TimestampError) as raised:
        verify_timestamp_token(token, message=MESSAGE, **kwargs)
    assert len(raised.value.message) < 500
    return raised.value.reason


@pytest.mark.parametrize("imprint_hash", ["sha256", "sha384", "sha512"])
def test_a_sound_token_verifies(tsa, imprint_hash):
    stamped = verify_timestamp_token(
        stamp(tsa, MESSAGE, imprint_hash=imprint_hash), message=MESSAGE, trusted_roots=[tsa.root]
    )
    assert stamped.time == NOW
    assert stamped.latest == NOW + datetime.timedelta(seconds=1)
    assert stamped.tsa_certificate == tsa.certificate


def test_a_token_without_accuracy_is_a_point_in_time(tsa):
    stamped = verify_timestamp_token(
        stamp(tsa, MESSAGE, accuracy_seconds=None), message=MESSAGE, trusted_roots=[tsa.root]
    )
    assert stamped.accuracy is None
    assert stamped.earliest == stamped.latest == NOW


def test_the_tsa_certificate_may_come_from_the_intermediates(tsa):
    token = stamp(tsa, MESSAGE, include_certificates=False)
    assert _reason(token, tsa) is Reason.NO_TSA_CERTIFICATE
    stamped = verify_timestamp_token(
        token, message=MESSAGE, trusted_roots=[tsa.root], intermediates=[tsa.certificate]
    )
    assert stamped.tsa_certificate == tsa.certificate


@pytest.mark.parametrize(
    ("knobs", "reason"),
    [
        ({"content_type": "data"}, Reason.CONTENT_TYPE),
        ({"tst_info": b"\x30\x03\x02\x01\x01"}, Reason.BAD_TSTINFO),
        ({"tst_info": b"\x30\x05\x02\x01\x01\x05\x00"}, Reason.BAD_TSTINFO),
        ({"imprint_hash": "sha1"}, Reason.BAD_TSTINFO),
        ({"imprint_hash": "md5"}, Reason.BAD_TSTINFO),
        ({"tamper_signature": True}, Reason.BAD_SIGNATURE),
        ({"tamper_digest": True}, Reason.BAD_SIGNATURE),
        ({"signing_certificate": False}, Reason.BAD_SIGNATURE),
        ({"signed_content_type": "data"}, Reason.BAD_SIGNATURE),
        ({"ess_certs": []}, Reason.BAD_SIGNATURE),
        ({"ess_certs": [{"cert_hash": b"\x00" * 32}]}, Reason.BAD_SIGNATURE),
        ({"at": NOW + 400 * DAY}, Reason.OUTSIDE_VALIDITY),
        ({"at": NOW - 400 * DAY}, Reason.OUTSIDE_VALIDITY),
    ],
)
def test_each_broken_rule_names_its_reason(tsa, knobs, reason):
    assert _reason(stamp(tsa, MESSAGE, **knobs), tsa) is reason


def test_other_bytes_do_not_match_the_imprint(tsa):
    assert _reason(stamp(tsa, b"other bytes"), tsa) is Reason.IMPRINT_MISMATCH


def test_another_tsa_root_does_not_trust_the_token(tsa):
    other = make_tsa(name="Other TSA")
    assert _reason(stamp(tsa, MESSAGE), tsa, trusted_roots=[other.root]) is Reason.UNTRUSTED


def test_the_signing_certificate_attribute_must_name_the_signer(tsa):
    other = make_tsa(name="Other TSA")
    # The SignerInfo and the ESS attribute name another certificate, whose key did not sign.
    token = stamp(tsa, MESSAGE, signer=other.certificate)
    reason = _reason(token, tsa, intermediates=[other.certificate])
    assert reason is Reason.BAD_SIGNATURE


@pytest.mark.parametrize(
    "knobs",
    [
        {"eku_critical": False},
        {"eku": ()},
        {"eku": (ExtendedKeyUsageOID.CODE_SIGNING,)},
        {"eku": (ExtendedKeyUsageOID.TIME_STAMPING, ExtendedKeyUsageOID.CODE_SIGNING)},
    ],
)
def test_only_a_timestamping_certificate_may_sign(knobs):
    tsa = make_tsa(**knobs)
    assert _reason(stamp(tsa, MESSAGE), tsa) is Reason.NOT_TIMESTAMPING


def test_no_trust_root_verifies_nothing(tsa):
    assert _reason(stamp(tsa, MESSAGE), tsa, trusted_roots=[]) is Reason.BAD_TRUST_ROOT


def test_the_tsa_certificate_is_no_trust_root(tsa):
    roots = [tsa.root, tsa.certificate]
    assert _reason(stamp(tsa, MESSAGE), tsa, trusted_roots=roots) is Reason.BAD_TRUST_ROOT


@pytest.mark.parametrize(
    "token", [b"", b"\x30\x00", b"garbage", b"\x30\x80\x00\x00", bytes(MAX_TOKEN_BYTES + 1)]
)
def test_garbage_is_a_malformed_token(tsa, token):
    assert _reason(token, tsa) is Reason.MALFORMED


def test_trailing_bytes_are_malformed(tsa):
    assert _reason(stamp(tsa, MESSAGE) + b"\x00", tsa) is Reason.MALFORMED


def test_a_granted_response_yields_its_token(tsa):
    token = stamp(tsa, MESSAGE)
    assert parse_timestamp_response(response(token)) == token
    assert parse_timestamp_response(response(token, status="granted_with_mods")) == token


@pytest.mark.parametrize("status", ["rejection", "waiting", "revocation_warning"])
def test_a_response_that_grants_nothing_fails(tsa, status):
    with pytest.raises(TimestampError) as raised:
        parse_timestamp_response(response(stamp(tsa, MESSAGE), status=status))
    assert raised.value.reason is Reason.NOT_GRANTED


def test_a_granted_response_without_token_fails():
    with pytest.raises(TimestampError) as raised:
        parse_timestamp_response(response(None))
    assert raised.value.reason is Reason.NOT_GRANTED


@pytest.mark.parametrize("der", [b"", b"\x30\x03\x02\x01", b"\x04\x00", bytes(MAX_TOKEN_BYTES + 1)])
def test_a_malformed_response_fails(der):
    with pytest.raises(TimestampError) as raised:
        parse_timestamp_response(der)
    assert raised.value.reason is Reason.MALFORMED
