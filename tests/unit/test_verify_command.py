"""``kenner verify`` with static rules: what an admission would decide, per image, and the exit
codes (0 all admitted, 1 one denied, 2 an error naming the key, line or path).

The images go through the real pipeline (``decide_request``) with the real validators; the
Notary-signed images of the test bed are in tests/integration/test_verify_testbed.py.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from kenner.app.state import Snapshot
from kenner.app.verify import (
    KEYCHAIN_NOTE,
    REDIS_NOTE,
    VerifyReport,
    render_text,
    verify_images,
)
from kenner.cli import main
from kenner.config.load import load_config
from kenner.quoting import clip
from kenner.validators.build import build_validators, open_runtime
from tests.support.cosign_signing import new_key, public_pem

STATIC = """\
validators:
  - {name: allow, type: static, approve: true}
  - {name: deny, type: static, approve: false}
policy:
  - {pattern: "*:*", validator: deny}
  - {pattern: "registry.k8s.io/*:*", validator: allow}
  - {pattern: "ghcr.io/team/*:*", validator: deny, with: {enforce: warn}}
"""


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def static_config(tmp_path: Path) -> Path:
    path = tmp_path / "kenner.yaml"
    path.write_text(STATIC)
    return path


def verify(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(["verify", *argv])
    out, err = capsys.readouterr()
    code = exit_info.value.code
    assert isinstance(code, int)
    return code, out, err


def verify_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code, out, _ = verify(capsys, "--output", "json", *argv)
    report: dict[str, Any] = json.loads(out)
    return code, report


def test_each_image_gets_its_rule_validator_and_verdict(
    static_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = verify_json(
        capsys, "--config", str(static_config), "registry.k8s.io/pause:3.9", "nginx"
    )
    assert code == 1
    assert report["admitted"] is False
    assert report["images"] == [
        {
            "image": "registry.k8s.io/pause:3.9",
            "reference": "registry.k8s.io/pause:3.9",
            "rule": "registry.k8s.io/*:*",
            "validator": "allow",
            "validatorType": "static",
            "verdict": "allow",
            "admitted": True,
            "digest": None,
            "reason": "trusted",
        },
        {
            "image": "nginx",
            "reference": "docker.io/library/nginx:latest",
            "rule": "*:*",
            "validator": "deny",
            "validatorType": "static",
            "verdict": "deny",
            "admitted": False,
            "digest": None,
            "reason": "denied by static validator 'deny'",
        },
    ]


def test_all_admitted_exits_0_and_the_text_report_says_why(
    static_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = verify(capsys, "--config", str(static_config), "registry.k8s.io/pause:3.9")
    assert code == 0
    assert out.splitlines() == [
        "registry.k8s.io/pause:3.9: admitted",
        "  reference: registry.k8s.io/pause:3.9",
        "  rule:      registry.k8s.io/*:*",
        "  validator: allow (static)",
        "  verdict:   allow",
        "  digest:    -",
        "  why:       trusted",
        "",
        "1 of 1 image admitted",
    ]


def test_enforce_warn_admits_with_the_reason(
    static_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = verify_json(capsys, "--config", str(static_config), "ghcr.io/team/app:1")
    assert code == 0
    (image,) = report["images"]
    assert (image["verdict"], image["admitted"]) == ("warn", True)
    assert image["reason"] == "denied by static validator 'deny'"


def test_detection_mode_admits_what_it_would_deny(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "detect.yaml"
    path.write_text(STATIC + "features:\n  detectionMode: true\n")
    code, report = verify_json(capsys, "--config", str(path), "nginx:1.27")
    assert code == 0
    (image,) = report["images"]
    assert (image["verdict"], image["admitted"]) == ("deny", True)
    assert "detection mode: admitted with a warning" in image["reason"]


def test_references_the_webhook_would_deny_are_denied_not_errors(
    static_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = verify_json(capsys, "--config", str(static_config), "Bad:Ref", "", "x" * 300)
    assert code == 1
    bad, empty, long = report["images"]
    assert (bad["verdict"], bad["reference"], bad["rule"]) == ("deny", None, None)
    assert "repository name must be lowercase" in bad["reason"]
    assert (empty["verdict"], empty["admitted"]) == ("deny", False)
    assert "has no image" in empty["reason"]
    assert len(long["image"]) == 200  # quoted input is clipped
    assert long["admitted"] is False


def test_the_embedded_default_is_used_without_config(capsys: pytest.CaptureFixture[str]) -> None:
    code, report = verify_json(capsys, "registry.k8s.io/pause:3.9", "nginx:1.27")
    assert code == 1
    assert [image["admitted"] for image in report["images"]] == [True, False]


def test_the_kubernetes_api_is_never_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A configuration for the cluster (API access on, a kubeconfig that exists nowhere,
    automatic child approval) is verified without any API access."""
    path = tmp_path / "cluster.yaml"
    path.write_text(
        STATIC + "kubernetes:\n  enabled: true\n"
        f"  kubeconfig: {tmp_path / 'no-such-kubeconfig'}\n"
        "features:\n  automaticChildApproval: true\n"
    )
    code, report = verify_json(capsys, "--config", str(path), "registry.k8s.io/pause:3.9")
    assert (code, report["images"][0]["admitted"]) == (0, True)


