"""RFC 3339 timestamps and the durations of ``maxAge``.

Rules: a timestamp is ``YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)`` (``T`` and ``Z`` in
either case; the time zone is required; fractions beyond microseconds are cut; a leap second
is refused, Python cannot represent it). A duration is one or more ``<digits><unit>`` with the
units ``w`` (weeks), ``d``, ``h``, ``m``, ``s``, e.g. ``30d`` or ``1d12h``; it must be positive.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from kenner.attest.errors import AttestError
from kenner.quoting import quote

MAX_TIMESTAMP_CHARS = 64
MAX_DURATION_CHARS = 32
_TIMESTAMP = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))",
    re.ASCII,
)
_DURATION = re.compile(r"(?:\d+[wdhms])+", re.ASCII)
_DURATION_PART = re.compile(r"(\d+)([wdhms])", re.ASCII)
_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


class TimeFormatError(AttestError):
    """Not an RFC 3339 timestamp, or not a duration."""


def parse_timestamp(text: str) -> datetime:
    """``text`` as an aware datetime in UTC.

    Raises:
        TimeFormatError: not an RFC 3339 timestamp with a time zone.
    """
    found = _TIMESTAMP.fullmatch(text) if len(text) <= MAX_TIMESTAMP_CHARS else None
    if found is None:
        raise TimeFormatError(f"{quote(text)} is not an RFC 3339 timestamp")
    year, month, day, hour, minute, second = (int(found[index]) for index in range(1, 7))
    micro = int((found[7] or "0")[:6].ljust(6, "0"))
    try:
        if found[8]:
            zone = UTC
        else:
            hours, minutes = int(found[10]), int(found[11])
            if hours > 23 or minutes > 59:
                raise ValueError("offset out of range")
            offset = timedelta(hours=hours, minutes=minutes)
            zone = timezone(-offset if found[9] == "-" else offset)
        moment = datetime(year, month, day, hour, minute, second, micro, tzinfo=zone)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):  # day 31 of April, second 60, year 0 minus an offset
        raise TimeFormatError(f"{quote(text)} is not a valid RFC 3339 timestamp") from None


def parse_duration(text: str) -> timedelta:
    """``text`` (``30d``, ``12h``, ``1d12h``) as a positive timedelta.

    Raises:
        TimeFormatError: not a duration, zero, or too long for a timedelta.
    """
    if len(text) > MAX_DURATION_CHARS or not _DURATION.fullmatch(text):
        raise TimeFormatError(
            f"{quote(text)} is not a duration such as 30d, 12h or 1d12h (units w, d, h, m, s)"
        )
    try:
        total = sum(
            (
                timedelta(**{_UNITS[unit]: int(count)})
                for count, unit in _DURATION_PART.findall(text)
            ),
            timedelta(),
        )
    except OverflowError:
        raise TimeFormatError(f"{quote(text)} is longer than a duration can be") from None
    if total <= timedelta():
        raise TimeFormatError(f"{quote(text)} must be a positive duration")
    return total
