"""kenner's accept loop around hypercorn's per-connection protocol code (hypercorn 0.18).

Rules (issue 11 points 6 and 9; docs/serving.md):

- A connection's failure is its own. hypercorn's trio worker (``hypercorn.trio.serve``) runs
  every connection in the server's nursery, so one exception in one connection ends the whole
  server: in 0.18, DATA for an HTTP/2 stream the app already answered (an early 413) raises
  ``KeyError`` in ``H2Protocol._handle_events`` and kenner exited. Here each connection runs in
  its own task that logs and drops any ``Exception`` and closes only that connection; and
  ``_H2Protocol`` drops such DATA, so that case does not even fail the client's connection.
- At most ``server.maxConnections`` connections are open at once: the accept loop waits for a
  free slot, so further clients wait in the kernel's listen backlog and cost no descriptor.
- A connection the peer closed releases its descriptor at once. hypercorn 0.18 leaves the
  connection's keep-alive timer running after the peer is gone, so every closed connection
  kept its socket for ``keep_alive_timeout`` (5 s) more; ``_Connection`` stops the timer.
- Shutdown: the listening sockets are closed (new clients are refused), idle keep-alive
  connections are closed (HTTP/2 with a GOAWAY first), requests in flight are answered (an
  HTTP/1.1 answer then carries ``Connection: close``), and whatever is still open after
  ``grace_s`` is cancelled.

``_Connection`` and ``_H2Protocol`` subclass hypercorn 0.18 internals (``TCPServer``,
``H2Protocol``); tests/hostile/test_serving.py checks that the upstream behaviour they correct
is still there, so an upgrade that fixes it (or renames what they hook) is noticed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from contextlib import suppress
from typing import Any

import attrs
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import trio
from hypercorn.app_wrappers import ASGIWrapper
from hypercorn.config import Config as HypercornConfig
from hypercorn.events import RawData
from hypercorn.protocol import ProtocolWrapper
from hypercorn.protocol.events import Event as StreamEvent
from hypercorn.protocol.events import StreamClosed
from hypercorn.protocol.h2 import H2Protocol
from hypercorn.trio.tcp_server import TCPServer
from hypercorn.trio.worker_context import WorkerContext
from hypercorn.typing import ConnectionState
from hypercorn.utils import repr_socket_addr

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

# How long the accept loop pauses when accept() fails (out of descriptors, out of memory).
ACCEPT_RETRY_S = 0.1
# How long closing an HTTP/2 connection waits for answers' END_STREAM frames to be written.
H2_FLUSH_S = 1.0
H2_FLUSH_POLL_S = 0.005


@attrs.frozen
class ServeLimits:
    max_connections: int
    grace_s: float  # how long shutdown waits for requests in flight


class _H2Protocol(H2Protocol):
    """hypercorn's HTTP/2 protocol, dropping DATA for streams it already answered and closed.

    hypercorn 0.18 closes a stream once its answer is sent; DATA the client still sends for it
    (the rest of a body answered 413 early) raised ``KeyError`` and failed the connection with
    all its other streams. Such DATA is now dropped and given back its flow-control credit;
    once the answer's END_STREAM is out (hypercorn then forgets the stream's send buffer), the
    stream is reset with NO_ERROR, which asks the client to stop sending (RFC 9113, 8.1).
    """

    async def _handle_events(self, events: list[h2.events.Event]) -> None:
        kept = []
        for event in events:
            if isinstance(event, h2.events.DataReceived) and event.stream_id not in self.streams:
                stream_id = event.stream_id
                self.connection.acknowledge_received_data(event.flow_controlled_length, stream_id)
                if stream_id not in self.stream_buffers:
                    with suppress(h2.exceptions.StreamClosedError):
                        self.connection.reset_stream(stream_id, h2.errors.ErrorCodes.NO_ERROR)
            else:
                kept.append(event)
        await super()._handle_events(kept)

    async def stream_send(self, event: StreamEvent) -> None:
        # Shutting down, hypercorn sends GOAWAY when a stream closes, after which h2 refuses
        # the answer's END_STREAM still queued for the sender task: let that go out first.
        if isinstance(event, StreamClosed) and self.context.terminated.is_set():
            await _flushed(self, event.stream_id)
        await super().stream_send(event)


async def _flushed(protocol: H2Protocol, stream_id: int | None = None) -> None:
    """Wait (at most H2_FLUSH_S) until hypercorn's sender task has written the END_STREAM of
    ``stream_id`` (every stream when None): it then drops the stream's send buffer."""
    with trio.move_on_after(H2_FLUSH_S):
        # hypercorn signals no event when it drops a buffer: poll, briefly and boundedly.
        pending = protocol.stream_buffers
        while stream_id in pending if stream_id is not None else pending:  # noqa: ASYNC110
            await trio.sleep(H2_FLUSH_POLL_S)


