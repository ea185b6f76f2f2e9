"""The ``kenner`` command: review exit codes and output, check-config, --version, and how
errors are translated (an expected failure exits 2 with its message; a bug keeps its
traceback)."""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from kenner import __version__
from kenner.cli import _run as run_command
from kenner.cli import main
from kenner.config.errors import ConfigError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """The CLI configures the root logger with a handler on the (captured) stderr; put the
    previous handlers back so later tests do not log into a closed capture stream."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    out, err = capsys.readouterr()
    code = exit_info.value.code
    assert isinstance(code, int)
    return code, out, err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--version")
    assert (code, out.strip()) == (0, f"kenner {__version__}")


def test_review_of_the_sample_is_denied_with_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "review", str(EXAMPLES / "admission-review-pod.json"))
    assert code == 1
    response = json.loads(out)["response"]
    assert response["uid"] == "7f0b2c4e-1a1d-4c53-9a49-2d7c1e0f3b11"
    assert response["allowed"] is False
    assert "docker.io/library/nginx:1.27" in response["status"]["message"]
    assert "registry.k8s.io" not in response["status"]["message"]


def test_review_allowed_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    review = json.loads((EXAMPLES / "admission-review-pod.json").read_text())
    review["request"]["object"]["spec"]["containers"].pop()  # drop nginx
    path = tmp_path / "review.json"
    path.write_text(json.dumps(review))
    code, out, _ = _run(capsys, "review", str(path))
    assert code == 0
    assert json.loads(out)["response"]["allowed"] is True


def test_review_of_garbage_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.json"
    path.write_text("{")
    code, out, err = _run(capsys, "review", str(path))
    assert (code, out) == (2, "")
    assert "body is not valid JSON" in err


def test_review_of_a_missing_file_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(capsys, "review", str(tmp_path / "nope.json"))
    assert code == 2
    assert "nope.json" in err


def test_check_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(
        "validators:\n  - {name: allow, type: static, approve: true}\n"
        "policy:\n  - {pattern: '*:*', validator: allow}\n"
    )
    code, out, _ = _run(capsys, "check-config", str(good))
    assert code == 0
    assert "ok (1 validators, 1 rules)" in out

    bad = tmp_path / "bad.yaml"
    bad.write_text(good.read_text().replace("approve: true", "approve: true, colour: red"))
    code, _, err = _run(capsys, "check-config", str(bad))
    assert code == 2
    assert "bad.yaml:2" in err
    assert "colour" in err


def test_review_with_an_unreadable_secret_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    example = (EXAMPLES / "notaryv1.yaml").read_text()
    with_auth = example.replace(
        "    host: notary.docker.io", "    auth: {secretName: missing}\n    host: notary.docker.io"
    )
    assert with_auth != example
    config = tmp_path / "kenner.yaml"
    config.write_text(with_auth + f"secretsDir: {tmp_path}\n")
    review = str(EXAMPLES / "admission-review-pod.json")
    code, out, err = _run(capsys, "review", "--config", str(config), review)
    assert (code, out) == (2, "")
    assert "secret 'missing'" in err


def test_check_config_runs_serve_s_steps_and_takes_serve_s_overrides(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(
        "validators:\n  - {name: allow, type: static, approve: true}\n"
        "policy:\n  - {pattern: '*:*', validator: allow}\n"
    )
    missing = str(tmp_path / "missing.crt")
    code, out, err = _run(capsys, "check-config", str(good), "--tls-cert", missing)
    assert code == 2
    assert "server.tls" in err
    assert "Traceback" not in err
    code, out, _ = _run(
        capsys, "check-config", str(good), "--tls-cert", missing, "--tls-key", missing,
        "--content-only",
    )  # fmt: skip
    assert (code, out.strip()) == (0, f"{good}: ok (1 validators, 1 rules)")


@pytest.mark.parametrize(
    "raised",
    [
        ConfigError("x.yaml:3: policy: must not be empty"),
        ExceptionGroup("nursery", [ExceptionGroup("inner", [ConfigError("kubernetes: no")])]),
    ],
)
def test_an_expected_failure_exits_2_with_its_message_only(
    raised: Exception, capsys: pytest.CaptureFixture[str]
) -> None:
    def command(args: object) -> int:
        raise raised

    code = run_command(argparse.Namespace(run=command))
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("kenner: ")
    assert "Traceback" not in err


def test_a_bug_keeps_its_traceback() -> None:
    def command(args: object) -> int:
        raise ZeroDivisionError("a bug")

    with pytest.raises(ZeroDivisionError):
        run_command(argparse.Namespace(run=command))
    group = ExceptionGroup("nursery", [ConfigError("expected"), KeyError("a bug")])

    def mixed(args: object) -> int:
        raise group

    with pytest.raises(ExceptionGroup) as raised:
        run_command(argparse.Namespace(run=mixed))
    assert raised.value is group  # every traceback kept, the expected one too
