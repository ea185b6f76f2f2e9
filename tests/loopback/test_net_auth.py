"""AuthSession against a real loopback HTTPS registry with a token endpoint on the same server."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import parse_qs

import attrs
import pytest

from kenner.net.auth import AuthSession, Credentials
from kenner.net.challenge import Challenge, ChallengeError, parse_challenges
from kenner.net.errors import AuthError, FetchError, NotFound
from kenner.net.http import Fetcher
from tests.loopback.servers import Request, Response, RoutedApp, RunningServer, serve_https

USER, PASSWORD = "robot$kenner", "s3cr3t-pa55"
BASIC = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
DATA = b'{"signed": "trust data"}'
# Scoped to the test server by session_for (its port is known only once it runs).
CREDENTIALS = Credentials(USER, PASSWORD, host="127.0.0.1")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Registry:
    """A resource at /v2/repo/data guarded by bearer tokens from /token (same server)."""

    def __init__(self, *, token_body: dict[str, object] | None = None, realm_scheme: str = "https"):
        self.token_body = token_body
        self.realm_scheme = realm_scheme
        self.require_basic = True
        self.valid_tokens: set[str] = set()
        self.app = RoutedApp({"/v2/repo/data": self.data, "/token": self.token})

    async def data(self, request: Request) -> Response:
        if request.headers.get("authorization", "").removeprefix("Bearer ") in self.valid_tokens:
            return Response(200, DATA)
        realm = f"{self.realm_scheme}://{request.headers['host']}/token"
        challenge = f'Bearer realm="{realm}",service="kenner-test",scope="repository:repo:pull"'
        return Response(401, b"", (("www-authenticate", challenge),))

    async def token(self, request: Request) -> Response:
        if self.require_basic and request.headers.get("authorization") != BASIC:
            return Response(401, b"bad credentials")
        token = f"tok-{len(self.app.requests_to('/token'))}"
        self.valid_tokens.add(token)
        body = {"token": token, "expires_in": 300} if self.token_body is None else self.token_body
        return Response(200, json.dumps(body).replace("$TOKEN", token).encode())

    def token_requests(self) -> list[Request]:
        return self.app.requests_to("/token")


@asynccontextmanager
async def session_for(
    registry: Registry, credentials: Credentials | None = CREDENTIALS
) -> AsyncIterator[tuple[AuthSession, RunningServer, FakeClock]]:
    clock = FakeClock()
    async with serve_https(registry.app) as server, Fetcher(ca_pem=server.ca_pem) as fetcher:
        if credentials is not None:
            credentials = attrs.evolve(credentials, host=host_of(server))
        yield AuthSession(fetcher, credentials, clock=clock), server, clock


def host_of(server: RunningServer) -> str:
    """The ``host:port`` of ``server``: the scope of credentials meant for it."""
    return server.base_url.removeprefix("https://")


async def get_data(session: AuthSession, server: RunningServer) -> bytes:
    result = await session.get(server.url("/v2/repo/data"), repository="repo", max_bytes=1000)
    return result.body


async def test_bearer_flow_fetches_a_token_with_basic_credentials_and_retries() -> None:
    registry = Registry()
    async with session_for(registry) as (session, server, _):
        assert await get_data(session, server) == DATA
    [token_request] = registry.token_requests()
    assert parse_qs(token_request.query) == {
        "scope": ["repository:repo:pull"],
        "service": ["kenner-test"],
    }
    assert token_request.headers["authorization"] == BASIC
    data_requests = registry.app.requests_to("/v2/repo/data")
    assert [r.headers.get("authorization") for r in data_requests] == [None, "Bearer tok-1"]


async def test_cached_token_is_sent_right_away_until_it_expires() -> None:
    registry = Registry(token_body={"token": "$TOKEN", "expires_in": 120})
    async with session_for(registry) as (session, server, clock):
        await get_data(session, server)
        clock.now += 119.9
        assert await get_data(session, server) == DATA
        assert len(registry.token_requests()) == 1
        # The second GET went out with the cached token: no second 401.
        assert len(registry.app.requests_to("/v2/repo/data")) == 3
        clock.now += 0.1
        await get_data(session, server)
    assert len(registry.token_requests()) == 2
    last = registry.app.requests_to("/v2/repo/data")[-1]
    assert last.headers["authorization"] == "Bearer tok-2"


@pytest.mark.parametrize("body", [{"access_token": "$TOKEN"}, {"token": "$TOKEN", "expires_in": 0}])
async def test_access_token_is_accepted_and_lifetime_defaults_to_60_s(
    body: dict[str, object],
) -> None:
    registry = Registry(token_body=body)
    async with session_for(registry) as (session, server, clock):
        await get_data(session, server)
        clock.now += 59.9
        await get_data(session, server)
        assert len(registry.token_requests()) == 1
        clock.now += 0.1
        await get_data(session, server)
    assert len(registry.token_requests()) == 2


async def test_a_revoked_token_is_replaced_once() -> None:
    registry = Registry()
    async with session_for(registry) as (session, server, _):
        await get_data(session, server)
        registry.valid_tokens.clear()
        assert await get_data(session, server) == DATA
    assert len(registry.token_requests()) == 2


async def test_anonymous_token_requests_carry_no_authorization() -> None:
    registry = Registry()
    registry.require_basic = False
    async with session_for(registry, credentials=None) as (session, server, _):
        assert await get_data(session, server) == DATA
    assert "authorization" not in registry.token_requests()[0].headers


async def test_an_http_realm_is_refused_without_contacting_it() -> None:
    registry = Registry(realm_scheme="http")
    async with session_for(registry) as (session, server, _):
        with pytest.raises(AuthError, match="refusing the non-https token realm http://"):
            await get_data(session, server)
    assert registry.token_requests() == []


async def test_wrong_credentials_fail_without_revealing_them() -> None:
    registry = Registry()
    wrong = attrs.evolve(CREDENTIALS, password="wrong-password")
    async with session_for(registry, wrong) as (session, server, _):
        with pytest.raises(AuthError) as caught:
            await get_data(session, server)
    message = str(caught.value)
    assert "token request to" in message
    assert "not authorised (HTTP 401)" in message
    for secret in ("wrong-password", USER, base64.b64encode(f"{USER}:wrong-password".encode())):
        assert str(secret) not in message
        assert str(secret) not in repr(caught.value)


def test_credentials_repr_hides_the_password() -> None:
    assert PASSWORD not in repr(CREDENTIALS)


async def test_a_token_the_resource_keeps_refusing_is_an_auth_error() -> None:
    registry = Registry()
    registry.valid_tokens = _NeverValid()
    async with session_for(registry) as (session, server, _):
        with pytest.raises(
            AuthError, match="the server refused our bearer authorization"
        ) as caught:
            await get_data(session, server)
    assert "tok-1" not in str(caught.value)
    assert len(registry.app.requests_to("/v2/repo/data")) == 2


class _NeverValid(set[str]):
    def __contains__(self, item: object) -> bool:
        return False


@pytest.mark.parametrize(
    ("token_route", "reason"),
    [
        (None, r"token request to .*/token failed: not found \(HTTP 404\)"),
        (Response(200, b"<html>"), "is not JSON"),
        (Response(200, b'{"expires_in": 60}'), "holds no token"),
    ],
)
async def test_token_endpoint_failures_are_auth_errors_never_not_found(
    token_route: Response | None, reason: str
) -> None:
    registry = Registry()
    if token_route is None:
        del registry.app.routes["/token"]
    else:

        async def broken(request: Request) -> Response:
            return token_route

        registry.app.routes["/token"] = broken
    async with session_for(registry) as (session, server, _):
        with pytest.raises(AuthError, match=reason) as caught:
            await get_data(session, server)
    assert not isinstance(caught.value, NotFound)


def basic_only_app() -> RoutedApp:
    async def data(request: Request) -> Response:
        if request.headers.get("authorization") == BASIC:
            return Response(200, DATA)
        return Response(401, b"", (("www-authenticate", 'Basic realm="notary"'),))

    return RoutedApp({"/v2/repo/data": data})


async def test_basic_challenge_is_answered_with_the_configured_credentials() -> None:
    app = basic_only_app()
    async with serve_https(app) as server, Fetcher(ca_pem=server.ca_pem) as fetcher:
        credentials = Credentials(USER, PASSWORD, host=host_of(server))
        session = AuthSession(fetcher, credentials, clock=FakeClock())
        assert await get_data(session, server) == DATA
        assert await get_data(session, server) == DATA
    # The second request sent the credentials right away.
    headers = [r.headers.get("authorization") for r in app.requests]
    assert headers == [None, BASIC, BASIC]


async def test_basic_challenge_without_credentials_is_an_auth_error() -> None:
    async with serve_https(basic_only_app()) as server, Fetcher(ca_pem=server.ca_pem) as fetcher:
        session = AuthSession(fetcher, None, clock=FakeClock())
        with pytest.raises(AuthError, match="asks for basic credentials; none are configured"):
            await get_data(session, server)


async def test_errors_after_authentication_keep_their_type() -> None:
    registry = Registry()
    async with session_for(registry) as (session, server, _):
        with pytest.raises(NotFound):
            await session.get(server.url("/v2/repo/other"), repository="repo", max_bytes=100)
        registry.app.routes["/v2/repo/data"] = _status(502)
        with pytest.raises(FetchError, match="unexpected HTTP status 502"):
            await get_data(session, server)


def _status(status: int):
    async def handler(request: Request) -> Response:
        return Response(status)

    return handler


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            'Bearer realm="https://auth.example/token",service="registry.example",'
            'scope="repository:a/b:pull,push"',
            [
                Challenge(
                    "bearer",
                    (
                        ("realm", "https://auth.example/token"),
                        ("service", "registry.example"),
                        ("scope", "repository:a/b:pull,push"),
                    ),
                )
            ],
        ),
        (
            'Basic realm="a \\"quoted\\" realm", charset=UTF-8, Bearer Realm = "https://x"',
            [
                Challenge("basic", (("realm", 'a "quoted" realm'), ("charset", "UTF-8"))),
                Challenge("bearer", (("realm", "https://x"),)),
            ],
        ),
        ("Negotiate abc123==, Basic", [Challenge("negotiate"), Challenge("basic")]),
    ],
)
def test_challenges_are_parsed_with_quoted_commas_and_escapes(
    header: str, expected: list[Challenge]
) -> None:
    assert list(parse_challenges(header)) == expected


@pytest.mark.parametrize("header", ['Bearer realm="unterminated', 'Bearer realm="x", "y"', "=x"])
def test_malformed_challenges_raise(header: str) -> None:
    with pytest.raises(ChallengeError):
        parse_challenges(header)
