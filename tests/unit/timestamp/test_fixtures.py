"""notation-go's RFC 3161 outcomes (verifier/timestamp_test.go), token by token.

The MANIFEST of ``../shared/fixtures/notation/`` lists them; the envelope-level outcomes (an
expired signing certificate rescued or not) are in tests/unit/notation.
"""

from __future__ import annotations

import datetime

import pytest

from kenner.timestamp.errors import Reason, TimestampError
from kenner.timestamp.verify import check_trust_roots, verify_timestamp_token
from tests.unit.timestamp.realdata import notation_fixtures, timestamp_and_signature, trust_store

_UTC = datetime.UTC


@pytest.mark.parametrize(
    ("envelope", "gen_time"),
    [
        ("jwsWithTimestamp.sig", datetime.datetime(2024, 6, 18, 6, 29, 37, tzinfo=_UTC)),
        ("coseWithTimestamp.sig", datetime.datetime(2024, 6, 18, 6, 27, 16, tzinfo=_UTC)),
        ("jwsExpiredWithTimestamp.sig", datetime.datetime(2024, 6, 18, 7, 21, 42, tzinfo=_UTC)),
        # The token itself is sound; the envelope fails because its signing certificate
        # expired before that time (tests/unit/notation).
        ("timestampAfterNotAfter.sig", datetime.datetime(2024, 6, 19, 9, 35, 58, tzinfo=_UTC)),
    ],
)
def test_the_real_timestamps_verify_over_their_signatures(envelope, gen_time):
    token, signature = timestamp_and_signature(envelope)
    assert token is not None
    stamped = verify_timestamp_token(
        token, message=signature, trusted_roots=trust_store("tsa/test-timestamp")
    )
    assert stamped.time == gen_time
    assert stamped.accuracy == datetime.timedelta(seconds=1)
    assert stamped.earliest == gen_time - datetime.timedelta(seconds=1)
    assert "Globalsign TSA" in stamped.tsa_certificate.subject.rfc4514_string()


def test_a_timestamp_over_other_bytes_fails():
    token, _signature = timestamp_and_signature("jwsWithTimestamp.sig")
    assert token is not None
    with pytest.raises(TimestampError) as raised:
        verify_timestamp_token(
            token, message=b"another signature", trusted_roots=trust_store("tsa/test-timestamp")
        )
    assert raised.value.reason is Reason.IMPRINT_MISMATCH


def test_the_envelope_without_timestamp_has_none():
    token, _signature = timestamp_and_signature("withoutTimestamp.sig")
    assert token is None


@pytest.mark.parametrize(
    ("file", "reason"),
    [
        ("TimeStampTokenWithInvalideContentType.p7s", Reason.CONTENT_TYPE),
        ("TimeStampTokenWithInvalidTSTInfo.p7s", Reason.BAD_TSTINFO),
        ("TimeStampToken.p7s", Reason.IMPRINT_MISMATCH),
    ],
)
def test_the_countersignatures_put_into_the_expired_envelope_fail(file, reason):
    _token, signature = timestamp_and_signature("jwsExpiredWithTimestamp.sig")
    token = (notation_fixtures() / "timestamp" / "countersignature" / file).read_bytes()
    with pytest.raises(TimestampError) as raised:
        verify_timestamp_token(
            token, message=signature, trusted_roots=trust_store("tsa/test-timestamp")
        )
    assert raised.value.reason is reason


def test_a_foreign_tsa_root_does_not_trust_the_token():
    token, signature = timestamp_and_signature("jwsExpiredWithTimestamp.sig")
    assert token is not None
    with pytest.raises(TimestampError) as raised:
        verify_timestamp_token(
            token, message=signature, trusted_roots=trust_store("tsa/test-mismatch")
        )
    assert raised.value.reason is Reason.UNTRUSTED
    assert "Globalsign TSA for Advanced" in raised.value.message


@pytest.mark.parametrize(
    ("store", "why"),
    [("tsa/test-nonCA", "is not a CA certificate"), ("tsa/test-nonSelfIssued", "not self-issued")],
)
def test_unusable_tsa_trust_stores_are_refused(store, why):
    with pytest.raises(TimestampError, match=why) as raised:
        check_trust_roots(trust_store(store))
    assert raised.value.reason is Reason.BAD_TRUST_ROOT
    token, signature = timestamp_and_signature("jwsWithTimestamp.sig")
    assert token is not None
    with pytest.raises(TimestampError) as raised:
        verify_timestamp_token(
            token,
            message=signature,
            trusted_roots=[*trust_store("tsa/test-timestamp"), *trust_store(store)],
        )
    assert raised.value.reason is Reason.BAD_TRUST_ROOT


def test_the_trusted_tsa_root_is_usable():
    check_trust_roots(trust_store("tsa/test-timestamp"))
    check_trust_roots(trust_store("tsa/test-mismatch"))
