"""HTTPS GETs with a body cap, TLS verification always on, and errors translated once.

A ``Fetcher`` owns one ``httpx.AsyncClient`` (one connection pool) for one TLS trust
configuration: the system CAs, or a PEM CA bundle from the configuration. The client is built by
``kenner.net.clients`` with the ``REGISTRY`` policy (redirects followed, https only). httpx picks
its trio backend on its own (via sniffio). Deadlines belong to the caller (``trio.fail_after``
around a call); the httpx per-operation timeouts are only a backstop against a peer that stalls
forever.

Every failure leaves this module as a ``kenner.net.errors.FetchError`` subclass; nothing from
httpx, ssl or the socket layer leaks past it.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Mapping

import attrs
import httpx

from kenner.net.clients import (
    REGISTRY,
    HttpSettings,
    build_client,
    describe_failure,
    tls_context,
)
from kenner.net.closing import AsyncClosing
from kenner.net.errors import (
    AuthError,
    FetchError,
    HttpStatusError,
    NotFound,
    TooLarge,
    TransportError,
)

# An error response is kept only this long: it is never interpreted, and its size is not the
# caller's concern (a 404 page longer than a tiny blob's cap must still read as not found).
ERROR_BODY_BYTES = 4096


@attrs.frozen
class FetchResult:
    """One HTTP response, read completely.

    ``url`` is the final URL (after redirects); ``headers`` are (lower-cased name, value) pairs
    in the order received.
    """

    url: str
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (any case); repeated headers joined with ", "."""
        wanted = name.lower()
        values = [value for key, value in self.headers if key == wanted]
        return ", ".join(values) if values else None


def raise_for_status(result: FetchResult) -> FetchResult:
    """``result`` if its status is 2xx, else the matching ``FetchError``."""
    if 200 <= result.status < 300:
        return result
    if result.status == 404:
        raise NotFound(result.url, "not found (HTTP 404)")
    if result.status in (401, 403):
        raise AuthError(result.url, f"not authorised (HTTP {result.status})")
    raise HttpStatusError(result.url, result.status)


