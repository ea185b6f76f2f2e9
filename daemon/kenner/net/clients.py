"""Every ``httpx.AsyncClient`` kenner opens is built here, from the policy of its remote kind.

The kinds are ``REGISTRY`` (registries, Notary servers and the token realms they name: one
``kenner.net.http.Fetcher`` per CA bundle), ``KUBE_API`` (``kenner.kube.client``) and
``ALERT_WEBHOOK`` (``kenner.alerting.sender``). Rules that hold for all of them:

* TLS verification is always on: servers are verified against the system CAs, or against
  exactly the configured PEM bundle (``tls_context``), with host names checked (the
  Kubernetes client adds its kubeconfig's client certificate to that context).
* httpx reads nothing from the environment (``trust_env=False``): no proxy variables; a proxy
  would be configuration, not ambient state. "The system CAs" are OpenSSL's default paths.
* HTTP/1.1 only (``http2=False``): kenner reads small objects, one per request.
* Timeouts are a backstop against a peer that stalls forever; the callers own the real
  deadlines (``trio.fail_after`` / ``move_on_at`` around a call).
* Redirects: registry reads follow at most ``max_redirects``, and never to plain http (a
  request hook refuses it, redirects included); the Kubernetes API and alert webhooks are not
  followed at all. Alert receivers may be plain ``http://`` URLs (Connaisseur's receivers
  are); the other kinds are https only.
* Requests say ``User-Agent: kenner/<version>``.

``describe_failure`` words a failed exchange the same way for every kind (a stall, a TLS
verification failure, a refused connection), so errors name the reason and nothing of httpx.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping

import attrs
import httpx

from kenner import __version__
from kenner.errors import KennerError
from kenner.net.errors import TransportError


class CaBundleError(KennerError, ValueError):
    """A configured CA bundle cannot be used to verify servers."""


@attrs.frozen
class HttpSettings:
    """The client knobs of one remote kind."""

    stall_timeout_s: float = 30.0  # per connect/read/write/pool wait; callers own real deadlines
    max_connections: int = 32
    max_keepalive_connections: int = 32
    max_redirects: int = 5  # 0: a redirect is answered as it is, not followed
    https_only: bool = True


REGISTRY = HttpSettings()
KUBE_API = HttpSettings(max_connections=100, max_keepalive_connections=20, max_redirects=0)
ALERT_WEBHOOK = HttpSettings(
    stall_timeout_s=5.0,
    max_connections=100,
    max_keepalive_connections=20,
    max_redirects=0,
    https_only=False,
)


def tls_context(ca_pem: str | None) -> ssl.SSLContext:
    """A verifying client context: system CAs, or only the CAs in ``ca_pem``.

    Raises:
        CaBundleError: ``ca_pem`` holds no PEM certificate.
    """
    if ca_pem is None:
        return ssl.create_default_context()
    # Not create_default_context(cadata=...): it quietly falls back to the system CAs when
    # the bundle is empty. This context trusts exactly the bundle, and verifies host names.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_verify_locations(cadata=ca_pem)
    except (ssl.SSLError, ValueError, TypeError) as exc:  # TypeError: a non-ASCII str
        raise CaBundleError(f"the CA bundle is not usable PEM: {exc}") from exc
    return context


def build_client(
    settings: HttpSettings,
    *,
    tls: ssl.SSLContext,
    transport: httpx.AsyncBaseTransport | None = None,
    base_url: str = "",
    headers: Mapping[str, str] | None = None,
) -> httpx.AsyncClient:
    """A client for one remote kind, verifying servers with ``tls`` (from ``tls_context``).

    ``transport`` replaces the network (tests: ``httpx.MockTransport`` on a virtual clock, or
    a transport trusting a test CA); ``headers`` are added to the User-Agent.
    """
    hooks = {"request": [_refuse_plain_http]} if settings.https_only else {}
    return httpx.AsyncClient(
        verify=tls,
        transport=transport,
        base_url=base_url,
        http1=True,
        http2=False,
        timeout=httpx.Timeout(settings.stall_timeout_s),
        limits=httpx.Limits(
            max_connections=settings.max_connections,
            max_keepalive_connections=settings.max_keepalive_connections,
        ),
        headers={"User-Agent": f"kenner/{__version__}", **(headers or {})},
        follow_redirects=settings.max_redirects > 0,
        max_redirects=settings.max_redirects,
        trust_env=False,
        event_hooks=hooks,
    )


async def _refuse_plain_http(request: httpx.Request) -> None:
    # Runs for every request including redirects, so a redirect cannot downgrade to plain HTTP.
    if request.url.scheme != "https":
        raise TransportError(str(request.url), "refusing to follow a redirect to plain http")


_STALLS: dict[type[Exception], str] = {
    httpx.ConnectTimeout: "connecting stalled",
    httpx.ReadTimeout: "reading stalled",
    httpx.WriteTimeout: "writing stalled",
    httpx.PoolTimeout: "waiting for a pooled connection stalled",
}


def describe_failure(exc: Exception) -> str:
    """Why an exchange failed, in words: the stall, the certificate's verification message, the
    connection failure, or the exception's type and message."""
    for kind, words in _STALLS.items():
        if isinstance(exc, kind):
            return f"{words} past the backstop timeout"
    if isinstance(exc, httpx.TooManyRedirects):
        return "too many redirects"
    chain = _cause_chain(exc)
    for cause in chain:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS verification failed: {cause.verify_message}"
    root = chain[-1]
    detail = str(exc) or str(root) or type(root).__name__
    if isinstance(exc, httpx.ConnectError):
        return f"could not connect: {detail}"
    return f"{type(exc).__name__}: {detail}"


def _cause_chain(exc: BaseException) -> list[BaseException]:
    # httpx wraps httpcore wraps trio wraps ssl, often with empty messages on the way down.
    chain = [exc]
    while True:
        inner = chain[-1].__cause__ or chain[-1].__context__
        if inner is None or any(inner is seen for seen in chain):
            return chain
        chain.append(inner)
