"""AuthSession's single-flight token requests against a real loopback registry and token server.

Real sockets rule out trio's autojumping virtual clock (it would fire httpx's and hypercorn's
timeouts while bytes are in transit), so these tests order events instead of timing them: the
token endpoint can hold a request until the test releases it, and the test waits for requests
to arrive. Every test is bounded by ``trio.fail_after`` (real seconds), so a waiter that hangs
fails the test instead of stalling the run.

Most tests first GET another repository, so the session remembers the origin's challenge:
later GETs then ask for their token before any network I/O, which makes "who requests, who
waits" deterministic (a caller joins the request in flight in its first scheduling step).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import parse_qs

import attrs
import pytest
import trio
import trio.testing

from kenner.net.auth import AuthSession, Credentials
from kenner.net.errors import AuthError
from kenner.net.http import Fetcher
from tests.loopback.servers import Request, Response, RoutedApp, RunningServer, serve_https
from tests.support.token_server import TokenServer

SERVICE = "registry.kenner.test"
USER, PASSWORD = "robot$kenner", "pa55-for-tokens"
DATA = b"manifest bytes"
REPOSITORIES = ("warmup/repo", "team/app", "team/other")
TAGS = ("v1", "v2", "v3")
BOUND_S = 10.0


class GatedTokens:
    """The token server's ``/token`` behind a gate the test controls.

    Attributes:
        hold: while True, requests wait for ``release`` before they are answered.
        release: opens the gate for every held request.
        hang_next: this many next requests are never answered.
        fail_next: statuses the next requests are answered with instead of a token.
        issued: every token handed out (the registry accepts exactly these).
        requests: every request received, oldest first.
    """

    def __init__(self) -> None:
        self.server = TokenServer("kenner-test-issuer", SERVICE, users={USER: PASSWORD})
        self.hold = False
        self.release = trio.Event()
        self.hang_next = 0
        self.fail_next: list[int] = []
        self.issued: set[str] = set()
        self.requests: list[Request] = []
        self._arrival = trio.Event()

    async def handler(self, request: Request) -> Response:
        self.requests.append(request)
        self._arrival.set()
        self._arrival = trio.Event()
        if self.hang_next:
            self.hang_next -= 1
            await trio.sleep_forever()
        if self.hold:
            await self.release.wait()
        if self.fail_next:
            return Response(self.fail_next.pop(0), b"token service unavailable")
        response = await self.server.handler(request)
        if response.status == 200:
            self.issued.add(json.loads(response.body)["token"])
        return response

    async def wait_for_requests(self, count: int) -> None:
        """Return once ``count`` token requests have arrived in total."""
        while len(self.requests) < count:
            await self._arrival.wait()

    def scopes(self) -> list[str]:
        """The scope each token request asked for, oldest first."""
        return [parse_qs(request.query)["scope"][0] for request in self.requests]


@attrs.frozen
class Served:
    """The running registry, its token gate and a session that talks to it."""

    server: RunningServer
    tokens: GatedTokens
    session: AuthSession

    def url(self, repository: str, tag: str = "v1") -> str:
        return self.server.url(f"/v2/{repository}/manifests/{tag}")

    async def get(self, repository: str, tag: str = "v1") -> bytes:
        result = await self.session.get(
            self.url(repository, tag), repository=repository, max_bytes=1000
        )
        return result.body


def registry_app(tokens: GatedTokens) -> RoutedApp:
    """Manifests of ``REPOSITORIES`` for holders of an issued token; ``/token`` issues them."""

    async def manifest(request: Request) -> Response:
        if request.headers.get("authorization", "").removeprefix("Bearer ") in tokens.issued:
            return Response(200, DATA)
        realm = f"https://{request.headers['host']}/token"
        challenge = f'Bearer realm="{realm}",service="{SERVICE}"'
        return Response(401, b"", (("www-authenticate", challenge),))

    routes = {
        f"/v2/{repository}/manifests/{tag}": manifest for repository in REPOSITORIES for tag in TAGS
    }
    return RoutedApp({**routes, "/token": tokens.handler})


@asynccontextmanager
async def served(*, warm: bool = True) -> AsyncIterator[Served]:
    """A registry with a gated token server; ``warm``: the origin's challenge is known."""
    tokens = GatedTokens()
    async with (
        serve_https(registry_app(tokens)) as server,
        Fetcher(ca_pem=server.ca_pem) as fetcher,
    ):
        credentials = Credentials(USER, PASSWORD, host=server.base_url.removeprefix("https://"))
        ready = Served(server, tokens, AuthSession(fetcher, credentials))
        if warm:
            assert await ready.get("warmup/repo") == DATA
        yield ready


def requested_scopes(registry: Served) -> list[str]:
    """The scopes of the token requests after the warm-up, oldest first."""
    return [scope for scope in registry.tokens.scopes() if scope != "repository:warmup/repo:pull"]


