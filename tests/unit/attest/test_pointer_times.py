"""JSON Pointers (RFC 6901's own examples), RFC 3339 timestamps and maxAge durations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kenner.attest.errors import PolicyError
from kenner.attest.pointer import MISSING, parse_pointer, resolve
from kenner.attest.times import TimeFormatError, parse_duration, parse_timestamp

# RFC 6901 section 5.
RFC_DOCUMENT = {
    "foo": ["bar", "baz"],
    "": 0,
    "a/b": 1,
    "c%d": 2,
    "e^f": 3,
    "g|h": 4,
    "i\\j": 5,
    'k"l': 6,
    " ": 7,
    "m~n": 8,
}


@pytest.mark.parametrize(
    ("pointer", "value"),
    [
        ("", RFC_DOCUMENT),
        ("/foo", ["bar", "baz"]),
        ("/foo/0", "bar"),
        ("/", 0),
        ("/a~1b", 1),
        ("/c%d", 2),
        ("/e^f", 3),
        ("/g|h", 4),
        ("/i\\j", 5),
        ('/k"l', 6),
        ("/ ", 7),
        ("/m~0n", 8),
    ],
)
def test_rfc_6901_examples(pointer: str, value: object) -> None:
    assert resolve(RFC_DOCUMENT, parse_pointer(pointer)) == value


def test_tilde_escapes_are_decoded_in_order() -> None:
    # "~01" is "~1" (a tilde then 1), not "/".
    assert parse_pointer("/~01") == ("~1",)
    assert resolve({"~1": "x", "/": "y"}, parse_pointer("/~01")) == "x"


@pytest.mark.parametrize("pointer", ["foo", "#/foo", "/a~", "/a~2", "/~x/b"])
def test_malformed_pointers_are_refused(pointer: str) -> None:
    with pytest.raises(PolicyError, match="is not a JSON Pointer"):
        parse_pointer(pointer)


@pytest.mark.parametrize("pointer", ["/foo/2", "/foo/-", "/foo/01", "/foo/+1", "/nope", "/foo/0/x"])
def test_pointers_that_lead_nowhere_are_missing(pointer: str) -> None:
    assert resolve(RFC_DOCUMENT, parse_pointer(pointer)) is MISSING


def test_null_is_a_value_not_missing() -> None:
    assert resolve({"a": None}, parse_pointer("/a")) is None


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2026-12-04T07:00:00Z", datetime(2026, 12, 4, 7, tzinfo=UTC)),
        ("2026-12-04t07:00:00z", datetime(2026, 12, 4, 7, tzinfo=UTC)),
        ("2026-12-04T09:30:00+02:30", datetime(2026, 12, 4, 7, tzinfo=UTC)),
        ("2026-12-03T23:00:00-08:00", datetime(2026, 12, 4, 7, tzinfo=UTC)),
        ("2026-12-04T07:00:00.123456789Z", datetime(2026, 12, 4, 7, 0, 0, 123456, tzinfo=UTC)),
        ("2026-12-04T07:00:00.5Z", datetime(2026, 12, 4, 7, 0, 0, 500000, tzinfo=UTC)),
    ],
)
def test_timestamps(text: str, moment: datetime) -> None:
    assert parse_timestamp(text) == moment


@pytest.mark.parametrize(
    "text",
    [
        "2026-12-04T07:00:00",  # no time zone
        "2026-12-04 07:00:00Z",
        "2026-12-04",
        "2026-02-30T07:00:00Z",
        "2026-12-04T24:00:00Z",
        "2026-12-31T23:59:60Z",  # a leap second
        "2026-12-04T07:00:00+24:00",
        "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
        "\uff12\uff10\uff12\uff16-12-04T07:00:00Z",  # fullwidth digits
        "2026-12-04T07:00:00." + "1" * 100 + "Z",
    ],
)
def test_bad_timestamps(text: str) -> None:
    with pytest.raises(TimeFormatError):
        parse_timestamp(text)


@pytest.mark.parametrize(
    ("text", "duration"),
    [
        ("30d", timedelta(days=30)),
        ("12h", timedelta(hours=12)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("2w", timedelta(weeks=2)),
        ("90m", timedelta(minutes=90)),
        ("45s", timedelta(seconds=45)),
    ],
)
def test_durations(text: str, duration: timedelta) -> None:
    assert parse_duration(text) == duration


@pytest.mark.parametrize(
    "text", ["", "30", "d", "30 d", "1.5h", "-1d", "0d", "30y", "99999999999d"]
)
def test_bad_durations(text: str) -> None:
    with pytest.raises(TimeFormatError):
        parse_duration(text)
