"""A reload through the real Reloader keeps a warm Notary validator and its trust-data cache.

The daemon's pieces in-process: the configuration file and certificate files on disk, the
runtime on an in-memory fake Notary (which counts role requests), the webhook app over httpx's
ASGI transport, and ``Reloader.reload`` as SIGHUP calls it. A reload that edits only the policy
and rotates the serving certificate keeps the validator: the next admission is answered from
its cache, and its statistics (as scraped) keep counting. A reload that changes the cache
settings builds the validator anew, so the same image goes back to Notary.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import attrs
import httpx
import pytest
import trustme
from prometheus_client.parser import text_string_to_metric_families

from kenner.app.state import DaemonState, Snapshot
from kenner.server.app import WebhookApp
from kenner.server.serve import ReloadableTlsConfig, Reloader, ServeOptions, load_settings
from kenner.validators.build import build_validators, open_runtime
from tests.support.reviews import pod_review
from tests.support.signed_servers import GUN, NOTARY, SignedNotary

IMAGE = f"{GUN}:v1"
COLD_LOAD_REQUESTS = 4  # root, timestamp, snapshot, targets
PAUSE = "registry.k8s.io/pause:3.9"
NOTARY_POLICY = [{"pattern": f"{GUN}:*", "validator": "notary"}]
ALLOW_PAUSE_TOO = [*NOTARY_POLICY, {"pattern": "registry.k8s.io/*:*", "validator": "allow"}]


def write_config(
    folder: Path, pin_pem: str, policy: list[dict[str, str]], cache_ttl_s: float = 300.0
) -> None:
    """kenner.yaml in kenner's layout (JSON is YAML), serving the certificate in ``folder``."""
    config = {
        "validators": [
            {
                "name": "notary",
                "type": "notaryv1",
                "host": NOTARY,
                "trustRoots": [{"name": "default", "key": pin_pem}],
            },
            {"name": "allow", "type": "static", "approve": True},
        ],
        "policy": policy,
        "cache": {"ttlSeconds": cache_ttl_s},
        "server": {
            "tls": {"certFile": str(folder / "tls.crt"), "keyFile": str(folder / "tls.key")}
        },
    }
    (folder / "kenner.yaml").write_text(json.dumps(config))


def rotate_certificate(folder: Path) -> None:
    """A new serving certificate from a new CA, as cert-manager's renewal writes it."""
    leaf = trustme.CA().issue_cert("127.0.0.1")
    leaf.cert_chain_pems[0].write_to_path(str(folder / "tls.crt"))
    leaf.private_key_pem.write_to_path(str(folder / "tls.key"))


@attrs.frozen
class Daemon:
    """What ``run_daemon`` wires together, minus the sockets."""

    folder: Path
    notary: SignedNotary
    state: DaemonState
    reloader: Reloader
    client: httpx.AsyncClient

    def reconfigure(self, policy: list[dict[str, str]], cache_ttl_s: float = 300.0) -> None:
        write_config(self.folder, self.notary.pin_pem, policy, cache_ttl_s)

    async def admitted(self, image: str) -> bool:
        review = pod_review(image, uid="u-1", container_name="c")
        response = await self.client.post("/mutate", json=review)
        assert response.status_code == 200
        allowed = response.json()["response"]["allowed"]
        assert isinstance(allowed, bool)
        return allowed

    def trust_cache(self, counter: str) -> float:
        """A ``kenner_trust_cache_*`` sample of the notary validator, as a scrape reads it."""
        for family in text_string_to_metric_families(self.state.metrics.render().decode()):
            for sample in family.samples:
                if sample.name == counter and sample.labels == {"validator": "notary"}:
                    return sample.value
        raise AssertionError(f"no {counter} sample for validator 'notary'")


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[Daemon]:
    notary = SignedNotary()
    write_config(tmp_path, notary.pin_pem, NOTARY_POLICY)
    rotate_certificate(tmp_path)
    options = ServeOptions(config_path=str(tmp_path / "kenner.yaml"))
    async with open_runtime(transport=notary.server.mock_transport()) as runtime:
        config = load_settings(options)
        state = DaemonState(Snapshot(config, build_validators(config, runtime)))
        state.set_condition("serving", True, "test", 0.0)
        tls = ReloadableTlsConfig()
        tls.certfile, tls.keyfile = str(tmp_path / "tls.crt"), str(tmp_path / "tls.key")
        tls.create_ssl_context()  # as hypercorn does at start; a reload loads into it
        reloader = Reloader(options, state, tls, tmp_path, runtime)
        transport = httpx.ASGITransport(app=WebhookApp(state))
        async with httpx.AsyncClient(transport=transport, base_url="http://kenner") as client:
            yield Daemon(tmp_path, notary, state, reloader, client)


