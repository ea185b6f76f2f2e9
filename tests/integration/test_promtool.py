"""Prometheus's own linter accepts kenner's /metrics output (``promtool check metrics``).

``promtool`` comes with Debian's ``prometheus`` package: installed here with apt-get when
running as root (its service is kept from starting), else the test is skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

import attrs
import pytest
import trio

from kenner.app.pipeline import answer_review
from kenner.app.state import DaemonState, Snapshot
from kenner.config.model import Config, Rule, StaticValidatorConfig
from kenner.net.cache import CacheStatistics
from kenner.net.singleflight import SingleFlightStatistics
from kenner.oci.dockerconfig import RegistryLogins
from kenner.validators.driver import Driven, Driver
from kenner.validators.static import StaticValidator
from tests.support.reviews import as_bytes, pod_review

_POLICY_RC_D = Path("/usr/sbin/policy-rc.d")


def _promtool() -> str:
    found = shutil.which("promtool")
    if found:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip("promtool is missing (apt-get install prometheus needs root and apt-get)")
    created = not _POLICY_RC_D.exists()
    if created:  # exit 101: "action forbidden", so the package's service does not start
        _POLICY_RC_D.write_text("#!/bin/sh\nexit 101\n")
        _POLICY_RC_D.chmod(0o755)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        for command in (
            ["apt-get", "update", "-qq"],
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "prometheus"],
        ):
            done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                pytest.fail(f"{' '.join(command)} failed: {done.stderr.strip()[-2000:]}")
    finally:
        if created:
            _POLICY_RC_D.unlink(missing_ok=True)
    found = shutil.which("promtool")
    assert found, "the prometheus package was installed but promtool is not on PATH"
    return found


@attrs.define
class _CachingValidator:
    """A static allow that also reports trust-data statistics, as notaryv1 does."""

    name: str

    def answer_now(
        self, image: object, options: object, pull_logins: RegistryLogins | None = None
    ) -> object:
        return None

    async def answer(
        self, image: object, options: object, pull_logins: RegistryLogins | None = None
    ) -> object:
        return await Driver(StaticValidator(StaticValidatorConfig(self.name, True))).answer(
            image,  # type: ignore[arg-type]
            options,  # type: ignore[arg-type]
        )

    def cache_statistics(self) -> CacheStatistics:
        return CacheStatistics(hits=3, failure_hits=1, misses=2, evictions=0, size=2)

    def flight_statistics(self) -> SingleFlightStatistics:
        return SingleFlightStatistics(started=2, joined=5, in_flight=0)

    def fetch_statistics(self) -> Mapping[tuple[str, str], int]:
        return {
            ("https://notary.example:4443", "ok"): 8,
            ("https://notary.example:4443", "error"): 1,
        }


def _review(uid: str, image: str) -> bytes:
    return as_bytes(pod_review(image, uid=uid, container_name=None))


async def test_promtool_accepts_the_metrics() -> None:
    promtool = _promtool()
    config = Config(
        validators=(StaticValidatorConfig("notary", True), StaticValidatorConfig("deny", False)),
        policy=(Rule("registry.k8s.io/*:*", "notary"), Rule("docker.io/*:*", "deny")),
    )
    validators: dict[str, Driven] = {
        "notary": _CachingValidator("notary"),  # type: ignore[dict-item]
        "deny": Driver(StaticValidator(StaticValidatorConfig("deny", False))),
    }
    state = DaemonState(Snapshot(config, validators))
    state.set_condition("serving", True, "test", 0.0)
    for uid, image in (("1", "registry.k8s.io/pause:3.9"), ("2", "nginx")):
        await answer_review(_review(uid, image), state.snapshot, metrics=state.metrics)
    state.metrics.count_reload(True)
    state.metrics.count_alert("reject", "reject-0-slack", "failed")
    text = state.metrics.render()
    assert b'kenner_trust_data_fetches_total{host="https://notary.example:4443"' in text
    done = await trio.run_process(
        [promtool, "check", "metrics"],
        stdin=text,
        capture_stdout=True,
        capture_stderr=True,
        check=False,
    )
    assert done.returncode == 0, (done.stdout + done.stderr).decode()
    assert done.stdout.strip() == b"", done.stdout.decode()  # no lint warnings either
