"""A scriptable fake Notary v1 server and a validator wired to it.

``FakeNotary`` serves one repository's trust data at Notary's paths
(``/v2/<gun>/_trust/tuf/<role>.json``, versioned roots as role ``<N>.root``) and can be told,
per role, to answer with another status or to answer late. It records every role request with
the trio time it arrived, so tests can count fetches and see which ones ran concurrently.

The same object serves over real sockets (it is an ASGI app for ``serve_https``) and in memory
(``mock_transport()`` for ``kenner.net.http.Fetcher(transport=...)``), so flow tests on trio's
virtual clock and loopback tests share one definition of "what Notary answers".
"""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

import attrs
import httpx
import trio

from kenner.config.model import NotaryV1ValidatorConfig, TrustRoot
from kenner.net.auth import AuthSession
from kenner.net.cache import TtlCache
from kenner.net.http import Fetcher
from kenner.net.loader import CachedLoader
from kenner.server.app import Receive, Scope, Send, answer_lifespan
from kenner.tuf.rollback import RollbackGuard
from kenner.validators.driver import Driver, Links, NeedCache
from kenner.validators.needs import SharedVersions
from kenner.validators.network import NotaryServer, ValidatorNetwork
from kenner.validators.notaryv1 import NotaryV1Validator
from tests.unit.tuf.builder import BuiltRepository

_ROLE_PATH = re.compile(r"/v2/(?P<gun>.+)/_trust/tuf/(?P<role>.+)\.json")


@attrs.frozen
class RoleRequest:
    """One request for a role's trust data and the trio time it arrived."""

    role: str
    at: float


@attrs.define
class FakeNotary:
    """Trust data of ``gun`` by role, with scripted faults and a request log.

    Attributes:
        files: served bytes per role (``root``, ``targets/releases``, ``2.root``, ...).
        statuses: roles answered with this status (and no trust data) instead of their file.
        delays: roles answered only after this many seconds (``math.inf``: never).
        requests: every role request received, oldest first.
        declare_length: send Content-Length over sockets (False: the body arrives chunked,
            as notary-server sends large documents, so its size is known only while reading).
    """

    gun: str
    files: dict[str, bytes] = attrs.Factory(dict)
    statuses: dict[str, int] = attrs.Factory(dict)
    delays: dict[str, float] = attrs.Factory(dict)
    requests: list[RoleRequest] = attrs.Factory(list)
    declare_length: bool = True

    def publish(self, built: BuiltRepository) -> None:
        """Serve ``built`` from now on (unpublished delegations answer 404)."""
        files = dict(built.files)
        files.update({name: raw for name, raw in built.delegations.items() if raw is not None})
        files.update({f"{version}.root": raw for version, raw in built.rotation_roots.items()})
        self.files = files

    def fetches(self, role: str) -> int:
        """How many times ``role`` was requested."""
        return sum(1 for request in self.requests if request.role == role)

    def rounds(self) -> list[set[str]]:
        """The roles requested, grouped by the trio time they arrived at (one set per instant).

        Under trio's virtual clock, requests sent concurrently arrive at the same instant.
        """
        grouped: dict[float, set[str]] = {}
        for request in self.requests:
            grouped.setdefault(request.at, set()).add(request.role)
        return [grouped[at] for at in sorted(grouped)]

    async def answer(self, path: str) -> tuple[int, bytes]:
        """The status and body Notary gives for a GET of ``path``."""
        match = _ROLE_PATH.fullmatch(path)
        if match is None or match["gun"] != self.gun:
            return 404, b'{"errors":[{"code":"NOT_FOUND"}]}'
        role = match["role"]
        self.requests.append(RoleRequest(role, trio.current_time()))
        delay = self.delays.get(role, 0.0)
        if delay == math.inf:
            await trio.sleep_forever()
        await trio.sleep(delay)
        status = self.statuses.get(role)
        if status is not None:
            return status, b'{"errors":[{"code":"SCRIPTED"}]}'
        body = self.files.get(role)
        if body is None:
            return 404, b'{"errors":[{"code":"METADATA_NOT_FOUND"}]}'
        return 200, body

    def mock_transport(self) -> httpx.MockTransport:
        """An in-memory httpx transport answering every request as this server would."""

        async def handle(request: httpx.Request) -> httpx.Response:
            status, body = await self.answer(request.url.path)
            return httpx.Response(status, content=body)

        return httpx.MockTransport(handle)

    async def __call__(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        """ASGI entry point (for ``tests.loopback.servers.serve_https``)."""
        if scope["type"] == "lifespan":
            await answer_lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        status, body = await self.answer(scope["path"])
        headers = [(b"content-type", b"application/json")]
        if self.declare_length:
            headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def notary_validator(
    host: str,
    root_pem: str,
    *,
    fetcher: Fetcher,
    nursery: trio.Nursery,
    now: Callable[[], datetime] | None = None,
    fetch_s: float = 3.0,
    request_s: float = 8.0,
    cache_ttl_s: float = 300.0,
    shared_versions: Callable[[SharedVersions], Awaitable[Mapping[str, int] | None]] | None = None,
) -> Driver:
    """A validator for the Notary at ``host`` pinned to ``root_pem`` (trust root ``default``).

    Built like ``kenner.validators.build`` builds it, except that the expiry clock (``now``)
    and the cache lifetime can be chosen; failures are never cached, so every validation of a
    failing repository fetches again. ``shared_versions`` stands for the replicas' shared
    rollback memory (Redis).
    """
    config = NotaryV1ValidatorConfig(
        name="fake-notary", host=host, trust_roots=(TrustRoot("default", root_pem),)
    )
    cache: TtlCache[Any, Any] = TtlCache(ttl_s=cache_ttl_s, failure_ttl_s=0.0, max_entries=64)
    validator = (
        NotaryV1Validator(config, rollback=RollbackGuard())
        if now is None
        else NotaryV1Validator(config, rollback=RollbackGuard(), now=now)
    )
    network = ValidatorNetwork(notary=NotaryServer(host, AuthSession(fetcher)))
    loader: NeedCache = CachedLoader(cache, nursery, work_deadline_s=request_s)
    return Driver(validator, Links(network, loader, fetch_s, shared_versions))
