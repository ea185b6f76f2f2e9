"""systemd/: the unit passes ``systemd-analyze``, and agrees with its config and webhook.

``systemd-analyze verify`` loads the unit as systemd would (unknown directives, bad values,
a missing ExecStart binary are errors); ``systemd-analyze security --offline=true`` scores
its sandbox (0 = fully locked down, 10 = exposed), and kenner's target is at most 2.0. Both
are skipped with a reason where systemd-analyze is not installed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from kenner.config.load import load_config_file
from kenner.config.model import Config
from kenner.webhook_certs import patch_webhook_manifest

SYSTEMD = Path(__file__).resolve().parents[2] / "systemd"
UNIT = SYSTEMD / "kenner.service"
EXPOSURE_TARGET = 2.0
CREDENTIALS = "/run/credentials/kenner.service"

needs_systemd_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze is not installed (Debian package systemd)",
)


def _directives() -> dict[str, list[str]]:
    """Each ``Key=value`` of the unit, by key, in order (a key may repeat)."""
    directives: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            directives.setdefault(key, []).append(value)
    return directives


def _one(key: str) -> str:
    (value,) = _directives()[key]
    return value


def _config() -> Config:
    return load_config_file(SYSTEMD / "config.yaml")


def _seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+)s", value)
    assert match, f"expected a time in seconds, got {value!r}"
    return float(match.group(1))


@needs_systemd_analyze
def test_systemd_analyze_verify_accepts_the_unit() -> None:
    done = subprocess.run(
        ["systemd-analyze", "verify", str(UNIT)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "kenner.service" not in done.stderr, done.stderr


@needs_systemd_analyze
def test_systemd_analyze_security_exposure_is_at_most_the_target() -> None:
    done = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--no-pager", str(UNIT)],
        capture_output=True,
        text=True,
        check=False,
    )
    match = re.search(r"Overall exposure level for kenner\.service: (\d+\.\d)", done.stdout)
    assert match, done.stdout + done.stderr
    exposure = float(match.group(1))
    print(f"systemd-analyze security --offline=true: exposure {exposure}")  # shown with -rA
    assert exposure <= EXPOSURE_TARGET
    # The same limit as systemd enforces it (its threshold counts tenths).
    threshold = int(EXPOSURE_TARGET * 10)
    gate = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", f"--threshold={threshold}", str(UNIT)],
        capture_output=True,
        check=False,
    )
    assert gate.returncode == 0


def test_the_unit_is_a_notify_service_with_a_watchdog_and_reload() -> None:
    assert _one("Type") == "notify"
    assert _one("NotifyAccess") == "main"
    assert _seconds(_one("WatchdogSec")) > 0
    assert _one("Restart") == "on-failure"
    assert _one("ExecReload") == "/bin/kill -HUP $MAINPID"
    executable, *arguments = _one("ExecStart").split()
    assert Path(executable).is_absolute()
    assert arguments[-3:] == ["serve", "--config", "/etc/kenner/config.yaml"]
    # Requests in flight get the request deadline and hypercorn's extra second to drain.
    assert _seconds(_one("TimeoutStopSec")) > _config().deadlines.request_s + 1


def test_the_unit_is_sandboxed() -> None:
    directives = _directives()
    expected = {
        "DynamicUser": "yes",
        "CapabilityBoundingSet": "",
        "AmbientCapabilities": "",
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "ConfigurationDirectory": "kenner",
        "StateDirectory": "kenner",
        "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
        "MemoryDenyWriteExecute": "yes",
    }
    assert {key: _one(key) for key in expected} == expected
    assert directives["SystemCallFilter"][0] == "@system-service"


def test_the_config_listens_unprivileged_and_reads_the_credentials() -> None:
    config = _config()
    port = int(config.server.listen.rpartition(":")[2])
    assert 1024 <= port < 65536  # no CAP_NET_BIND_SERVICE in the unit
    credentials = dict(value.split(":", 1) for value in _directives()["LoadCredential"])
    assert credentials == {"tls.key": "/etc/kenner/tls.key", "kubeconfig": "/etc/kenner/kubeconfig"}
    assert config.server.tls.key_file == f"{CREDENTIALS}/tls.key"
    assert config.kubernetes.kubeconfig == f"{CREDENTIALS}/kubeconfig"
    assert config.kubernetes.enabled is True


@pytest.mark.parametrize("version", ["1.28", kubernetes_validate.latest_version()])
def test_the_url_webhook_is_valid_and_names_the_configured_url(version: str) -> None:
    webhook = yaml.safe_load((SYSTEMD / "webhook.yaml").read_text())
    kubernetes_validate.validate(webhook, version, strict=True)
    (hook,) = webhook["webhooks"]
    config = _config()
    assert webhook["metadata"]["name"] == config.kubernetes.webhook.name
    assert hook["clientConfig"]["url"] == config.kubernetes.webhook.url
    assert config.kubernetes.webhook.service is None
    assert (hook["failurePolicy"], hook["sideEffects"]) == ("Fail", "None")
    assert hook["timeoutSeconds"] > config.deadlines.request_s


def test_kenner_cert_can_patch_the_url_webhook() -> None:
    url = "https://10.1.2.3:8443/mutate"
    patched = patch_webhook_manifest((SYSTEMD / "webhook.yaml").read_text(), "QUJD", url)
    (hook,) = yaml.safe_load(patched)["webhooks"]
    assert hook["clientConfig"] == {"url": url, "caBundle": "QUJD"}
