"""The watchdog against a fake Kubernetes API and a fake Notary health endpoint, over real TLS.

Readiness follows the cluster: a deleted webhook configuration makes kenner not ready within two
intervals and a re-created one ready again; the bootstrap sentinel counts only inside the window
and with its label; a Notary that stops answering its health endpoint, or an API that goes
away, makes kenner not ready without stopping the watchdog.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import attrs
import pytest
import trio
import trustme
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from kenner.app.state import DaemonState, Snapshot
from kenner.config.load import default_config
from kenner.config.model import (
    Config,
    KubernetesConfig,
    NotaryV1ValidatorConfig,
    SentinelConfig,
    TrustRoot,
    WatchdogConfig,
    WebhookConfig,
)
from kenner.kube.access import resolve_access
from kenner.kube.client import KubeClient
from kenner.net.http import Fetchers
from kenner.sdnotify import Notifier
from kenner.watchdog import Probes, readiness_summary, run_watchdog
from tests.loopback.servers import Request, Response, RoutedApp, RunningServer, serve_https
from tests.support.fake_kube import (
    WEBHOOKS,
    FakeKubeApi,
    pod,
    webhook_configuration,
    write_kubeconfig,
)

INTERVAL_S = 0.2
WEBHOOK_PATH = f"{WEBHOOKS}/kenner"
SENTINEL_PATH = "/api/v1/namespaces/kenner/pods/kenner-bootstrap-sentinel"
SENTINEL_LABELS = {"kenner.dev/bootstrap-sentinel": "true", "app.kubernetes.io/name": "kenner"}


@attrs.frozen
class Cluster:
    api: FakeKubeApi
    server: RunningServer
    kube: KubeClient
    serving_ca: trustme.CA
    serving_chain: bytes


@asynccontextmanager
async def fake_cluster(folder: Path, stack: AsyncExitStack) -> AsyncIterator[Cluster]:
    api = FakeKubeApi()
    server = await stack.enter_async_context(serve_https(api))
    kubeconfig = write_kubeconfig(folder, server.base_url, server.ca_pem, api.token)
    async with KubeClient(resolve_access(str(kubeconfig), env={})) as kube:
        serving_ca = trustme.CA()
        leaf = serving_ca.issue_cert("kenner.kenner.svc")
        chain = b"".join(blob.bytes() for blob in leaf.cert_chain_pems)
        yield Cluster(api, server, kube, serving_ca, chain)


def make_config(
    *,
    window_s: float = 300.0,
    notary: NotaryV1ValidatorConfig | None = None,
    notary_health: bool = True,
    url: str | None = None,
) -> Config:
    base = default_config()
    webhook = WebhookConfig(service=None, url=url) if url else WebhookConfig()
    kubernetes = KubernetesConfig(
        enabled=True, api_s=1.0, webhook=webhook, sentinel=SentinelConfig(window_s=window_s)
    )
    validators = (*base.validators, notary) if notary else base.validators
    return attrs.evolve(
        base,
        validators=validators,
        kubernetes=kubernetes,
        watchdog=WatchdogConfig(interval_s=INTERVAL_S, notary_health=notary_health),
    )


def notary_validator(server: RunningServer) -> NotaryV1ValidatorConfig:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return NotaryV1ValidatorConfig(
        name="notary",
        host=f"https://127.0.0.1:{server.port}",
        trust_roots=(TrustRoot("default", pem.decode()),),
        cert=server.ca_pem,
    )


async def wait_for(predicate: Callable[[], bool], timeout_s: float = 5.0) -> float:
    """Seconds until ``predicate`` held (fails the test after ``timeout_s``)."""
    # Polling: the watchdog signals nothing a test could wait on, and that is the point.
    start = trio.current_time()
    with trio.fail_after(timeout_s):
        while not predicate():  # noqa: ASYNC110
            await trio.sleep(0.01)
    return trio.current_time() - start


@asynccontextmanager
async def watching(
    cluster: Cluster | None, config: Config, fetchers: Fetchers, serving_chain: bytes = b""
) -> AsyncIterator[DaemonState]:
    state = DaemonState(Snapshot(config, {}, kube=cluster.kube if cluster else None))
    chain = cluster.serving_chain if cluster else serving_chain
    probes = Probes(cluster.kube if cluster else None, lambda: chain, fetchers)
    async with trio.open_nursery() as nursery:
        await nursery.start(run_watchdog, state, probes, Notifier(None))
        yield state
        nursery.cancel_scope.cancel()


def ok(state: DaemonState, name: str) -> bool:
    return state.conditions[name].ok


async def test_webhook_deleted_is_not_ready_within_two_intervals_and_recreated_is_ready(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kenner.watchdog")
    async with AsyncExitStack() as stack, Fetchers() as fetchers:
        cluster = await stack.enter_async_context(fake_cluster(tmp_path, stack))
        ca_pem = cluster.serving_ca.cert_pem.bytes()
        cluster.api.put(WEBHOOK_PATH, webhook_configuration("kenner", ca_pem))
        async with watching(cluster, make_config(window_s=0), fetchers) as state:
            assert state.ready, readiness_summary(state)
            assert "points at service kenner/kenner" in state.conditions["webhook"].detail

            cluster.api.delete(WEBHOOK_PATH)
            elapsed = await wait_for(lambda: not state.ready)
            assert elapsed <= 2 * INTERVAL_S + 0.1
            assert "'kenner' does not exist" in state.conditions["webhook"].detail
            await trio.sleep(3 * INTERVAL_S)  # further ticks: no further log lines

            cluster.api.put(WEBHOOK_PATH, webhook_configuration("kenner", ca_pem))
            await wait_for(lambda: state.ready)
    changes = [r for r in caplog.records if r.getMessage() == "readiness condition changed"]
    assert [r.fields["ok"] for r in changes] == [True, False, True]  # type: ignore[attr-defined]
    # Every request carried the kubeconfig's bearer token.
    assert {auth for _, auth in cluster.api.requests} == {"Bearer test-token"}


async def test_webhook_pointing_elsewhere_or_without_kenners_ca_is_not_ready(
    tmp_path: Path,
) -> None:
    async with AsyncExitStack() as stack, Fetchers() as fetchers:
        cluster = await stack.enter_async_context(fake_cluster(tmp_path, stack))
        other_ca = trustme.CA().cert_pem.bytes()
        cluster.api.put(WEBHOOK_PATH, webhook_configuration("kenner", other_ca))
        async with watching(cluster, make_config(window_s=0), fetchers) as state:
            assert not state.ready
            assert "caBundle lacks the CA" in state.conditions["webhook"].detail
            ca_pem = cluster.serving_ca.cert_pem.bytes()
            wrong_service = webhook_configuration("kenner", ca_pem, service=("default", "evil"))
            cluster.api.put(WEBHOOK_PATH, wrong_service)
            await wait_for(lambda: "does not point at" in state.conditions["webhook"].detail)
            assert not state.ready


async def test_off_cluster_webhook_by_url(tmp_path: Path) -> None:
    url = "https://kenner.example:8443/mutate"
    async with AsyncExitStack() as stack, Fetchers() as fetchers:
        cluster = await stack.enter_async_context(fake_cluster(tmp_path, stack))
        ca_pem = cluster.serving_ca.cert_pem.bytes()
        cluster.api.put(WEBHOOK_PATH, webhook_configuration("kenner", ca_pem, url=url))
        async with watching(cluster, make_config(window_s=0, url=url), fetchers) as state:
            assert state.ready, readiness_summary(state)
        config = make_config(window_s=0, url="https://other.example/mutate")
        async with watching(cluster, config, fetchers) as state:
            assert not state.ready


async def test_sentinel_is_honoured_only_inside_the_window_and_logged_each_time(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kenner.watchdog")
    async with AsyncExitStack() as stack, Fetchers() as fetchers:
        cluster = await stack.enter_async_context(fake_cluster(tmp_path, stack))
        sentinel = pod("kenner-bootstrap-sentinel", "kenner", labels=SENTINEL_LABELS)
        cluster.api.put(SENTINEL_PATH, sentinel)
        window_s = 4 * INTERVAL_S
        async with watching(cluster, make_config(window_s=window_s), fetchers) as state:
            assert state.ready, readiness_summary(state)
            assert "bootstrap sentinel pod" in state.conditions["webhook"].detail
            elapsed = await wait_for(lambda: not state.ready)
            assert elapsed <= window_s + INTERVAL_S + 0.1
            assert "bootstrap window of 0.8 s is over" in state.conditions["webhook"].detail
    honoured = [r for r in caplog.records if r.getMessage().startswith("bootstrap sentinel")]
    assert len(honoured) >= 3  # every tick inside the window, not only the first


@pytest.mark.parametrize(
    ("labels", "phase", "why"),
    [
        ({"app.kubernetes.io/name": "kenner"}, "Running", "lacks the label"),
        ({"kenner.dev/bootstrap-sentinel": "false"}, "Running", "lacks the label"),
        (SENTINEL_LABELS, "Pending", "is not Running"),
    ],
)
async def test_sentinel_without_the_label_or_not_running_is_not_honoured(
    tmp_path: Path, labels: dict[str, str], phase: str, why: str
) -> None:
    async with AsyncExitStack() as stack, Fetchers() as fetchers:
        cluster = await stack.enter_async_context(fake_cluster(tmp_path, stack))
        sentinel = pod("kenner-bootstrap-sentinel", "kenner", labels=labels, phase=phase)
        cluster.api.put(SENTINEL_PATH, sentinel)
        async with watching(cluster, make_config(), fetchers) as state:
            assert not state.ready
            assert why in state.conditions["webhook"].detail


async def test_api_down_is_not_ready_and_the_watchdog_keeps_running(tmp_path: Path) -> None:
    api = FakeKubeApi()
    stop_api = trio.Event()

    async def run_api(*, task_status: trio.TaskStatus[RunningServer]) -> None:
        async with serve_https(api) as server:
            task_status.started(server)
            await stop_api.wait()

    async with trio.open_nursery() as nursery, Fetchers() as fetchers:
        server = await nursery.start(run_api)
        kubeconfig = write_kubeconfig(tmp_path, server.base_url, server.ca_pem, api.token)
        async with KubeClient(resolve_access(str(kubeconfig), {})) as kube:
            serving_ca = trustme.CA()
            chain = serving_ca.issue_cert("kenner.kenner.svc").cert_chain_pems[0].bytes()
            api.put(WEBHOOK_PATH, webhook_configuration("kenner", serving_ca.cert_pem.bytes()))
            cluster = Cluster(api, server, kube, serving_ca, chain)
            async with watching(cluster, make_config(window_s=0), fetchers) as state:
                assert state.ready
                stop_api.set()  # the API server goes away
                await wait_for(lambda: not state.ready)
                assert "could not connect" in state.conditions["webhook"].detail
                since = state.conditions["webhook"].since
                await trio.sleep(2 * INTERVAL_S)
                assert state.conditions["webhook"].since == since  # still checking, steadily


async def test_notary_down_is_not_ready_and_back_is_ready() -> None:
    healthy = True

    async def health(request: Request) -> Response:
        return Response(200, b"{}") if healthy else Response(503, b"down")

    app = RoutedApp({"/_notary_server/health": health})
    async with serve_https(app) as notary, Fetchers() as fetchers:
        config = attrs.evolve(
            make_config(notary=notary_validator(notary)), kubernetes=KubernetesConfig()
        )
        async with watching(None, config, fetchers) as state:
            assert state.ready
            assert set(state.conditions) == {"notary:notary"}
            healthy = False
            await wait_for(lambda: not state.ready)
            assert "HTTP status 503" in state.conditions["notary:notary"].detail
            healthy = True
            await wait_for(lambda: state.ready)
        off = attrs.evolve(config, watchdog=WatchdogConfig(INTERVAL_S, notary_health=False))
        healthy = False
        async with watching(None, off, fetchers) as state:
            assert state.conditions == {}
            assert state.ready


async def test_notary_that_does_not_answer_within_the_deadline_is_not_ready() -> None:
    async def hang(request: Request) -> Response:
        await trio.sleep_forever()
        raise AssertionError

    app = RoutedApp({"/_notary_server/health": hang})
    async with serve_https(app) as notary, Fetchers() as fetchers:
        config = attrs.evolve(
            make_config(notary=notary_validator(notary)), kubernetes=KubernetesConfig()
        )
        config = attrs.evolve(config, deadlines=attrs.evolve(config.deadlines, fetch_s=0.2))
        async with watching(None, config, fetchers) as state:
            assert not state.ready
            assert "did not answer" in state.conditions["notary:notary"].detail
