"""Alerts to real receivers on loopback HTTPS: queued ones never slow an answer; receivers that
must succeed are awaited within the request deadline and deny when they fail (slow, 500,
hanging, unreachable); queue overflow is counted; no URL token or header value is logged."""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator

import attrs
import httpx
import pytest
import trio
import trio.testing
import trustme

from kenner.alerting.events import PreparedAlert
from kenner.alerting.sender import QUEUE_SIZE, WORKERS, AlertDispatcher, open_alert_sender
from kenner.app.pipeline import answer_review
from kenner.app.state import Snapshot
from kenner.config.model import (
    AlertEvent,
    AlertingConfig,
    AlertReceiver,
    Config,
    Features,
    Rule,
    StaticValidatorConfig,
)
from kenner.metrics import Metrics
from kenner.validators.driver import Driver
from kenner.validators.static import StaticValidator
from tests.loopback.servers import Request, Response, RoutedApp, RunningServer, respond, serve_https
from tests.support.reviews import as_bytes, pod_review

SECRET = "s3cr3t-token"


async def _slow(request: Request) -> Response:
    await trio.sleep(0.3)
    return Response(200)


async def _hang(request: Request) -> Response:
    await trio.sleep_forever()
    raise AssertionError("unreachable")


def _receivers_app() -> RoutedApp:
    return RoutedApp(
        {
            f"/ok/{SECRET}": respond(200),
            "/slow": _slow,
            "/fail": respond(500, b"broken"),
            "/hang": _hang,
        }
    )


@pytest.fixture
async def receivers() -> AsyncIterator[tuple[RoutedApp, RunningServer]]:
    app = _receivers_app()
    async with serve_https(app, ca=trustme.CA()) as server:
        yield app, server


def _transport(server: RunningServer) -> httpx.AsyncHTTPTransport:
    context = ssl.create_default_context(cadata=server.ca_pem)
    return httpx.AsyncHTTPTransport(verify=context)


def _receiver(server: RunningServer, path: str, *, must: bool = False) -> AlertReceiver:
    return AlertReceiver(
        template="slack",
        receiver_url=server.url(path),
        priority=2,
        custom_headers=(f"Authorization: Bearer {SECRET}",),
        payload_fields={"channel": "#alerts"},
        fail_if_alert_sending_fails=must,
    )


def _config(alerting: AlertingConfig, *, detection: bool = False) -> Config:
    return Config(
        validators=(StaticValidatorConfig("allow", True), StaticValidatorConfig("deny", False)),
        policy=(Rule("registry.k8s.io/*:*", "allow"), Rule("docker.io/*:*", "deny")),
        features=Features(detection_mode=detection),
        alerting=alerting,
    )


def _snapshot(config: Config) -> Snapshot:
    validators = {
        v.name: Driver(StaticValidator(v))
        for v in config.validators
        if isinstance(v, StaticValidatorConfig)
    }
    return Snapshot(config, validators)


def _body(uid: str, image: str) -> bytes:
    return as_bytes(pod_review(image, uid=uid, namespace="team", container_name=None))


def _count(metrics: Metrics, receiver: str, outcome: str) -> float:
    labels = {"event": "admit", "receiver": receiver, "outcome": outcome}
    return metrics.registry.get_sample_value("kenner_alerts_total", labels) or 0.0


def _alert(url: str, headers: tuple[tuple[str, str], ...] = ()) -> PreparedAlert:
    """An optional admit alert of receiver ``admit-0-slack`` posting ``{}`` to ``url``."""
    return PreparedAlert(
        receiver="admit-0-slack",
        event="admit",
        must_succeed=False,
        url=url,
        headers=headers,
        body=b"{}",
    )