def test_a_keychain_validator_is_explained(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cosign = {
        "name": "sigs",
        "type": "cosign",
        "trustRoots": [{"name": "default", "key": public_pem(new_key())}],
        "auth": {"k8sKeychain": True},
    }
    document = {
        "validators": [cosign, {"name": "allow", "type": "static", "approve": True}],
        "policy": [
            {"pattern": "*:*", "validator": "sigs", "with": {"verifyInTransparencyLog": False}},
            {"pattern": "registry.k8s.io/*:*", "validator": "allow"},
        ],
        "kubernetes": {"enabled": True},
    }
    path = tmp_path / "keychain.yaml"
    path.write_text(yaml.safe_dump(document))
    code, out, _ = verify(capsys, "--config", str(path), "registry.k8s.io/pause:3.9")
    assert code == 0
    assert f"note: {KEYCHAIN_NOTE}" in out


def test_the_shared_redis_state_is_left_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With cache.redis (here a port nothing listens on), verify validates on its own and
    says so; tests/integration/test_verify_testbed.py shows it never connects."""
    key = tmp_path / "hmac.key"
    key.write_bytes(b"k" * 32)
    path = tmp_path / "redis.yaml"
    path.write_text(
        STATIC + f"cache:\n  redis:\n    url: redis://127.0.0.1:1/0\n    hmacKeyFile: {key}\n"
    )
    code, report = verify_json(capsys, "--config", str(path), "registry.k8s.io/pause:3.9")
    assert (code, report["images"][0]["admitted"]) == (0, True)
    assert report["notes"] == [REDIS_NOTE]


def test_a_bad_config_exits_2_naming_key_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(STATIC.replace("approve: false}", "approve: false, colour: red}"))
    code, out, err = verify(capsys, "--config", str(path), "nginx")
    assert (code, out) == (2, "")
    assert "bad.yaml:3" in err
    assert "colour" in err


def test_an_unreadable_config_exits_2_naming_the_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = verify(capsys, "--config", str(tmp_path / "missing.yaml"), "nginx")
    assert (code, out) == (2, "")
    assert "missing.yaml" in err
    assert "cannot be read" in err


def test_a_missing_secret_exits_2_naming_the_validator(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Credentials are read as serve reads them: a secret that is not there is an error."""
    notary = {
        "name": "notary",
        "type": "notaryv1",
        "host": "https://notary.example",
        "trustRoots": [{"name": "default", "key": public_pem(new_key())}],
        "auth": {"secretName": "notary-login"},
    }
    document = {
        "secretsDir": str(tmp_path / "secrets"),
        "validators": [notary],
        "policy": [{"pattern": "*:*", "validator": "notary"}],
    }
    path = tmp_path / "secret.yaml"
    path.write_text(yaml.safe_dump(document))
    code, out, err = verify(capsys, "--config", str(path), "nginx")
    assert (code, out) == (2, "")
    assert "validators[0] ('notary')" in err


def test_without_images_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = verify(capsys)
    assert (code, out) == (2, "")
    assert "IMAGE" in err


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=260), min_size=1, max_size=3))
def test_any_image_text_gets_a_report_never_an_error(images: list[str]) -> None:
    """Whatever is typed as an image: one report each, in order, clipped; admitted only
    through the registry.k8s.io rule; the text report keeps one block per image."""
    config = load_config(STATIC)

    async def run() -> VerifyReport:
        async with open_runtime() as runtime:
            return await verify_images(images, Snapshot(config, build_validators(config, runtime)))

    report = trio.run(run)
    assert [image.image for image in report.images] == [clip(image) for image in images]
    for image in report.images:
        if image.admitted:
            assert image.verdict == "allow"
            assert image.rule == "registry.k8s.io/*:*"
        else:
            assert image.verdict == "deny"
    text = render_text(report)
    assert text.count("\n  why:") == len(images)
    assert not any(char in text for char in "\r\x1b\x00")
