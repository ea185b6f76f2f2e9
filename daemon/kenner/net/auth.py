"""Registry / Notary authentication: answering ``WWW-Authenticate`` challenges.

The Docker token flow: a request is answered 401 with ``Bearer realm=...,service=...``; the
client asks the realm (with basic credentials, if it has any) for a token scoped to
``repository:<repo>:pull`` and repeats the request with ``Authorization: Bearer <token>``.
A ``Basic`` challenge is answered with the configured credentials directly.

Safety rules: credentials and tokens never appear in errors or reprs; a token realm must be
https (credentials would otherwise travel in clear text); the original request is retried
once.

Scope: ``Credentials`` belong to one server (``host[:port]``, the registry's API host or the
Notary host), and a session sends them only

* to that server itself (a ``Basic`` challenge of its own), and
* to the token realm named by a ``Bearer`` challenge that server itself answered with (any
  https host: Docker Hub's realm is ``auth.docker.io``, not the registry host).

A request for a URL on another server raises ``AuthError`` before anything is sent. A ``401``
that comes from another origin than the one asked (the registry redirected to it) is not
answered at all: its challenge is the redirect target's, and answering it would hand the
registry's login to a realm the target chose (containerd too looks credentials up by the host
that sent the challenge, never by the host first asked). The ``Authorization`` header is set on
the first request only; on a redirect httpx keeps it for the same origin (scheme, host, port)
and drops it for any other, so neither a login nor a token follows a redirect to another
host or port. Token requests are plain GETs with the same redirect rule.
 Tokens are cached per (realm, service, scope) until ``expires_in`` runs out, and the
challenge of each origin is remembered so later requests send a cached token right away.

Token requests are single-flight per (realm, service, scope): when several GETs need the same
uncached token at once (two tags of one repository, two admission requests together), the
first one asks the realm and the others wait for its answer instead of asking too. There is
no background nursery here, so the request runs in the first caller's task, under that
caller's deadline; see ``AuthSession._token`` for what the waiters do when it fails.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping
from urllib.parse import urlsplit

import attrs
import httpx
import orjson
import trio

from kenner.net.cache import Cached, Clock, TtlCache
from kenner.net.challenge import Challenge, ChallengeError, parse_challenges
from kenner.net.errors import AuthError, FetchError, display_url
from kenner.net.http import Fetcher, FetchResult, raise_for_status

DEFAULT_TOKEN_LIFETIME_S = 60.0  # the Docker token spec's default when expires_in is absent
TOKEN_RESPONSE_MAX_BYTES = 64 * 1024
# Origins whose challenge is remembered; the realm rarely changes, a stale one costs one 401.
_CHALLENGE_MEMORY_S = 3600.0

_TokenKey = tuple[str, str, str]  # (realm, service, scope)


@attrs.define
class _TokenRequest:
    """A token request in flight: ``done`` is set once it returned, failed or was cancelled."""

    done: trio.Event = attrs.Factory(trio.Event)
    token: str | None = attrs.field(default=None, repr=False)
    failure: AuthError | None = None


def _lower(text: str) -> str:
    return text.lower()


@attrs.frozen
class Credentials:
    """A username and password for one registry or Notary server (password not in repr).

    ``host`` is the ``host[:port]`` of the server they belong to (``registry-1.docker.io`` for
    Docker Hub): ``AuthSession`` sends them nowhere else but the token realm that server names.
    """

    username: str
    password: str = attrs.field(repr=False)
    host: str = attrs.field(kw_only=True, converter=_lower)

    def covers(self, url: str) -> bool:
        """Whether ``url`` is on the server these credentials belong to."""
        return _authority(url) == _authority(f"https://{self.host}")

    def basic_authorization(self) -> str:
        """The ``Authorization`` header value for HTTP basic authentication."""
        pair = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")


class AuthSession:
    """GETs through a ``Fetcher`` that answer auth challenges with ``credentials``.

    Without credentials, bearer tokens are requested anonymously (public repositories).
    """

    def __init__(
        self,
        fetcher: Fetcher,
        credentials: Credentials | None = None,
        *,
        max_cached_tokens: int = 256,
        clock: Clock = trio.current_time,
    ) -> None:
        self._fetcher = fetcher
        self._credentials = credentials
        self._tokens: TtlCache[_TokenKey, str] = TtlCache(
            ttl_s=math.inf, max_entries=max_cached_tokens, clock=clock
        )
        self._challenges: TtlCache[str, Challenge] = TtlCache(
            ttl_s=_CHALLENGE_MEMORY_S, max_entries=max_cached_tokens, clock=clock
        )
        self._token_requests: dict[_TokenKey, _TokenRequest] = {}

    async def get(
        self,
        url: str,
        *,
        repository: str,
        max_bytes: int,
        headers: Mapping[str, str] | None = None,
    ) -> FetchResult:
        """GET ``url`` (a resource of ``repository``) and return its 2xx response.

        Raises:
            AuthError: the challenge cannot be answered safely, the token request failed,
                or the server refused the answer.
            FetchError: any other failure, as ``Fetcher.get`` raises it.
        """
        if self._credentials is not None and not self._credentials.covers(url):
            raise AuthError(url, f"credentials for {self._credentials.host} are not sent here")
        origin = _origin(url)
        authorization: str | None = None
        known = self._challenges.lookup(origin)
        if isinstance(known, Cached):
            authorization = await self._answer(known.value, repository, url)
        result = await self._send(url, authorization, max_bytes, headers)
        if result.status == 401:
            _refuse_foreign_challenge(result, origin, url)
            challenge = _supported_challenge(result)
            self._challenges.put(origin, challenge)
            if authorization is not None:
                # What we sent was refused: a revoked token must not be sent again.
                self._tokens.invalidate(_token_key(challenge, repository, url))
            authorization = await self._answer(challenge, repository, url)
            result = await self._send(url, authorization, max_bytes, headers)
            if result.status == 401:
                _refuse_foreign_challenge(result, origin, url)
                raise AuthError(url, f"the server refused our {challenge.scheme} authorization")
        return raise_for_status(result)

    async def _send(
        self,
        url: str,
        authorization: str | None,
        max_bytes: int,
        headers: Mapping[str, str] | None,
    ) -> FetchResult:
        merged = dict(headers or {})
        if authorization is not None:
            merged["Authorization"] = authorization
        return await self._fetcher.get_any_status(url, max_bytes=max_bytes, headers=merged)

    async def _answer(self, challenge: Challenge, repository: str, url: str) -> str:
        if challenge.scheme == "basic":
            if self._credentials is None:
                raise AuthError(url, "the server asks for basic credentials; none are configured")
            return self._credentials.basic_authorization()
        return f"Bearer {await self._token(_token_key(challenge, repository, url), url)}"

    async def _token(self, key: _TokenKey, url: str) -> str:
        """The token for ``key``: cached, shared from a request in flight, or requested now.

        A caller that finds a request for ``key`` in flight waits for it (in its own cancel
        scope: its deadline still applies) and then:

        * uses the token it brought;
        * raises the AuthError it failed with, under its own URL: the waiter asked the same
          realm the same question with the same credentials at the same moment, so a refused
          login, a broken token response or an unreachable realm would have been its answer
          too. Asking again at once would only multiply the load on a failing token server
          and queue the waiters behind one another's failures. The failure is not cached: the
          next call asks afresh;
        * if the request ended with neither (its caller was cancelled, as when that
          admission request's deadline passed), loops: the first waiter to run finds nothing
          in flight and becomes the new requester, the others wait for it in turn. So no
          waiter fails because of another caller's deadline, and each wake-up starts at
          most one new request.
        """
        while True:
            cached = self._tokens.lookup(key)
            if isinstance(cached, Cached):
                return cached.value
            in_flight = self._token_requests.get(key)
            if in_flight is None:
                return await self._lead_token_request(key, url)
            await in_flight.done.wait()
            if in_flight.token is not None:
                return in_flight.token
            if in_flight.failure is not None:
                raise AuthError(url, in_flight.failure.reason)

    async def _lead_token_request(self, key: _TokenKey, url: str) -> str:
        request = _TokenRequest()
        self._token_requests[key] = request
        try:
            token, lifetime_s = await self._request_token(key, url)
            self._tokens.put(key, token, ttl_s=lifetime_s)
            request.token = token
            return token
        except AuthError as exc:
            request.failure = exc
            raise
        finally:
            # Also on cancellation: the waiters must wake up (and find no token or failure).
            del self._token_requests[key]
            request.done.set()

    async def _request_token(self, key: _TokenKey, url: str) -> tuple[str, float]:
        realm, service, scope = key
        params = {"scope": scope, **({"service": service} if service else {})}
        token_url = str(httpx.URL(realm).copy_merge_params(params))
        headers = {}
        if self._credentials is not None:
            headers["Authorization"] = self._credentials.basic_authorization()
        try:
            result = await self._fetcher.get(
                token_url, max_bytes=TOKEN_RESPONSE_MAX_BYTES, headers=headers
            )
        except FetchError as exc:
            # Any failure here is an auth failure: a 404 from the token endpoint must never
            # read as "the trust data does not exist".
            raise AuthError(url, f"token request to {exc.url} failed: {exc.reason}") from exc
        return _parse_token(result, url)


def _refuse_foreign_challenge(result: FetchResult, origin: str, url: str) -> None:
    """Raise if the 401 came from another origin than ``url``'s (after a redirect): that
    challenge and its realm are the redirect target's, not the server's the session is for."""
    if _origin(result.url) != origin:
        raise AuthError(
            url,
            f"redirected to {display_url(result.url)}, which asks for authentication; "
            f"credentials and tokens for {display_url(url)} are not sent there",
        )


def _supported_challenge(result: FetchResult) -> Challenge:
    header = result.header("www-authenticate")
    if header is None:
        raise AuthError(result.url, "HTTP 401 without a WWW-Authenticate challenge")
    try:
        challenges = parse_challenges(header)
    except ChallengeError as exc:
        raise AuthError(result.url, f"malformed WWW-Authenticate header: {exc}") from None
    for scheme in ("bearer", "basic"):
        for challenge in challenges:
            if challenge.scheme == scheme:
                return challenge
    offered = ", ".join(sorted({challenge.scheme for challenge in challenges})) or "none"
    raise AuthError(result.url, f"no supported authentication scheme offered ({offered})")


def _token_key(challenge: Challenge, repository: str, url: str) -> _TokenKey:
    realm = challenge.param("realm")
    if not realm:
        raise AuthError(url, "the bearer challenge names no realm")
    try:
        scheme = httpx.URL(realm).scheme
    except httpx.InvalidURL:
        raise AuthError(url, "the bearer challenge's realm is not a URL") from None
    if scheme != "https":
        raise AuthError(url, f"refusing the non-https token realm {display_url(realm)}")
    return (realm, challenge.param("service") or "", f"repository:{repository}:pull")


def _parse_token(result: FetchResult, url: str) -> tuple[str, float]:
    try:
        # orjson: a nesting cap (1024) where json.loads raises RecursionError, strict JSON.
        document = orjson.loads(result.body)
    except orjson.JSONDecodeError:
        raise AuthError(url, f"the token response from {result.url} is not JSON") from None
    token = None
    if isinstance(document, dict):
        token = document.get("token") or document.get("access_token")
    if not isinstance(token, str) or not token:
        raise AuthError(url, f"the token response from {result.url} holds no token")
    expires_in = document.get("expires_in")
    valid = isinstance(expires_in, int | float) and not isinstance(expires_in, bool)
    if valid and expires_in > 0:
        return token, float(expires_in)
    return token, DEFAULT_TOKEN_LIFETIME_S


def _origin(url: str) -> str:
    scheme, host, port = _authority(url)
    return f"{scheme}://{host}:{port}"


def _authority(url: str) -> tuple[str, str, int | None]:
    """(scheme, lower-case host, port with the scheme's default filled in) of ``url``."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1  # matches no real port
    default = {"https": 443, "http": 80}.get(parts.scheme)
    return parts.scheme, (parts.hostname or ""), port if port is not None else default