class _Connection(TCPServer):
    """hypercorn's connection handler, with its 0.18 keep-alive timer stopped once reading ends.

    Reading ends when the peer closed, the connection broke or the server closed it: nothing
    is idle any more, and the timer would otherwise hold the socket open until it fires.
    """

    @property
    def protocol(self) -> ProtocolWrapper:
        return self._protocol

    @protocol.setter
    def protocol(self, wrapper: ProtocolWrapper) -> None:
        # TCPServer.run builds the ProtocolWrapper, which picks H2Protocol for ALPN "h2".
        if type(wrapper.protocol) is H2Protocol:
            wrapper.protocol.__class__ = _H2Protocol
        self._protocol = wrapper

    async def _read_data(self) -> None:
        await super()._read_data()
        await self.idle_task.stop()

    async def _initiate_server_close(self) -> None:
        # Idle timeout or shutdown. HTTP/2: hypercorn's sender task writes an answer's
        # END_STREAM after the stream counts as done, so let it finish first, then tell the
        # client with a GOAWAY that no stream was lost.
        protocol = self.protocol.protocol
        if isinstance(protocol, H2Protocol) and not protocol.closed:
            await _flushed(protocol)
            if protocol.connection.state_machine.state is not h2.connection.ConnectionState.CLOSED:
                protocol.connection.close_connection()
                await protocol.send(RawData(data=protocol.connection.data_to_send()))
        await super()._initiate_server_close()


async def serve(
    app: App,
    config: HypercornConfig,
    limits: ServeLimits,
    shutdown: trio.Event,
    *,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``app`` on ``config.bind`` (TLS when ``config`` has a certificate) until
    ``shutdown`` is set; then drain for at most ``limits.grace_s`` and return."""
    sockets = config.create_sockets()
    ssl_context = config.create_ssl_context()
    listeners: list[trio.abc.Listener[Any]] = []
    binds = []
    for sock in sockets.secure_sockets:
        sock.listen(config.backlog)
        plain = trio.SocketListener(trio.socket.from_stdlib_socket(sock))
        assert ssl_context is not None
        listeners.append(trio.SSLListener(plain, ssl_context, https_compatible=True))
        binds.append(f"https://{repr_socket_addr(sock.family, sock.getsockname())}")
    for sock in sockets.insecure_sockets:
        sock.listen(config.backlog)
        listeners.append(trio.SocketListener(trio.socket.from_stdlib_socket(sock)))
        binds.append(f"http://{repr_socket_addr(sock.family, sock.getsockname())}")
    context = WorkerContext(None)
    draining = trio.Event()
    wrapped = ASGIWrapper(closing_when_draining(app, draining))  # type: ignore[arg-type]
    slots = trio.Semaphore(limits.max_connections)
    try:
        async with trio.open_nursery() as connections:
            async with trio.open_nursery() as acceptors:
                for listener in listeners:
                    acceptors.start_soon(
                        _accept, listener, slots, connections, wrapped, config, context
                    )
                task_status.started(binds)
                await shutdown.wait()
                acceptors.cancel_scope.cancel()
            for listener in listeners:
                await listener.aclose()
            draining.set()
            await context.terminated.set()  # idle connections close; busy ones after answering
            connections.cancel_scope.deadline = trio.current_time() + limits.grace_s
    finally:
        # Cancelled from outside (not through ``shutdown``), the listeners were never closed.
        for sock in (*sockets.secure_sockets, *sockets.insecure_sockets):
            sock.close()


def closing_when_draining(app: App, draining: trio.Event) -> App:
    """``app``, with ``Connection: close`` on HTTP/1 answers once shutdown has begun."""

    async def draining_app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("http_version") == "2":
            await app(scope, receive, send)
            return

        async def send_closing(message: Message) -> None:
            if message["type"] == "http.response.start" and draining.is_set():
                headers = [*message.get("headers", []), (b"connection", b"close")]
                message = {**message, "headers": headers}
            await send(message)

        await app(scope, receive, send_closing)

    return draining_app


async def _accept(
    listener: trio.abc.Listener[Any],
    slots: trio.Semaphore,
    connections: trio.Nursery,
    app: ASGIWrapper,
    config: HypercornConfig,
    context: WorkerContext,
) -> None:
    while True:
        await slots.acquire()
        try:
            stream = await listener.accept()
        except OSError as error:  # EMFILE, ENOBUFS, ...: keep serving the open connections
            slots.release()
            log.warning("cannot accept a connection: %s", error)
            await trio.sleep(ACCEPT_RETRY_S)
            continue
        except BaseException:
            slots.release()
            raise
        connections.start_soon(_run_connection, stream, slots, app, config, context)


async def _run_connection(
    stream: Any,
    slots: trio.Semaphore,
    app: ASGIWrapper,
    config: HypercornConfig,
    context: WorkerContext,
) -> None:
    try:
        await _Connection(app, config, context, ConnectionState({}), stream).run()
    except Exception as error:  # this connection's failure is its own (module docstring)
        log.warning(
            "connection failed and was closed; other connections are unaffected",
            extra={"fields": {"error": _describe(error)}},
        )
    finally:
        await trio.aclose_forcefully(stream)
        slots.release()


def _describe(error: BaseException) -> str:
    """The innermost failure of ``error`` (trio wraps it in exception groups), <= 200 chars."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return f"{type(error).__name__}: {error}"[:200]