@pytest.mark.parametrize("callers", [2, 20])
async def test_concurrent_gets_of_one_repository_share_one_token_request(callers: int) -> None:
    with trio.fail_after(BOUND_S):
        async with served() as registry:
            bodies: list[bytes] = []

            async def get(tag: str) -> None:
                bodies.append(await registry.get("team/app", tag))

            async with trio.open_nursery() as nursery:
                for index in range(callers):
                    nursery.start_soon(get, TAGS[index % len(TAGS)])
    assert bodies == [DATA] * callers
    assert requested_scopes(registry) == ["repository:team/app:pull"]


async def test_cold_concurrent_gets_still_end_with_one_cached_token() -> None:
    # With nothing known about the origin, each GET meets its 401 on its own, so how many of
    # them overlap the token request depends on the network; afterwards the token is cached.
    with trio.fail_after(BOUND_S):
        async with served(warm=False) as registry:
            async with trio.open_nursery() as nursery:
                for tag in TAGS:
                    nursery.start_soon(registry.get, "team/app", tag)
            requested = len(registry.tokens.requests)
            assert await registry.get("team/app", "v1") == DATA
    assert 1 <= requested <= len(TAGS)
    assert len(registry.tokens.requests) == requested


async def test_different_repositories_request_their_tokens_concurrently() -> None:
    with trio.fail_after(BOUND_S):
        async with served() as registry:
            registry.tokens.hold = True
            async with trio.open_nursery() as nursery:
                for repository in ("team/app", "team/other"):
                    for tag in TAGS:
                        nursery.start_soon(registry.get, repository, tag)
                # Both requests are in flight at once: neither key waits for the other.
                await registry.tokens.wait_for_requests(3)
                registry.tokens.release.set()
    assert sorted(requested_scopes(registry)) == [
        "repository:team/app:pull",
        "repository:team/other:pull",
    ]


async def test_a_waiter_requests_the_token_itself_when_the_requester_is_cancelled() -> None:
    with trio.fail_after(BOUND_S):
        async with served() as registry:
            registry.tokens.hang_next = 1
            bodies: list[bytes] = []

            async def waiter(tag: str) -> None:
                bodies.append(await registry.get("team/app", tag))

            requester_scope = trio.CancelScope()

            async def requester() -> None:
                with requester_scope:
                    await registry.get("team/app", "v1")

            async with trio.open_nursery() as nursery:
                nursery.start_soon(requester)
                await registry.tokens.wait_for_requests(2)
                nursery.start_soon(waiter, "v2")
                nursery.start_soon(waiter, "v3")
                await trio.testing.wait_all_tasks_blocked()
                # The requester's admission deadline passes while its token request hangs.
                requester_scope.cancel()
        assert requester_scope.cancelled_caught
    assert bodies == [DATA, DATA]
    assert requested_scopes(registry) == ["repository:team/app:pull"] * 2


async def test_a_failed_token_request_fails_its_waiters_with_their_own_urls() -> None:
    with trio.fail_after(BOUND_S):
        async with served() as registry:
            registry.tokens.hold = True
            registry.tokens.fail_next = [503]
            failures: dict[str, AuthError] = {}

            async def get(tag: str) -> None:
                try:
                    await registry.get("team/app", tag)
                except AuthError as exc:
                    failures[tag] = exc

            async with trio.open_nursery() as nursery:
                nursery.start_soon(get, "v1")
                await registry.tokens.wait_for_requests(2)
                nursery.start_soon(get, "v2")
                nursery.start_soon(get, "v3")
                await trio.testing.wait_all_tasks_blocked()
                registry.tokens.release.set()
            assert requested_scopes(registry) == ["repository:team/app:pull"]
            # The failure is shared with those who waited, not remembered for later calls.
            assert await registry.get("team/app", "v1") == DATA
    assert requested_scopes(registry) == ["repository:team/app:pull"] * 2
    token_url = registry.server.url("/token")
    for tag in TAGS:
        assert str(failures[tag]) == (
            f"{registry.url('team/app', tag)}: token request to {token_url} failed: "
            "unexpected HTTP status 503"
        )
        assert PASSWORD not in repr(failures[tag])


async def test_a_waiter_giving_up_leaves_the_token_request_to_finish() -> None:
    with trio.fail_after(BOUND_S):
        async with served() as registry:
            registry.tokens.hold = True
            bodies: list[bytes] = []

            async def requester() -> None:
                bodies.append(await registry.get("team/app", "v1"))

            async with trio.open_nursery() as nursery:
                nursery.start_soon(requester)
                await registry.tokens.wait_for_requests(2)
                # The held request outlasts this waiter's deadline.
                with trio.move_on_after(0.05) as impatient:
                    await registry.get("team/app", "v2")
                registry.tokens.release.set()
            assert impatient.cancelled_caught
            assert await registry.get("team/app", "v3") == DATA
    assert bodies == [DATA]
    assert requested_scopes(registry) == ["repository:team/app:pull"]
