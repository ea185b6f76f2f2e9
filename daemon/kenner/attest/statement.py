"""In-toto statements (v0.1 and v1) from the payload of a verified DSSE envelope.

Rules: the payload is UTF-8 JSON of at most ``MAX_STATEMENT_BYTES``; a key repeated in an
object, ``NaN``/``Infinity`` (or a number beyond a double, such as ``1e999``) and nesting too
deep are refused (two parsers must never read two different statements from the same
bytes). ``_type`` is one of ``STATEMENT_TYPES``; ``subject`` is a non-empty list of objects,
each with a ``digest`` object of string values; ``predicateType`` is a non-empty string;
``predicate``, when present, an object. Other fields are kept for the policy's pointers but
not interpreted.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import attrs

from kenner.attest.errors import StatementError
from kenner.quoting import json_type, quote

STATEMENT_TYPES = ("https://in-toto.io/Statement/v0.1", "https://in-toto.io/Statement/v1")
MAX_STATEMENT_BYTES = 1024 * 1024
MAX_SUBJECTS = 1024


@attrs.frozen(eq=False)
class Statement:
    """A statement whose shape was checked; ``document`` is the whole parsed JSON."""

    type: str
    predicate_type: str
    subject_digests: tuple[Mapping[str, str], ...]
    document: Mapping[str, Any]

    def names(self, digest: str) -> bool:
        """Whether a subject's digest equals ``digest`` (``algorithm:hex``), exactly."""
        algorithm, _, value = digest.partition(":")
        return any(digests.get(algorithm) == value for digests in self.subject_digests)


def parse_statement(data: bytes) -> Statement:
    """The statement in ``data``.

    Raises:
        StatementError: not an in-toto statement kenner reads.
    """
    return statement_of(strict_json(data, "the statement", MAX_STATEMENT_BYTES))


def statement_of(document: Any) -> Statement:
    """The statement in ``document``, JSON already parsed (e.g. by a bundle verifier that
    checked the envelope), shape-checked as ``parse_statement`` does.

    Raises:
        StatementError: not an in-toto statement kenner reads.
    """
    if not isinstance(document, dict):
        raise StatementError(f"the statement is {json_type(document)}, not an object")
    kind = document.get("_type")
    if kind not in STATEMENT_TYPES:
        shown = quote(kind) if kind is not None else "missing"
        raise StatementError(f"the statement's _type is {shown}, not an in-toto statement")
    predicate_type = document.get("predicateType")
    if not isinstance(predicate_type, str) or not predicate_type:
        raise StatementError("the statement's predicateType is not a non-empty string")
    if "predicate" in document and not isinstance(document["predicate"], dict):
        raise StatementError("the statement's predicate is not an object")
    subjects = document.get("subject")
    if not isinstance(subjects, list) or not subjects:
        raise StatementError("the statement's subject is not a non-empty list")
    if len(subjects) > MAX_SUBJECTS:
        raise StatementError(f"the statement has {len(subjects)} subjects; at most {MAX_SUBJECTS}")
    digests = []
    for subject in subjects:
        found = subject.get("digest") if isinstance(subject, dict) else None
        if not isinstance(found, dict) or not all(isinstance(v, str) for v in found.values()):
            raise StatementError("a subject of the statement has no digest object of strings")
        digests.append(found)
    return Statement(kind, predicate_type, tuple(digests), document)


def strict_json(data: bytes, what: str, max_bytes: int) -> Any:
    """``data`` as JSON, refusing repeated keys, non-finite numbers and deep nesting.

    Raises:
        StatementError: too large, not UTF-8, not JSON, or one of the refused forms.
    """
    if len(data) > max_bytes:
        raise StatementError(f"{what} is {len(data)} bytes; at most {max_bytes}")
    try:
        return json.loads(
            data.decode("utf-8"),
            object_pairs_hook=_unique,
            parse_constant=_refuse,
            parse_float=_finite,
        )
    except UnicodeDecodeError:
        raise StatementError(f"{what} is not UTF-8") from None
    except StatementError:
        raise
    except (ValueError, RecursionError):  # RecursionError: nested too deeply
        raise StatementError(f"{what} is not JSON") from None


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise StatementError(f"a JSON object repeats the key {quote(key)}")
        result[key] = value
    return result


def _finite(text: str) -> float:
    # json reads 1e999 as inf: a number no double holds is refused like Infinity.
    value = float(text)
    if not math.isfinite(value):
        raise StatementError(f"JSON number {quote(text)} is beyond a double")
    return value


def _refuse(constant: str) -> Any:
    raise StatementError(f"JSON has no {constant}")
