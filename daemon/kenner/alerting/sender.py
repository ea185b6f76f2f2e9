"""Deliver alerts: awaited for ``failIfAlertSendingFails`` receivers, queued for the rest.

Queued alerts go through a bounded memory channel to a few background workers, each send
under ``alerting.sendTimeoutSeconds``; admission latency never depends on such a receiver. A
full queue drops the alert (counted and logged). Alerts for receivers that must succeed are
sent concurrently before the answer, under the request's own deadline (set by the caller);
any failure becomes a reason to deny. Logs and metrics name a receiver by
``<event>-<index>-<template>``, never by its URL or headers, which may hold tokens.

The HTTP client is built by ``kenner.net.clients`` with the ``ALERT_WEBHOOK`` policy: https
receivers are verified against the system CAs, plain http receivers are allowed (Connaisseur's
are), redirects are not followed and no proxy comes from the environment. It is built on the
first alert, its TLS context in a worker thread: loading the system CAs takes milliseconds of
CPU and 2 MB of memory that a configuration without alerts never needs.
"""

from __future__ import annotations

import datetime
import logging
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import attrs
import httpx
import trio

from kenner.admission.decision import Decision
from kenner.admission.review import AdmissionRequest
from kenner.alerting.events import PreparedAlert, prepare_alerts
from kenner.config.alert_templates import Template, TemplateError, load_template
from kenner.config.model import AlertingConfig
from kenner.errors import KennerError
from kenner.metrics import Metrics
from kenner.net.clients import ALERT_WEBHOOK, build_client, tls_context

log = logging.getLogger(__name__)

QUEUE_SIZE = 1024
WORKERS = 4
DRAIN_S = 2.0  # at shutdown, queued alerts get this long before they are dropped


class AlertSendError(KennerError):
    """A receiver could not be reached or did not answer 2xx."""

    def __init__(self, receiver: str, reason: str) -> None:
        self.receiver = receiver
        self.reason = reason
        super().__init__(f"alert to receiver {receiver} failed: {reason}")


@attrs.frozen
class _Queued:
    alert: PreparedAlert
    deadline_s: float


class AlertSender:
    """POSTs prepared alerts with one shared HTTP client; see ``open_alert_sender``."""

    def __init__(
        self,
        new_client: Callable[[ssl.SSLContext], httpx.AsyncClient],
        queue: trio.MemorySendChannel[_Queued],
        metrics: Metrics,
    ) -> None:
        self._new_client = new_client
        self._client: httpx.AsyncClient | None = None
        self._client_made = trio.Lock()
        self._queue = queue
        self._metrics = metrics

    async def _http(self) -> httpx.AsyncClient:
        async with self._client_made:
            if self._client is None:
                tls = await trio.to_thread.run_sync(tls_context, None)
                self._client = self._new_client(tls)
            return self._client

    async def aclose(self) -> None:
        """Close the HTTP client, if an alert made one."""
        if self._client is not None:
            await self._client.aclose()

    async def send(self, alert: PreparedAlert) -> None:
        """POST one alert now (the caller sets the deadline).

        Raises:
            AlertSendError: no connection, or an answer other than 2xx.
        """
        client = await self._http()
        try:
            response = await client.post(alert.url, content=alert.body, headers=list(alert.headers))
        except httpx.HTTPError as error:
            raise AlertSendError(alert.receiver, _describe(error, alert.url)) from None
        except Exception as error:
            # httpx raises more than HTTPError for odd input (InvalidURL, UnicodeEncodeError
            # from a header, ...). An alert is a side channel: one that cannot be sent is a
            # failed alert (which denies for failIfAlertSendingFails receivers), never the end
            # of a worker task and with it the daemon. The traceback goes to the log.
            log.exception("alert could not be sent", extra={"fields": {"receiver": alert.receiver}})
            reason = f"internal error: {type(error).__name__}"
            raise AlertSendError(alert.receiver, reason) from None
        if not 200 <= response.status_code < 300:
            raise AlertSendError(alert.receiver, f"answered HTTP {response.status_code}")

    def enqueue(self, alert: PreparedAlert, deadline_s: float) -> bool:
        """Queue ``alert`` for a worker; False (counted, logged) when the queue is full."""
        try:
            self._queue.send_nowait(_Queued(alert, deadline_s))
        except (trio.WouldBlock, trio.ClosedResourceError):
            self._metrics.count_alert(alert.event, alert.receiver, "dropped")
            log.warning(
                "alert dropped: the alert queue is full",
                extra={"fields": {"receiver": alert.receiver, "queue_size": QUEUE_SIZE}},
            )
            return False
        return True

    async def send_counted(self, alert: PreparedAlert) -> None:
        """``send``, counted as sent or failed and logged; re-raises the failure."""
        try:
            await self.send(alert)
        except AlertSendError as error:
            self._fail(alert, error.reason)
            raise
        except trio.Cancelled:
            self._fail(alert, "no answer before the deadline")
            raise
        self._metrics.count_alert(alert.event, alert.receiver, "sent")

    async def _work(self, queue: trio.MemoryReceiveChannel[_Queued]) -> None:
        async with queue:
            async for queued in queue:
                with trio.move_on_after(queued.deadline_s):
                    try:
                        await self.send_counted(queued.alert)
                    except AlertSendError:
                        continue  # counted and logged; the next alert is independent

    def _fail(self, alert: PreparedAlert, reason: str) -> None:
        self._metrics.count_alert(alert.event, alert.receiver, "failed")
        log.warning(
            "alert not delivered",
            extra={
                "fields": {"receiver": alert.receiver, "host": _host(alert.url), "reason": reason}
            },
        )


