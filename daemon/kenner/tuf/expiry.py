"""Expiry instants of TUF roles.

Notary writes ``expires`` with Go's RFC 3339 nano layout: up to nine fractional digits and an
offset that is ``Z`` or ``±hh:mm`` (real data has ``Z``, ``+01:00``, ``+02:00``, ``-07:00``).
Python's ``datetime`` keeps microseconds, so extra digits are truncated: the parsed instant is
at most 999 ns *earlier* than the written one, which can only make kenner stricter.

A role is expired when its expiry lies strictly before the reference instant (Go notary's
``expires.Before(now)``). One reference instant is used for a whole verification.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from kenner.quoting import quote
from kenner.tuf.errors import Reason, TrustError

_RFC3339 = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})T(?P<time>[0-9]{2}:[0-9]{2}:[0-9]{2})"
    r"(?:\.(?P<fraction>[0-9]{1,9}))?"
    r"(?P<offset>Z|[+-][0-9]{2}:[0-9]{2})"
)


def parse_expiry(text: str, role: str) -> datetime:
    """Parse an RFC 3339 ``expires`` value into an aware datetime.

    Raises:
        TrustError: ``malformed`` when the text is not RFC 3339 with a date that exists.
    """
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise TrustError(Reason.MALFORMED, role, f"{role} expires {quote(text)} is not RFC 3339")
    fraction = (match["fraction"] or "").ljust(6, "0")[:6]
    offset = match["offset"]
    if offset == "Z":
        zone: timezone = UTC
    else:
        sign = -1 if offset[0] == "-" else 1
        hours, minutes = int(offset[1:3]), int(offset[4:6])
        if hours > 23 or minutes > 59:
            raise TrustError(Reason.MALFORMED, role, f"{role} expires has offset {offset!r}")
        zone = timezone(sign * timedelta(hours=hours, minutes=minutes))
    try:
        naive = datetime.fromisoformat(f"{match['date']}T{match['time']}.{fraction}")
    except ValueError as exc:
        raise TrustError(
            Reason.MALFORMED, role, f"{role} expires {quote(text)} is not a valid date: {exc}"
        ) from exc
    return naive.replace(tzinfo=zone)


def require_aware(now: datetime) -> None:
    """Refuse a naive reference instant (a programming error, not a trust decision)."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("the reference time must be timezone-aware")


def check_not_expired(role: str, expires: datetime, now: datetime) -> None:
    """Raise ``expired`` when ``expires`` lies before ``now``."""
    if expires < now:
        raise TrustError(
            Reason.EXPIRED,
            role,
            f"{role} expired at {expires.isoformat()} (reference time {now.isoformat()})",
        )
