"""Typed access to protobuf-JSON documents (bundles, trusted roots, Rekor v2 entries).

Protobuf's JSON mapping writes 64-bit integers as decimal strings (numbers are accepted too),
bytes as standard base64 (URL-safe accepted, padding optional, as protojson reads them), and
omits empty fields. Every accessor raises the caller's error type with the field's path, so a
hostile document gets a denial that names what is wrong and never a crash.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from kenner.errors import KennerError

E = TypeVar("E", bound=KennerError)
_MAX_INT64 = 2**63 - 1
_DECIMAL = re.compile(r"-?[0-9]{1,20}")
_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]{1,9})?"
    r"(Z|z|[+-][0-9]{2}:[0-9]{2})"
)


class Reader:
    """Field accessors that raise ``error(message)`` for a missing or mistyped field."""

    def __init__(self, error: Callable[[str], KennerError]) -> None:
        self._error = error

    def fail(self, message: str) -> KennerError:
        """The error to raise, for checks that are not about one field's type."""
        return self._error(message)

    def obj(self, document: Any, key: str, path: str) -> dict[str, Any]:
        """A required JSON object."""
        value = document.get(key) if isinstance(document, dict) else None
        if not isinstance(value, dict):
            raise self._error(f"{path}.{key} is missing or not an object")
        return value

    def opt_obj(self, document: dict[str, Any], key: str, path: str) -> dict[str, Any] | None:
        """An optional JSON object (absent or null: None)."""
        if document.get(key) is None:
            return None
        return self.obj(document, key, path)

    def array(self, document: dict[str, Any], key: str, path: str, limit: int) -> list[Any]:
        """An optional JSON array (absent: empty), at most ``limit`` long."""
        value = document.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self._error(f"{path}.{key} is not a list")
        if len(value) > limit:
            raise self._error(f"{path}.{key} has {len(value)} items, more than {limit}")
        return value

    def text(self, document: dict[str, Any], key: str, path: str) -> str:
        """A required, non-empty JSON string."""
        value = document.get(key)
        if not isinstance(value, str) or not value:
            raise self._error(f"{path}.{key} is missing or not a string")
        return value

    def opt_text(self, document: dict[str, Any], key: str, path: str) -> str | None:
        """An optional JSON string (absent, null or empty: None)."""
        value = document.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise self._error(f"{path}.{key} is not a string")
        return value

    def raw(self, document: dict[str, Any], key: str, path: str) -> bytes:
        """Required, non-empty protobuf ``bytes``."""
        data = self.opt_raw(document, key, path)
        if not data:
            raise self._error(f"{path}.{key} is missing or empty")
        return data

    def opt_raw(self, document: dict[str, Any], key: str, path: str) -> bytes:
        """Optional protobuf ``bytes`` (absent: empty)."""
        value = document.get(key)
        if value is None:
            return b""
        if not isinstance(value, str):
            raise self._error(f"{path}.{key} is not a base64 string")
        return self.decode(value, f"{path}.{key}")

    def decode(self, value: str, what: str) -> bytes:
        """Standard or URL-safe base64, padding optional."""
        text = value.rstrip("=")
        if "-" in text or "_" in text:
            text = text.replace("-", "+").replace("_", "/")
        text += "=" * (-len(text) % 4)
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise self._error(f"{what} is not base64") from None

    def integer(self, document: dict[str, Any], key: str, path: str) -> int:
        """A required non-negative int64 (a JSON number or a decimal string)."""
        value = self.opt_integer(document, key, path)
        if value is None:
            raise self._error(f"{path}.{key} is missing")
        return value

    def opt_integer(self, document: dict[str, Any], key: str, path: str) -> int | None:
        """An optional non-negative int64 (absent: None)."""
        value = document.get(key)
        if value is None:
            return None
        if isinstance(value, str) and _DECIMAL.fullmatch(value):
            number = int(value)
        elif type(value) is int:
            number = value
        else:
            raise self._error(f"{path}.{key} is not an integer")
        if not 0 <= number <= _MAX_INT64:
            raise self._error(f"{path}.{key} is {number}, outside 0 to 2^63-1")
        return number

    def time(self, document: dict[str, Any], key: str, path: str) -> datetime | None:
        """An optional RFC 3339 timestamp (protobuf ``Timestamp``), in UTC."""
        value = self.opt_text(document, key, path)
        if value is None:
            return None
        match = _RFC3339.fullmatch(value)
        if match is None:
            raise self._error(f"{path}.{key} is not an RFC 3339 time")
        try:
            parsed = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
        except ValueError:
            raise self._error(f"{path}.{key} is not an RFC 3339 time") from None
        return parsed.astimezone(UTC)