class Fetcher(AsyncClosing):
    """GETs over one verifying connection pool. Close it with ``aclose`` (or ``async with``)."""

    def __init__(
        self,
        *,
        ca_pem: str | None = None,
        settings: HttpSettings | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """A verifying client (``REGISTRY`` policy unless ``settings`` say otherwise);
        ``transport`` replaces the network (tests with a virtual clock serve from
        ``httpx.MockTransport``).

        Raises:
            CaBundleError: ``ca_pem`` holds no PEM certificate.
        """
        self._client = build_client(
            settings or REGISTRY, tls=tls_context(ca_pem), transport=transport
        )

    async def aclose(self) -> None:
        """Close every pooled connection."""
        await self._client.aclose()

    async def get(
        self, url: str, *, max_bytes: int, headers: Mapping[str, str] | None = None
    ) -> FetchResult:
        """GET ``url`` and return its 2xx response.

        Raises:
            NotFound: HTTP 404.
            AuthError: HTTP 401 or 403.
            HttpStatusError: any other non-2xx status.
            TooLarge: the body exceeds ``max_bytes``.
            TransportError: no usable exchange (connection, TLS verification, protocol, stall).
        """
        return raise_for_status(
            await self.get_any_status(url, max_bytes=max_bytes, headers=headers)
        )

    async def get_any_status(
        self, url: str, *, max_bytes: int, headers: Mapping[str, str] | None = None
    ) -> FetchResult:
        """GET ``url`` and return the response whatever its status (for auth challenges).

        A non-2xx body is cut to ``ERROR_BODY_BYTES``, never refused for its size.

        Raises:
            TooLarge: a 2xx body exceeds ``max_bytes``.
            TransportError: no usable exchange (connection, TLS verification, protocol, stall).
        """
        _check_url(url)
        try:
            async with self._client.stream("GET", url, headers=headers) as response:
                if 200 <= response.status_code < 300:
                    body = await _read_capped(response, url, max_bytes)
                else:  # an error page is never interpreted: its size is not the caller's cap
                    body = await _read_truncated(response, ERROR_BODY_BYTES)
                return FetchResult(
                    url=str(response.url),
                    status=response.status_code,
                    headers=tuple(
                        (name.lower(), value) for name, value in response.headers.multi_items()
                    ),
                    body=body,
                )
        except FetchError:
            raise
        except httpx.LocalProtocolError:
            # h11 quotes the offending header value, which may be a credential: drop it.
            raise TransportError(url, "the request could not be sent (invalid header)") from None
        except Exception as exc:  # httpx's stack (httpcore, h11, h2, trio, ssl) raises more
            # than httpx.HTTPError; a failed fetch denies, never allows. Ours: FetchError, above.
            raise TransportError(url, describe_failure(exc)) from exc


class Fetchers(AsyncClosing):
    """One ``Fetcher`` per distinct CA bundle, shared by everything that trusts the same CAs."""

    def __init__(
        self,
        settings: HttpSettings | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._settings = settings
        self._transport = transport
        self._by_ca_pem: dict[str | None, Fetcher] = {}
        self._lock = threading.Lock()

    def for_ca_bundle(self, ca_pem: str | None) -> Fetcher:
        """The fetcher trusting ``ca_pem`` (None: the system CAs), created on first use.

        Thread-safe: a reload builds validators in a worker thread while the event loop may
        ask for the same bundle; the lock keeps a second fetcher (never closed) from being made.
        """
        with self._lock:
            fetcher = self._by_ca_pem.get(ca_pem)
            if fetcher is None:
                fetcher = Fetcher(ca_pem=ca_pem, settings=self._settings, transport=self._transport)
                self._by_ca_pem[ca_pem] = fetcher
            return fetcher

    async def aclose(self) -> None:
        """Close every fetcher created so far."""
        fetchers, self._by_ca_pem = list(self._by_ca_pem.values()), {}
        for fetcher in fetchers:
            await fetcher.aclose()


def _check_url(url: str) -> None:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise TransportError(url, f"not a valid URL ({exc})") from None
    if parsed.scheme != "https":
        raise TransportError(url, "only https URLs are fetched (TLS verification is always on)")
    if parsed.userinfo:
        raise TransportError(url, "credentials inside URLs are refused; configure them instead")


async def _read_capped(response: httpx.Response, url: str, max_bytes: int) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise TooLarge(url, f"the body ({declared} bytes) exceeds the {max_bytes}-byte cap")
    body, complete = await _read_up_to(response, max_bytes)
    if not complete:
        raise TooLarge(url, f"the body exceeds the {max_bytes}-byte cap")
    return body


async def _read_truncated(response: httpx.Response, max_bytes: int) -> bytes:
    """At most ``max_bytes`` of the body; the rest is dropped with the connection."""
    body, _ = await _read_up_to(response, max_bytes)
    return body


async def _read_up_to(response: httpx.Response, max_bytes: int) -> tuple[bytes, bool]:
    """The body's first ``max_bytes`` and whether that is all of it (else the connection is
    dropped). Decoded bytes are counted, so a small compressed body cannot inflate past it."""
    body = bytearray()
    chunks = response.aiter_bytes()
    async for chunk in chunks:
        body += chunk
        if len(body) > max_bytes:
            await _abandon(response, chunks)
            return bytes(body[:max_bytes]), False
    return bytes(body), True


async def _abandon(response: httpx.Response, chunks: AsyncIterator[bytes]) -> None:
    # httpx 0.28 streams through a chain of async generators; leaving them suspended makes
    # trio warn when they are garbage collected (encode/httpx#3686). Closing the response
    # drops the connection, so the next read fails and that failure unwinds (and so
    # finishes) every generator in the chain. Only what is already buffered can still come.
    await response.aclose()
    try:
        async for _ in chunks:
            pass
    except Exception:  # noqa: S110 - read-after-close failure; TooLarge is raised next anyway
        pass
