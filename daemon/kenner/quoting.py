"""Quoting untrusted input in messages: the one place that decides how input is shown.

Rules: a string is shown as its ``repr``, cut so that the quoted text is at most
``MAX_QUOTE`` (200) characters; any other value is named by its JSON type ("an array", "a
number", ...), never rendered, so quoting costs O(1) whatever the value holds (a ``repr`` of a
list nested 900 deep raises ``RecursionError``; of a megabyte string, fills the log).
"""

from __future__ import annotations

MAX_QUOTE = 200
_ELLIPSIS = "..."


def clip(text: str, limit: int = MAX_QUOTE) -> str:
    """``text`` cut to at most ``limit`` characters, ending in "..." when it was cut."""
    if len(text) <= limit:
        return text
    return text[: limit - len(_ELLIPSIS)] + _ELLIPSIS


def quote(value: object) -> str:
    """``value`` for an error message: a clipped ``repr`` of a string, else its JSON type."""
    if isinstance(value, str):
        # Cut before repr (a huge string is never copied whole), then cut the repr, whose
        # escapes may have made it longer.
        return clip(repr(value[: MAX_QUOTE + 1]))
    return json_type(value)


def json_type(value: object) -> str:
    """The JSON type of ``value`` in words: "null", "a boolean", "an object", ..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"  # not JSON at all: only reachable from code, not input