async def test_queued_alerts_do_not_delay_the_answer(
    receivers: tuple[RoutedApp, RunningServer], caplog: pytest.LogCaptureFixture
) -> None:
    app, server = receivers
    paths = [f"/ok/{SECRET}", "/slow", "/fail", "/hang"]
    alerting = AlertingConfig(
        cluster_identifier="test-cluster",
        admit_request=AlertEvent(tuple(_receiver(server, path) for path in paths)),
        send_timeout_s=0.5,
    )
    metrics = Metrics()
    async with open_alert_sender(metrics, transport=_transport(server)) as sender:
        dispatcher = AlertDispatcher(sender, pod_id="kenner-0")
        started = trio.current_time()
        _, decision = await answer_review(
            _body("u-1", "registry.k8s.io/pause:3.9"),
            _snapshot(_config(alerting)),
            metrics=metrics,
            alerts=dispatcher,
        )
        assert trio.current_time() - started < 0.2
        assert decision.response.allowed
    # Leaving the block waited for the sends in flight (each under sendTimeoutSeconds).
    assert _count(metrics, "admit-3-slack", "failed") == 1
    assert _count(metrics, "admit-0-slack", "sent") == 1
    assert _count(metrics, "admit-1-slack", "sent") == 1
    assert _count(metrics, "admit-2-slack", "failed") == 1
    (ok,) = app.requests_to(f"/ok/{SECRET}")
    assert ok.method == "POST"
    assert ok.headers["content-type"] == "application/json"
    assert ok.headers["authorization"] == f"Bearer {SECRET}"
    payload = json.loads(ok.body)
    assert payload["channel"] == "#alerts"
    text = payload["blocks"][1]["text"]["text"]
    assert "*CONNAISSEUR admitted a request*" in text
    assert "test-cluster" in text
    assert "u-1" in text
    assert "['registry.k8s.io/pause:3.9']" in text
    assert len(app.requests_to("/hang")) == 1
    logged = "\n".join(record.getMessage() + str(record.__dict__) for record in caplog.records)
    assert "answered HTTP 500" in logged
    assert SECRET not in logged


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/fail", "answered HTTP 500"),
        ("/hang", "no answer before the request deadline"),
    ],
)
async def test_failing_required_receiver_denies_even_in_detection_mode(
    receivers: tuple[RoutedApp, RunningServer], path: str, reason: str
) -> None:
    _, server = receivers
    alerting = AlertingConfig(reject_request=AlertEvent((_receiver(server, path, must=True),)))
    config = _config(alerting, detection=True)
    config = Config(
        validators=config.validators,
        policy=config.policy,
        features=config.features,
        alerting=alerting,
        deadlines=type(config.deadlines)(request_s=0.5, fetch_s=0.1),
    )
    metrics = Metrics()
    async with open_alert_sender(metrics, transport=_transport(server)) as sender:
        started = trio.current_time()
        _, decision = await answer_review(
            _body("u-2", "docker.io/library/nginx:1"),
            _snapshot(config),
            metrics=metrics,
            alerts=AlertDispatcher(sender, pod_id="kenner-0"),
        )
        assert trio.current_time() - started < 0.9  # within the request deadline (0.5 s)
    assert not decision.response.allowed
    assert decision.response.message == (
        f"kenner denied the request: alert to receiver reject-0-slack failed: {reason}"
    )
    labels = {"event": "reject", "receiver": "reject-0-slack", "outcome": "failed"}
    assert metrics.registry.get_sample_value("kenner_alerts_total", labels) == 1


async def test_required_receivers_that_answer_let_the_decision_stand(
    receivers: tuple[RoutedApp, RunningServer],
) -> None:
    app, server = receivers
    alerting = AlertingConfig(
        admit_request=AlertEvent(
            (_receiver(server, "/slow", must=True), _receiver(server, f"/ok/{SECRET}", must=True))
        )
    )
    async with open_alert_sender(Metrics(), transport=_transport(server)) as sender:
        started = trio.current_time()
        _, decision = await answer_review(
            _body("u-3", "registry.k8s.io/pause:3.9"),
            _snapshot(_config(alerting)),
            alerts=AlertDispatcher(sender, pod_id="kenner-0"),
        )
        elapsed = trio.current_time() - started
    assert decision.response.allowed
    assert 0.3 <= elapsed < 0.6  # both awaited, concurrently
    assert len(app.requests_to("/slow")) == 1


async def test_unreachable_required_receiver_names_the_host_only() -> None:
    with trio.socket.socket() as probe:
        await probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    receiver = AlertReceiver(
        "keybase", f"http://127.0.0.1:{port}/{SECRET}", fail_if_alert_sending_fails=True
    )
    alerting = AlertingConfig(admit_request=AlertEvent((receiver,)))
    async with open_alert_sender(Metrics()) as sender:
        _, decision = await answer_review(
            _body("u-4", "registry.k8s.io/pause:3.9"),
            _snapshot(_config(alerting)),
            alerts=AlertDispatcher(sender, pod_id="kenner-0"),
        )
    assert not decision.response.allowed
    assert "alert to receiver admit-0-keybase failed: ConnectError" in decision.response.message
    assert "(host 127.0.0.1)" in decision.response.message
    assert SECRET not in decision.response.message


async def test_a_full_queue_drops_and_counts(receivers: tuple[RoutedApp, RunningServer]) -> None:
    _, server = receivers
    metrics = Metrics()
    alert = _alert(server.url("/hang"))
    extra = 10
    async with open_alert_sender(metrics, transport=_transport(server)) as sender:
        await trio.testing.wait_all_tasks_blocked()  # every worker waits for an alert
        # enqueue never yields: the workers take one each, the queue holds QUEUE_SIZE.
        accepted = [sender.enqueue(alert, 0.2) for _ in range(QUEUE_SIZE + extra)]
        assert accepted.count(False) == extra - WORKERS
        assert metrics.registry.get_sample_value("kenner_alert_queue_length") == QUEUE_SIZE
    assert _count(metrics, "admit-0-slack", "dropped") == extra - WORKERS


async def test_an_alert_httpx_cannot_encode_fails_without_ending_the_workers(
    receivers: tuple[RoutedApp, RunningServer],
) -> None:
    """A header httpx cannot encode (UnicodeEncodeError, not an httpx.HTTPError) once ended
    a worker and with it the daemon; now it is one failed alert and the next one is sent."""
    _, server = receivers
    metrics = Metrics()
    broken = _alert(server.url(f"/ok/{SECRET}"), headers=(("X-Token", "caf\u00e9\u2603"),))
    good = attrs.evolve(broken, receiver="admit-1-slack", headers=())
    async with open_alert_sender(metrics, transport=_transport(server)) as sender:
        for _ in range(WORKERS + 1):  # more than every worker: each survives its failure
            assert sender.enqueue(broken, 1.0)
        assert sender.enqueue(good, 1.0)
    assert _count(metrics, "admit-0-slack", "failed") == WORKERS + 1
    assert _count(metrics, "admit-1-slack", "sent") == 1
