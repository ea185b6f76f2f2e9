"""Notary's canonical JSON, byte for byte.

Notary verifies a signature over ``json.MarshalCanonical(decoded)``, where ``decoded`` is the
``signed`` object parsed into Go's generic ``map[string]interface{}`` and the encoder is
``github.com/docker/go/canonical/json`` in canonical mode. That encoder differs from both
``encoding/json`` and OLPC canonical JSON, and every difference matters for signatures:

* object keys sorted by their UTF-8 bytes (code point order), no whitespace at all;
* strings: only ``"`` and ``\\`` are escaped (as ``\\"`` and ``\\\\``). Everything else is
  written raw: control characters, ``<``, ``>``, ``&``, U+2028/U+2029 and all non-ASCII text
  (plain ``encoding/json`` would write ``\\u003c``, ``\\u2028``, ``\\n`` ...);
* numbers: the generic decoder makes every number a float64; canonical mode refuses
  non-integral values and prints integral ones as plain decimal integers (``2.0`` -> ``2``,
  ``1e3`` -> ``1000``).

Go replaces invalid UTF-16 surrogate escapes with U+FFFD while decoding; :func:`parse_json`'s
callers get the same bytes because :func:`canonical_json` does that replacement (also in object
keys: two keys that differ only there are one key to Go, and the last value wins). Integers whose
magnitude exceeds 2**53 are refused: Go would have rounded them through float64.
"""

from __future__ import annotations

import json
import math
import re

from kenner.errors import KennerError
from kenner.quoting import quote

_MAX_EXACT_INTEGER = 2**53
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class CanonicalJSONError(KennerError, ValueError):
    """The bytes are not JSON Notary could have signed (names the offending value)."""


def _refuse_constant(name: str) -> object:
    raise CanonicalJSONError(f"JSON constant {name} is not allowed in trust data")


def parse_json(raw: bytes) -> object:
    """Parse served trust data strictly as UTF-8 JSON (no NaN/Infinity, no UTF-16 guessing)."""
    try:
        text = raw.decode("utf-8")
        return json.loads(text, parse_constant=_refuse_constant)
    except UnicodeDecodeError as exc:
        raise CanonicalJSONError(f"not UTF-8 at byte {exc.start}") from exc
    except json.JSONDecodeError as exc:
        raise CanonicalJSONError(f"not JSON: {exc.msg} at line {exc.lineno}") from exc
    except RecursionError as exc:
        raise CanonicalJSONError("JSON nested too deeply") from exc
    except ValueError as exc:  # an integer of more than 4300 digits (int_max_str_digits)
        raise CanonicalJSONError(f"not JSON Notary could have signed: {exc}") from exc


def canonical_json(value: object) -> bytes:
    """Encode a parsed JSON value exactly as Notary's canonical encoder does.

    Raises:
        CanonicalJSONError: a value the canonical encoder refuses (fractional or huge number,
            non-JSON type).
    """
    out: list[bytes] = []
    _encode(value, out)
    return b"".join(out)


def _encode(value: object, out: list[bytes]) -> None:
    if value is None:
        out.append(b"null")
    elif value is True:
        out.append(b"true")
    elif value is False:
        out.append(b"false")
    elif isinstance(value, str):
        out.append(_encode_string(value))
    elif isinstance(value, int):
        out.append(_encode_integer(value))
    elif isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise CanonicalJSONError(f"number {value!r} is not an integer")
        out.append(_encode_integer(int(value)))
    elif isinstance(value, dict):
        out.append(b"{")
        for index, (key, item) in enumerate(sorted(_go_map(value).items())):
            if index:
                out.append(b",")
            out.append(_quoted(key))
            out.append(b":")
            _encode(item, out)
        out.append(b"}")
    elif isinstance(value, list):
        out.append(b"[")
        for index, item in enumerate(value):
            if index:
                out.append(b",")
            _encode(item, out)
        out.append(b"]")
    else:
        raise CanonicalJSONError(f"{type(value).__name__} is not a JSON value")


def _encode_integer(number: int) -> bytes:
    if abs(number) > _MAX_EXACT_INTEGER:
        raise CanonicalJSONError(f"integer {quote(number)} is not exactly representable as float64")
    return str(number).encode("ascii")


def _utf8(text: str) -> bytes:
    # Go's decoder turns an unpaired surrogate escape into U+FFFD before re-encoding.
    return _LONE_SURROGATE.sub("\ufffd", text).encode("utf-8")


def _go_map(value: dict[object, object]) -> dict[bytes, object]:
    """The object as Go decodes it: keys as UTF-8 after surrogate replacement, so two keys that
    differ only in lone surrogates become one, and (as for any repeated key) the last wins."""
    decoded: dict[bytes, object] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise CanonicalJSONError(f"object key {quote(key)} is not a string")
        decoded[_utf8(key)] = item
    return decoded


def _encode_string(text: str) -> bytes:
    return _quoted(_utf8(text))


def _quoted(utf8: bytes) -> bytes:
    return b'"' + utf8.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