@asynccontextmanager
async def open_alert_sender(
    metrics: Metrics, *, transport: httpx.AsyncBaseTransport | None = None
) -> AsyncIterator[AlertSender]:
    """A sender with its workers for the duration of the block.

    At the end, alerts still queued get ``DRAIN_S`` seconds, then are dropped.
    """
    queue_in, queue_out = trio.open_memory_channel[_Queued](QUEUE_SIZE)
    metrics.alert_queue.set_function(lambda: queue_out.statistics().current_buffer_used)
    sender = AlertSender(
        lambda tls: build_client(ALERT_WEBHOOK, tls=tls, transport=transport), queue_in, metrics
    )
    try:
        async with trio.open_nursery() as nursery:
            async with queue_out:
                for _ in range(WORKERS):
                    nursery.start_soon(sender._work, queue_out.clone())
            try:
                yield sender
            finally:
                queue_in.close()  # the workers finish once the queue is empty
                nursery.cancel_scope.deadline = trio.current_time() + DRAIN_S
    finally:
        with trio.CancelScope(shield=True):
            await sender.aclose()


class AlertDispatcher:
    """Turns decisions into alerts; holds the loaded templates of the current configuration."""

    def __init__(self, sender: AlertSender, *, pod_id: str) -> None:
        self._sender = sender
        self._pod_id = pod_id
        self._templates_for: AlertingConfig | None = None
        self._templates: dict[str, Template] = {}

    async def dispatch(
        self,
        request: AdmissionRequest,
        decision: Decision,
        alerting: AlertingConfig,
        deadline: float,
    ) -> str | None:
        """Send the alerts for ``decision``: queue the optional ones, await the others until
        ``deadline`` (trio time: the request's).

        Returns why a receiver that must succeed failed (the request is then denied), or None.
        """
        if not alerting.admit_request.receivers and not alerting.reject_request.receivers:
            return None  # the default: nothing to render, on every request
        try:
            alerts = prepare_alerts(
                request,
                decision,
                alerting,
                template=lambda name: self._template(name, alerting),
                pod_id=self._pod_id,
                now=datetime.datetime.now(datetime.UTC),
            )
        except TemplateError as error:
            log.error("alerts not sent: %s", error)
            must = alerting.admit_request.receivers + alerting.reject_request.receivers
            if any(receiver.fail_if_alert_sending_fails for receiver in must):
                return f"alert not rendered: {error}"
            return None
        for alert in alerts:
            if not alert.must_succeed:
                self._sender.enqueue(alert, alerting.send_timeout_s)
        return await self._send_required([a for a in alerts if a.must_succeed], deadline)

    async def _send_required(self, alerts: list[PreparedAlert], deadline: float) -> str | None:
        if not alerts:
            return None
        failures: dict[str, str] = {}

        async def send(alert: PreparedAlert) -> None:
            failures[alert.receiver] = "no answer before the request deadline"
            try:
                await self._sender.send_counted(alert)
            except AlertSendError as error:
                failures[alert.receiver] = error.reason
                return
            del failures[alert.receiver]

        with trio.move_on_at(deadline):
            async with trio.open_nursery() as nursery:
                for alert in alerts:
                    nursery.start_soon(send, alert)
        if not failures:
            return None
        return "; ".join(
            f"alert to receiver {name} failed: {reason}"
            for name, reason in sorted(failures.items())
        )

    def _template(self, name: str, alerting: AlertingConfig) -> Template:
        # Templates are read once per configuration: a reload reads them again.
        if self._templates_for is not alerting:
            self._templates_for, self._templates = alerting, {}
        if name not in self._templates:
            self._templates[name] = load_template(name, alerting.template_dir)
        return self._templates[name]


def _host(url: str) -> str:
    return urlsplit(url).hostname or "?"


def _describe(error: httpx.HTTPError, url: str) -> str:
    text = str(error)
    detail = f": {text}" if text and url not in text else ""
    return f"{type(error).__name__}{detail} (host {_host(url)})"
