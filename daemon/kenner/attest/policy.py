"""Attestation rules and the conditions of their ``policy``, from configuration to verdict.

A condition is a JSON Pointer (``path``, into the whole in-toto statement) and exactly one
operator; all conditions of a policy must hold. Operators:

* ``equals: <scalar>`` and ``in: [<scalar>, ...]``: JSON equality (a string, number, boolean
  or null; ``true`` is not ``1``, ``1`` is ``1.0``).
* ``prefix: <string>``: the value is a string that starts with it.
* ``glob: <string>``: the whole string value matches; ``*`` matches any run of characters
  (``/`` included), ``?`` one character, everything else itself.
* ``exists: true|false``: the pointer leads to a value (``null`` included), or does not.
* ``lessThan`` / ``greaterThan``: a number (the value must be a number), or an RFC 3339
  timestamp (the value must be an RFC 3339 timestamp string); strict comparisons.
* ``maxAge: <duration>``: the value is an RFC 3339 timestamp no older than the duration at the
  verification time, and not in the future beyond ``CLOCK_SKEW``.

Any condition other than ``exists: false`` fails when the pointer leads nowhere. The clock
is the caller's: evaluation is pure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import attrs

from kenner.attest.errors import PolicyError
from kenner.attest.pointer import MISSING, parse_pointer, resolve
from kenner.attest.times import TimeFormatError, parse_duration, parse_timestamp
from kenner.quoting import clip, json_type, quote

OPERATORS = ("equals", "in", "prefix", "glob", "exists", "lessThan", "greaterThan", "maxAge")
#: A timestamp this far ahead of the verification time still passes ``maxAge``.
CLOCK_SKEW = timedelta(minutes=5)
#: Longest ``in`` list and string operand a condition may have (configuration sanity).
MAX_IN_ITEMS = 1000

Scalar = str | int | float | bool | None
Operand = Scalar | tuple[Scalar, ...] | datetime | timedelta


@dataclass(frozen=True)
class Condition:
    """One condition of a policy, checked when the configuration is loaded.

    Not an attrs class on purpose: its YAML form is not its fields (the operator's key names
    the operation), so the configuration's key walkers must not read it as a mapping of keys.
    """

    path: str  # as configured, for messages
    tokens: tuple[str, ...]
    operator: str
    operand: Operand

    def describe(self) -> str:
        """``path operator operand`` as configured, for denials."""
        return f"{self.path or '(whole statement)'} {self.operator} {_show_operand(self.operand)}"


@attrs.frozen
class AttestationRule:
    """One entry of ``with.attestations``: which attestation must exist, by whom, saying what.

    ``trust_root`` and ``threshold`` count distinct trust roots as for signatures
    (``kenner.cosign.threshold``).
    """

    predicate_type: str
    trust_root: str
    policy: tuple[Condition, ...]
    threshold: int | None = None


def parse_condition(raw: object) -> Condition:
    """A condition from its configuration value (a mapping).

    Raises:
        PolicyError: not a mapping, no or a malformed ``path``, no operator, two operators, an
            unknown key, or an operand of the wrong kind; ``key`` names the key at fault.
    """
    if not isinstance(raw, Mapping):
        raise PolicyError(f"must be a mapping with 'path' and one operator, got {json_type(raw)}")
    unknown = [key for key in raw if key != "path" and key not in OPERATORS]
    if unknown:
        key = str(unknown[0])
        raise PolicyError(
            f"unknown key {quote(key)} (expected one of path, {', '.join(OPERATORS)})", key=key
        )
    if "path" not in raw:
        raise PolicyError("missing required key 'path'")
    path = raw["path"]
    if not isinstance(path, str):
        raise PolicyError(f"must be a JSON Pointer string, got {json_type(path)}", key="path")
    try:
        tokens = parse_pointer(path)
    except PolicyError as error:
        raise PolicyError(str(error), key="path") from None
    operators = [key for key in OPERATORS if key in raw]
    if len(operators) != 1:
        given = ", ".join(operators) or "none"
        raise PolicyError(f"needs exactly one operator of {', '.join(OPERATORS)}; got {given}")
    operator = operators[0]
    try:
        operand = _operand(operator, raw[operator])
    except (PolicyError, TimeFormatError) as error:
        raise PolicyError(str(error), key=operator) from None
    return Condition(path, tokens, operator, operand)


def _operand(operator: str, value: object) -> Operand:
    if operator == "equals":
        return _scalar(value)
    if operator == "in":
        if not isinstance(value, list) or not value:
            raise PolicyError(f"must be a non-empty list, got {json_type(value)}")
        if len(value) > MAX_IN_ITEMS:
            raise PolicyError(f"holds {len(value)} items; at most {MAX_IN_ITEMS}")
        return tuple(_scalar(item) for item in value)
    if operator in ("prefix", "glob"):
        if not isinstance(value, str) or not value:
            raise PolicyError(f"must be a non-empty string, got {json_type(value)}")
        return value
    if operator == "exists":
        if not isinstance(value, bool):
            raise PolicyError(f"must be true or false, got {json_type(value)}")
        return value
    if operator == "maxAge":
        if not isinstance(value, str):
            raise PolicyError(f"must be a duration such as 30d or 12h, got {json_type(value)}")
        return parse_duration(value)
    return _bound(value)  # lessThan, greaterThan


def _scalar(value: object) -> Scalar:
    if isinstance(value, float) and not math.isfinite(value):
        raise PolicyError(f"must be a finite number, got {value}")
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise PolicyError(f"must be a string, number, boolean or null, got {json_type(value)}")


def _bound(value: object) -> float | int | datetime:
    if isinstance(value, datetime):  # YAML reads an unquoted timestamp as one
        if value.tzinfo is None:
            raise PolicyError("a timestamp needs a time zone (Z or +HH:MM)")
        return value
    if isinstance(value, str):
        return parse_timestamp(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PolicyError(f"must be a number or an RFC 3339 timestamp, got {json_type(value)}")
    if not math.isfinite(value):
        raise PolicyError(f"must be a finite number, got {value}")
    return value


def first_failure(conditions: Sequence[Condition], document: Any, now: datetime) -> str | None:
    """None when every condition holds on ``document`` (a parsed statement) at ``now``, else
    the first failing condition and why."""
    for condition in conditions:
        why = _why_not(condition, resolve(document, condition.tokens), now)
        if why is not None:
            return f"{condition.describe()}: {why}"
    return None


def _why_not(condition: Condition, value: Any, now: datetime) -> str | None:
    operator, operand = condition.operator, condition.operand
    if operator == "exists":
        found = value is not MISSING
        return None if found == operand else ("present" if found else "missing")
    if value is MISSING:
        return "missing"
    shown = f"got {_show(value)}"
    if operator == "equals":
        return None if _same(value, operand) else shown
    if operator == "in":
        assert isinstance(operand, tuple)
        return None if any(_same(value, item) for item in operand) else shown
    if operator in ("prefix", "glob"):
        assert isinstance(operand, str)
        if not isinstance(value, str):
            return shown
        holds = value.startswith(operand) if operator == "prefix" else glob_match(operand, value)
        return None if holds else shown
    if operator == "maxAge":
        assert isinstance(operand, timedelta)
        moment = _timestamp(value)
        if moment is None:
            return f"{shown}, not an RFC 3339 timestamp"
        if moment > now + CLOCK_SKEW:
            return f"{shown}, later than the verification time {now.isoformat()}"
        return None if now - moment <= operand else f"{shown}, older than {_show_operand(operand)}"
    return _compare(operator, operand, value, shown)


def _compare(operator: str, operand: Operand, value: Any, shown: str) -> str | None:
    if isinstance(operand, datetime):
        moment = _timestamp(value)
        if moment is None:
            return f"{shown}, not an RFC 3339 timestamp"
        left: Any = moment
    elif _is_number(value):
        left = value
    else:
        return f"{shown}, not a number"
    holds = left < operand if operator == "lessThan" else left > operand
    return None if holds else shown


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_timestamp(value)
    except TimeFormatError:
        return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _same(value: Any, operand: Operand) -> bool:
    """JSON equality of a statement value and a configured scalar."""
    if isinstance(value, bool) or isinstance(operand, bool):
        return isinstance(value, bool) and isinstance(operand, bool) and value is operand
    if _is_number(value) and _is_number(operand):
        return bool(value == operand)
    if value is None or operand is None:
        return value is None and operand is None
    return isinstance(value, str) and isinstance(operand, str) and value == operand


def glob_match(pattern: str, text: str) -> bool:
    """Whether all of ``text`` matches ``pattern`` (``*`` any run, ``?`` one character).

    Greedy with backtracking to the last ``*`` only: O(len(pattern) x len(text)) at worst,
    whatever the pattern (a regular expression with many ``.*`` can take exponential time).
    """
    p = t = 0
    star, resume = -1, 0
    while t < len(text):
        if p < len(pattern) and pattern[p] == "*":
            star, resume = p, t
            p += 1
        elif p < len(pattern) and pattern[p] in ("?", text[t]):
            p += 1
            t += 1
        elif star >= 0:
            p, resume = star + 1, resume + 1
            t = resume
        else:
            return False
    return all(char == "*" for char in pattern[p:])


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if _is_number(value):
        return clip(repr(value), 40)
    return quote(value)


def _show_operand(operand: Operand) -> str:
    if isinstance(operand, tuple):
        return clip("[" + ", ".join(_show(item) for item in operand) + "]")
    if isinstance(operand, datetime):
        return operand.isoformat()
    if isinstance(operand, timedelta):
        return _duration_text(operand)
    return _show(operand)


def _duration_text(duration: timedelta) -> str:
    seconds = int(duration.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
