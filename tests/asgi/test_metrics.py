"""GET /metrics after a scripted set of requests: exact Connaisseur counters and kenner's own."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import attrs
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from kenner.app.state import DaemonState, Snapshot
from kenner.config.model import (
    Config,
    Deadlines,
    Features,
    LogConfig,
    Rule,
    StaticValidatorConfig,
)
from kenner.server.app import MetricsApp, WebhookApp
from kenner.validators.driver import Driven, Driver
from kenner.validators.static import StaticValidator
from tests.support.proofs import with_proof
from tests.support.reviews import pod_review
from tests.support.validators import SlowValidator

ALLOW = StaticValidatorConfig("allow", True)
DENY = StaticValidatorConfig("deny", False)
SLOW = StaticValidatorConfig("slow", True)  # served by a validator that never answers in time
CONFIG = Config(
    validators=(ALLOW, DENY, SLOW),
    policy=(
        Rule("registry.k8s.io/*:*", "allow"),
        Rule("docker.io/library/*:*", "deny"),
        Rule("slow.example/*:*", "slow"),
    ),
    features=Features(automatic_unchanged_approval=True),
    deadlines=Deadlines(request_s=0.2, fetch_s=0.1),
)
PAUSE = "registry.k8s.io/pause:3.9"


def _review(uid: str, image: str, operation: str = "CREATE", old: str | None = None) -> object:
    old_images = None if old is None else [old]
    return pod_review(
        image, uid=uid, operation=operation, old=old_images, namespace="team", container_name=None
    )


@pytest.fixture
def state() -> DaemonState:
    validators: dict[str, Driven] = {
        "allow": Driver(StaticValidator(ALLOW)),
        "deny": Driver(StaticValidator(DENY)),
        "slow": SlowValidator("slow", delay_s=30.0),
    }
    state = DaemonState(Snapshot(CONFIG, validators))
    state.set_condition("serving", True, "test", 0.0)
    state.set_condition("notary", False, "unreachable", 0.0)
    return state


@pytest.fixture
async def client(state: DaemonState) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=WebhookApp(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://kenner") as client:
        yield client


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def _value(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_counts_after_a_scripted_set_of_requests(
    client: httpx.AsyncClient, state: DaemonState
) -> None:
    update: Any = _review("4", PAUSE, "UPDATE", old=PAUSE)
    old = update["request"]["oldObject"]  # admitted by kenner before: it carries a proof
    update["request"]["oldObject"] = with_proof(old, "Pod", "team", state.snapshot.prover)
    answers = [
        await client.post("/mutate", json=_review("1", PAUSE)),
        await client.post("/mutate", json=_review("2", "docker.io/library/nginx:1")),
        await client.post("/mutate", json=_review("3", "slow.example/app:1")),
        await client.post("/mutate", json=update),
        await client.post("/mutate", json=_review("5", "nginx:2")),
    ]
    allowed = [answer.json()["response"]["allowed"] for answer in answers]
    assert allowed == [True, False, False, True, False]
    bad = await client.post("/mutate", content=b"{", headers={"content-type": "application/json"})
    assert bad.status_code == 400  # not an admission request: not counted

    scrape = await client.get("/metrics")
    assert scrape.status_code == 200
    assert scrape.headers["content-type"].startswith("text/plain; version=0.0.4")
    s = _samples(scrape.text)
    assert _value(s, "connaisseur_requests_total") == 5
    assert _value(s, "connaisseur_requests_admitted_total") == 2
    assert _value(s, "connaisseur_requests_denied_total", timeout="false") == 2
    assert _value(s, "connaisseur_requests_denied_total", timeout="true") == 1
    static = {"type": "static"}
    assert _value(s, "connaisseur_validations_total", **static, validator_name="allow",
                  result="success") == 1  # fmt: skip
    assert _value(s, "connaisseur_validations_total", **static, validator_name="deny",
                  result="error") == 2  # fmt: skip
    assert _value(s, "connaisseur_validations_total", **static, validator_name="slow",
                  result="timeout") == 1  # fmt: skip
    assert _value(s, "connaisseur_validations_successful_total", **static,
                  validator_name="allow") == 1  # fmt: skip
    assert _value(s, "connaisseur_validations_failed_total", **static,
                  validator_name="deny") == 2  # fmt: skip
    assert _value(s, "connaisseur_validations_timeouted_total", **static,
                  validator_name="slow") == 1  # fmt: skip
    assert _value(s, "connaisseur_validations_skipped_total", **static, validator_name="allow",
                  reason="unchanged image reference") == 1  # fmt: skip
    latency = "kenner_request_duration_seconds_count"
    assert _value(s, latency, kind="Pod", verdict="allowed") == 2
    assert _value(s, latency, kind="Pod", verdict="denied") == 3
    slow_bucket = "kenner_request_duration_seconds_bucket"
    assert _value(s, slow_bucket, kind="Pod", verdict="denied", le="0.1") == 2  # not the slow one
    assert _value(s, "kenner_validation_duration_seconds_count", validator_type="static") == 3
    assert _value(s, "kenner_ready_condition", condition="serving") == 1
    assert _value(s, "kenner_ready_condition", condition="notary") == 0
    build = [key for key in s if key[0] == "kenner_build_info"]
    assert len(build) == 1
    assert dict(build[0][1])["version"]


async def test_each_daemon_state_has_its_own_registry(client: httpx.AsyncClient) -> None:
    await client.post("/mutate", json=_review("1", PAUSE))
    other = DaemonState(Snapshot(CONFIG, {}))
    assert _value(_samples(other.metrics.render().decode()), "connaisseur_requests_total") == 0


async def test_separate_metrics_app_serves_only_metrics(state: DaemonState) -> None:
    transport = httpx.ASGITransport(app=MetricsApp(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://kenner") as client:
        scrape = await client.get("/metrics")
        assert scrape.status_code == 200
        assert "connaisseur_requests_total 0.0" in scrape.text
        assert (await client.get("/ready")).status_code == 404
        assert (await client.post("/metrics")).status_code == 405


async def test_access_log_is_off_by_default_and_probes_stay_at_debug(
    state: DaemonState, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="kenner.access")
    transport = httpx.ASGITransport(app=WebhookApp(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://kenner") as client:
        await client.get("/health")
        assert [r for r in caplog.records if r.name == "kenner.access"] == []
        state.snapshot = Snapshot(
            attrs.evolve(CONFIG, log=LogConfig(access_log=True)), state.snapshot.validators
        )
        for path in ("/health", "/ready", "/metrics"):
            await client.get(path)
        await client.post("/mutate", json=_review("1", PAUSE))
    lines = [r for r in caplog.records if r.name == "kenner.access"]
    assert [(r.levelno, r.fields["path"], r.fields["status"]) for r in lines] == [  # type: ignore[attr-defined]
        (logging.DEBUG, "/health", 200),
        (logging.DEBUG, "/ready", 503),
        (logging.DEBUG, "/metrics", 200),
        (logging.INFO, "/mutate", 200),
    ]
