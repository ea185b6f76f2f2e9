"""JSON Pointers (RFC 6901) into an in-toto statement.

Rules: ``""`` is the whole document; any other pointer starts with ``/`` and is split on it;
in each token ``~1`` is ``/`` and ``~0`` is ``~`` (in that order); any other ``~`` is malformed.
On an array a token is an index in decimal without leading zeros (``-``, past the end, names
nothing); on an object a key. A pointer that leads nowhere resolves to ``MISSING``, never to
an error: a statement without the field simply fails the condition.
"""

from __future__ import annotations

import enum
import re
from typing import Any

from kenner.attest.errors import PolicyError
from kenner.quoting import quote

_ESCAPE = re.compile(r"~(?![01])")
_INDEX = re.compile(r"0|[1-9][0-9]*", re.ASCII)


class _Missing(enum.Enum):
    MISSING = "missing"


MISSING = _Missing.MISSING
Missing = _Missing


def parse_pointer(text: str) -> tuple[str, ...]:
    """The reference tokens of ``text``.

    Raises:
        PolicyError: not a JSON Pointer (no leading ``/``, or a ``~`` not followed by 0 or 1).
    """
    if text == "":
        return ()
    if not text.startswith("/"):
        raise PolicyError(f"{quote(text)} is not a JSON Pointer: it must start with '/'")
    tokens = text[1:].split("/")
    for token in tokens:
        if _ESCAPE.search(token):
            raise PolicyError(
                f"{quote(text)} is not a JSON Pointer: '~' must be followed by 0 or 1"
            )
    return tuple(token.replace("~1", "/").replace("~0", "~") for token in tokens)


def resolve(document: Any, tokens: tuple[str, ...]) -> Any:
    """The value ``tokens`` point at in ``document`` (parsed JSON), or ``MISSING``."""
    value = document
    for token in tokens:
        if isinstance(value, dict):
            if token not in value:
                return MISSING
            value = value[token]
        elif isinstance(value, list):
            if not _INDEX.fullmatch(token) or int(token) >= len(value):
                return MISSING
            value = value[int(token)]
        else:
            return MISSING
    return value
