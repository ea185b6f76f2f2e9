"""The typed failures of fetching something over HTTPS.

Every error names the URL (without user info, query or fragment, which may carry secrets) and
says why it failed. Callers decide what a failure means: a ``NotFound`` for trust data is "the
image is not signed", anything else is "we could not find out".
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from kenner.errors import KennerError


def display_url(url: str) -> str:
    """``url`` reduced to scheme, host, port and path: safe to put into messages and logs."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "<unparseable URL>"
    if ":" in host:  # an IPv6 literal needs its brackets back
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port is not None else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class FetchError(KennerError):
    """Fetching ``url`` failed for ``reason``."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = display_url(url)
        self.reason = reason
        super().__init__(f"{self.url}: {reason}")


class NotFound(FetchError):
    """The server answered 404: the thing does not exist there."""


class HttpStatusError(FetchError):
    """The server answered with an unexpected HTTP status."""

    def __init__(self, url: str, status: int) -> None:
        self.status = status
        super().__init__(url, f"unexpected HTTP status {status}")


class TooLarge(FetchError):
    """The response body exceeded the size the caller accepts."""


class TransportError(FetchError):
    """No usable HTTP exchange: DNS, connection, TLS verification, protocol or stall."""


class AuthError(FetchError):
    """Authentication failed or the server's challenge cannot be answered safely."""