async def test_policy_edit_and_certificate_rotation_keep_the_warm_validator(
    daemon: Daemon, caplog: pytest.LogCaptureFixture
) -> None:
    assert await daemon.admitted(IMAGE)
    assert len(daemon.notary.server.requests) == COLD_LOAD_REQUESTS
    warm = daemon.state.snapshot.validators["notary"]
    assert daemon.trust_cache("kenner_trust_cache_misses_total") == 1

    assert not await daemon.admitted(PAUSE)  # no rule matches it yet

    daemon.reconfigure(ALLOW_PAUSE_TOO)
    rotate_certificate(daemon.folder)
    with caplog.at_level(logging.INFO, logger="kenner.server.serve"):
        assert await daemon.reloader.reload()

    assert await daemon.admitted(PAUSE)  # the new policy serves
    assert daemon.state.snapshot.validators["notary"] is warm
    assert await daemon.admitted(IMAGE)
    assert len(daemon.notary.server.requests) == COLD_LOAD_REQUESTS  # answered from the cache
    assert daemon.trust_cache("kenner_trust_cache_misses_total") == 1  # not reset to zero
    assert daemon.trust_cache("kenner_trust_cache_hits_total") == 1
    [reloaded] = [
        r for r in caplog.records if r.message == "configuration and certificate reloaded"
    ]
    assert reloaded.__dict__["fields"] == {
        "validators_kept": ["notary", "allow"],
        "validators_built": [],
    }


async def test_a_changed_cache_ttl_builds_the_validator_anew_and_loads_again(
    daemon: Daemon, caplog: pytest.LogCaptureFixture
) -> None:
    assert await daemon.admitted(IMAGE)
    warm = daemon.state.snapshot.validators["notary"]

    daemon.reconfigure(NOTARY_POLICY, cache_ttl_s=60.0)
    with caplog.at_level(logging.INFO, logger="kenner.server.serve"):
        assert await daemon.reloader.reload()

    assert daemon.state.snapshot.validators["notary"] is not warm
    assert await daemon.admitted(IMAGE)
    assert len(daemon.notary.server.requests) == 2 * COLD_LOAD_REQUESTS
    assert daemon.trust_cache("kenner_trust_cache_hits_total") == 0
    [reloaded] = [
        r for r in caplog.records if r.message == "configuration and certificate reloaded"
    ]
    assert reloaded.__dict__["fields"] == {
        "validators_kept": ["allow"],
        "validators_built": ["notary"],
    }


async def test_a_refused_reload_keeps_the_serving_validators(daemon: Daemon) -> None:
    assert await daemon.admitted(IMAGE)
    serving = daemon.state.snapshot
    daemon.reconfigure(NOTARY_POLICY, cache_ttl_s=60.0)
    (daemon.folder / "tls.key").write_text("not a key")

    assert not await daemon.reloader.reload()

    assert daemon.state.snapshot is serving
    assert await daemon.admitted(IMAGE)
    assert len(daemon.notary.server.requests) == COLD_LOAD_REQUESTS
