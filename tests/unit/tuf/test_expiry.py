"""Expiry parsing: up to nine fractional digits and any RFC 3339 offset."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kenner.tuf.errors import Reason, TrustError
from kenner.tuf.expiry import check_not_expired, parse_expiry

EXPIRY_TABLE = [
    ("2019-10-24T09:43:18.580935226Z", datetime(2019, 10, 24, 9, 43, 18, 580935, tzinfo=UTC)),
    ("2029-09-22T15:56:45.874265778+02:00", datetime(2029, 9, 22, 13, 56, 45, 874265, tzinfo=UTC)),
    ("2023-10-02T01:30:15.999340461-07:00", datetime(2023, 10, 2, 8, 30, 15, 999340, tzinfo=UTC)),
    ("2020-01-27T15:56:06.90241929Z", datetime(2020, 1, 27, 15, 56, 6, 902419, tzinfo=UTC)),
    ("2999-08-26T14:12:13.21926558+02:00", datetime(2999, 8, 26, 12, 12, 13, 219265, tzinfo=UTC)),
    ("2030-11-11T15:24:37+01:00", datetime(2030, 11, 11, 14, 24, 37, tzinfo=UTC)),
    ("2030-11-11T15:24:37.5Z", datetime(2030, 11, 11, 15, 24, 37, 500000, tzinfo=UTC)),
]


@pytest.mark.parametrize(("text", "instant"), EXPIRY_TABLE)
def test_notary_expiry_strings_parse_to_the_right_instant(text: str, instant: datetime) -> None:
    assert parse_expiry(text, "targets") == instant


@pytest.mark.parametrize(
    "text",
    [
        "2019-10-24 09:43:18Z",
        "2019-10-24T09:43:18",
        "2019-10-24T09:43:18.1234567890Z",
        "2019-02-30T00:00:00Z",
        "2019-10-24T09:43:18+24:00",
        "2019-10-24T09:43:18z",
        "",
    ],
)
def test_anything_else_is_malformed(text: str) -> None:
    with pytest.raises(TrustError) as caught:
        parse_expiry(text, "snapshot")
    assert caught.value.reason is Reason.MALFORMED
    assert caught.value.role == "snapshot"


def test_expired_only_strictly_after_the_expiry() -> None:
    expires = parse_expiry("2023-10-02T01:30:15.999340461-07:00", "targets")
    check_not_expired("targets", expires, expires)
    check_not_expired("targets", expires, expires - timedelta(hours=1))
    with pytest.raises(TrustError) as caught:
        check_not_expired("targets", expires, expires + timedelta(microseconds=1))
    assert caught.value.reason is Reason.EXPIRED
    assert "targets expired at 2023-10-02T01:30:15.999340-07:00" in caught.value.message
