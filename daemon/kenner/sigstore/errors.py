"""Why a bundle does not verify."""

from __future__ import annotations

from kenner.errors import KennerError

MAX_QUOTE = 200


class BundleError(KennerError, ValueError):
    """A bundle (or a part of it) is malformed or does not verify; the message says which."""


class TrustRootError(KennerError, ValueError):
    """A configured ``trusted_root.json`` is unusable."""


def quoted(value: object) -> str:
    """``repr`` of hostile input, cut to ``MAX_QUOTE`` characters."""
    text = repr(value)
    return text if len(text) <= MAX_QUOTE else text[: MAX_QUOTE - 3] + "..."
