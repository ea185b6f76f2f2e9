"""The zipapp download: ``make zipapp``'s shiv command, run by a Python without kenner.

The zipapp is built once per test session into a temporary directory with the exact shiv
command of the Makefile's ``zipapp`` target (so the test checks what ``make zipapp`` ships,
without writing into the work tree). It then runs under a plain interpreter — the system's
``/usr/bin/python3`` when it has kenner's Python version, else the virtualenv's base
interpreter — in isolated mode (``-I``) with an empty environment, so nothing but the zipapp
can provide kenner and its libraries.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trustme

from kenner import __version__
from tests.loopback.daemon import RunningDaemon, client_context, issue_certificate

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_REVIEW = ROOT / "examples" / "admission-review-pod.json"


def _makefile_shiv_command(output: Path) -> list[str]:
    """The ``zipapp`` target's shiv line, with the venv's bin and ``output`` substituted."""
    recipe = (ROOT / "Makefile").read_text().split("\nzipapp:", 1)[1]
    (line,) = [x.strip() for x in recipe.splitlines() if "/shiv " in x]
    command = shlex.split(line.replace("$(BIN)", str(Path(sys.executable).parent)))
    command[command.index("-o") + 1] = str(output)
    return command


def _plain_python() -> str:
    """An interpreter of this Python version that is not the test virtualenv."""
    wanted = f"{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in ("/usr/bin/python3", getattr(sys, "_base_executable", "")):
        if not candidate or not Path(candidate).exists():
            continue
        version = subprocess.run(
            [candidate, "-I", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,
            env={},
        ).stdout.strip()
        if version == wanted:
            return candidate
    pytest.skip(f"no Python {wanted} outside the virtualenv (the zipapp's wheels are for it)")


@pytest.fixture(scope="session")
def zipapp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("zipapp") / "kenner.pyz"
    command = _makefile_shiv_command(output)
    if not Path(command[0]).exists():
        pytest.skip(f"shiv is not installed at {command[0]} (make installs the dev extras)")
    built = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    return output


@pytest.fixture
def plain_env(tmp_path: Path) -> dict[str, str]:
    """An environment with nothing from the test run; shiv unpacks under this test's tmp."""
    return {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "SHIV_ROOT": str(tmp_path / "shiv")}


def test_the_plain_python_has_no_kenner(plain_env: dict[str, str]) -> None:
    done = subprocess.run(
        [_plain_python(), "-I", "-c", "import kenner"],
        capture_output=True,
        text=True,
        env=plain_env,
        check=False,
    )
    assert done.returncode == 1
    assert "No module named 'kenner'" in done.stderr


def test_zipapp_version(zipapp: Path, plain_env: dict[str, str]) -> None:
    done = subprocess.run(
        [_plain_python(), "-I", str(zipapp), "--version"],
        capture_output=True,
        text=True,
        env=plain_env,
        check=False,
        timeout=120,
    )
    assert (done.returncode, done.stdout.strip()) == (0, f"kenner {__version__}"), done.stderr


def test_zipapp_carries_native_wheels(zipapp: Path) -> None:
    names = zipfile.ZipFile(zipapp).namelist()
    for native in (r"cryptography/hazmat/bindings/_rust.*\.so", r"nacl/_sodium.*\.so"):
        assert any(re.search(native, name) for name in names), native


@pytest.fixture
def zipapp_daemon(
    zipapp: Path, plain_env: dict[str, str], tmp_path: Path
) -> Iterator[tuple[RunningDaemon, trustme.CA]]:
    ca = trustme.CA()
    cert, key = issue_certificate(ca, tmp_path)
    log_path = tmp_path / "kenner.log"
    command = [_plain_python(), "-I", str(zipapp), "serve", "--listen", "127.0.0.1:0"]
    command += ["--tls-cert", str(cert), "--tls-key", str(key)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=log, stdin=subprocess.DEVNULL, env=plain_env, cwd=tmp_path
        )
    daemon = RunningDaemon(process, log_path, "")
    try:
        daemon.wait_for_log("kenner is serving", timeout_s=60)
        line = next(x for x in daemon.log_lines() if x.get("message") == "kenner is serving")
        assert isinstance(line["binds"], list)
        daemon.url = str(line["binds"][0])
        yield daemon, ca
    finally:
        daemon.stop()


def test_zipapp_serves_a_review(zipapp_daemon: tuple[RunningDaemon, trustme.CA]) -> None:
    daemon, ca = zipapp_daemon
    with httpx.Client(base_url=daemon.url, verify=client_context(ca), timeout=20) as client:
        answer = client.post(
            "/mutate",
            content=SAMPLE_REVIEW.read_bytes(),
            headers={"Content-Type": "application/json"},
        )
        health = client.get("/health")
    assert answer.status_code == 200
    response = answer.json()["response"]
    # The embedded default configuration (inside the zipapp) denies nginx from Docker Hub.
    assert response["allowed"] is False
    assert "docker.io/library/nginx:1.27" in response["status"]["message"]
    assert health.json() == {"status": "ok"}
    assert daemon.stop() == 0  # SIGTERM drains and exits cleanly
