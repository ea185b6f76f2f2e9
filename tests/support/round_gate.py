"""Counting a client's dependent round trips: an ASGI wrapper that answers one round at a time.

``RoundGate(app)`` lets every request through to ``app`` (which may forward it to a real
registry) but holds each answer at the gate: the first ``send`` of a request waits there.
A keeper task releases every held answer at once when (1) each request that has arrived is
held, so no answer is still being made, and (2) the whole event loop is idle
(``trio.testing.wait_all_tasks_blocked``): the client has sent all it can send without another
answer. The requests of that release are one round (``rounds``); a request that arrives after
it belongs to the next.

So the number of rounds is the number of dependent round trips: a request that needs an
answer can never share that answer's round, and requests sent at once share one. The measure
can only err upwards (a request the client could have sent earlier, but did not before the
loop went idle, counts in a later round), never count a dependent step as concurrent. The
client must run in the same trio loop as the gate (kenner in-process), so that "idle"
covers its work too. Timing plays no part in the count; ``cushion_s`` only says how long the
loop must stay idle before a release.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from typing import Any

import trio
import trio.testing

from kenner.server.app import Receive, Scope, Send

AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class RoundGate:
    """The gate; see the module docstring. Serve it with ``tests.loopback.servers.serve_https``
    inside ``async with gate.releasing():``."""

    def __init__(self, app: AsgiApp, *, cushion_s: float = 0.05) -> None:
        self._app = app
        self._cushion_s = cushion_s
        #: ``METHOD path?query`` of the requests of each released round, in arrival order.
        self.rounds: list[list[str]] = []
        self._current: list[str] = []
        self._making = 0  # requests of the current round whose answer is not at the gate yet
        self._release = trio.Event()

    @asynccontextmanager
    async def releasing(self) -> AsyncIterator[RoundGate]:
        """Run the keeper that releases the rounds until the block ends."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._keep)
            try:
                yield self
            finally:
                nursery.cancel_scope.cancel()

    def reset(self) -> None:
        """Forget the rounds counted so far (between two validations)."""
        assert not self._current, "reset while a round is open"
        self.rounds.clear()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        query = scope["query_string"].decode("latin-1")
        path = scope["path"]
        self._current.append(
            f"{scope['method']} {path}?{query}" if query else f"{scope['method']} {path}"
        )
        self._making += 1
        held = False

        async def gated(message: MutableMapping[str, Any]) -> None:
            nonlocal held
            if not held:
                held = True
                release = self._release
                self._making -= 1
                await release.wait()
            await send(message)

        try:
            await self._app(scope, receive, gated)
        finally:
            if not held:  # the app failed before answering: nothing to wait for
                self._making -= 1

    async def _keep(self) -> None:
        while True:
            await trio.testing.wait_all_tasks_blocked(self._cushion_s)
            if self._current and self._making == 0:
                self.rounds.append(self._current)
                self._current = []
                self._release.set()
                self._release = trio.Event()
            else:  # nothing asked yet, or an answer still being made (e.g. by the upstream)
                await trio.sleep(self._cushion_s)
