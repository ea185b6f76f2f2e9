"""``make image``: kenner's OCI image, built here without a container engine (image/build.py).

Slow (two builds of about a minute each): the image is built twice from the same commit with
the same ``SOURCE_DATE_EPOCH`` and must get the same digest. Then its config is checked against
k8s/deployment.yaml (user, entrypoint, arguments, port) and for its OCI labels; its root file
system (``umoci unpack``) for no shell, nothing writable and a dpkg database for scanners; it
is pushed to the test bed's registry with ``skopeo copy``; and kenner is run from the unpacked
root file system as the Deployment runs it: ``unshare`` + ``chroot`` as the image's user, the
root read-only, a 16 MiB tmpfs on ``/tmp``, configuration and certificate mounted read-only,
to answer reviews over HTTPS (a Notary-signed image of the test bed is admitted and pinned:
the image's CA bundle and TLS work).

Skipped, saying why, when not root, when mmdebstrap, umoci or skopeo are missing and cannot be
installed, or when the Debian mirror cannot be reached (the build downloads Debian packages;
they are kept in image/build.py's ``APT_CACHE`` for the next build).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import stat
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
import trustme
import yaml

from image.build import APT_CACHE, MIRROR, SUITE, kenner_image
from image.oci import read_blob, read_manifest
from kenner import __version__
from tests.harness import Testbed
from tests.harness.errors import HarnessError, TestbedUnavailable
from tests.harness.packages import ensure_packages
from tests.harness.services import StateLayout
from tests.integration.test_notaryv1_e2e import config_yaml
from tests.loopback.daemon import RunningDaemon, client_context, issue_certificate
from tests.support.reviews import pod_review

ROOT = Path(__file__).resolve().parents[2]
TOOLS = {"mmdebstrap": ("mmdebstrap",), "umoci": ("umoci",), "skopeo": ("skopeo",)}
EPOCH = 1764806400  # 2025-12-04T00:00:00Z: any fixed time will do
SOURCE = "https://example.invalid/kenner"
TAG = __version__
SHELLS = ("sh", "bash", "dash", "ash", "busybox", "zsh")

pytestmark = pytest.mark.testbed


@attrs.frozen
class Built:
    layout: Path
    digest: str


@pytest.fixture(scope="module")
def image_tools() -> None:
    if os.geteuid() != 0:
        pytest.skip("building the image needs root (mmdebstrap's root mode, chroot)")
    try:
        ensure_packages(TOOLS)
    except (TestbedUnavailable, HarnessError) as error:
        pytest.skip(f"the image tools cannot be installed: {error}")
    _skip_unless_reachable(f"{MIRROR}/dists/{SUITE}/Release")


def build(out: Path) -> Built:
    return Built(out, kenner_image(out, tag=TAG, source=SOURCE, epoch=EPOCH, apt_cache=APT_CACHE))


@pytest.fixture(scope="module")
def built(image_tools: None, tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build(tmp_path_factory.mktemp("image") / "layout")


@pytest.fixture(scope="module")
def config(built: Built) -> dict[str, Any]:
    _, manifest = read_manifest(built.layout, TAG)
    return read_blob(built.layout, manifest["config"]["digest"])


@pytest.fixture(scope="module")
def rootfs(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Path:
    bundle = tmp_path_factory.mktemp("bundle") / "kenner"
    _run("umoci", "unpack", "--image", f"{built.layout}:{TAG}", str(bundle))
    return bundle / "rootfs"


def test_the_config_runs_kenner_as_the_deployment_does(config: dict[str, Any]) -> None:
    container, pod_security = _deployment()
    runtime = config["config"]
    assert runtime["User"] == f"{pod_security['runAsUser']}:{pod_security['runAsGroup']}"
    assert runtime["User"] == "65532:65532"  # numeric: runAsNonRoot is checked without passwd
    assert runtime["Entrypoint"] == ["/opt/kenner/bin/kenner"]
    assert runtime["Cmd"] == container["args"]
    ports = {f"{port['containerPort']}/tcp" for port in container["ports"]}
    assert set(runtime["ExposedPorts"]) == ports
    assert runtime["StopSignal"] == "SIGTERM"
    assert (config["os"], config["architecture"]) == ("linux", "amd64")
    assert config["created"] == "2025-12-04T00:00:00Z"


def test_the_oci_labels(built: Built, config: dict[str, Any]) -> None:
    labels = config["config"]["Labels"]
    assert labels["org.opencontainers.image.source"] == SOURCE
    assert labels["org.opencontainers.image.version"] == __version__
    assert labels["org.opencontainers.image.licenses"] == "Apache-2.0"
    _, manifest = read_manifest(built.layout, TAG)
    assert manifest["annotations"]["org.opencontainers.image.version"] == __version__


def test_the_root_file_system_has_no_shell_and_nothing_writable(rootfs: Path) -> None:
    for folder in ("bin", "sbin", "usr/bin", "usr/sbin"):
        for shell in SHELLS:
            assert not (rootfs / folder / shell).exists(), f"/{folder}/{shell}"
    writable = set()
    for path in [rootfs, *rootfs.rglob("*")]:
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            continue
        where = f"/{path.relative_to(rootfs)}"
        assert info.st_uid == 0, where
        if stat.S_ISREG(info.st_mode):
            assert not info.st_mode & (stat.S_ISUID | stat.S_ISGID), where  # no set-id program
        if info.st_mode & stat.S_IWOTH:
            assert stat.S_ISDIR(info.st_mode), where
            assert info.st_mode & stat.S_ISVTX, where
            writable.add(where)
    # Debian's sticky scratch directories; under the read-only root only a mount is writable.
    assert writable == {"/tmp", "/var/tmp", "/var/lock"}
    assert "kenner:x:65532:65532:" in (rootfs / "etc/passwd").read_text()
    assert (rootfs / "opt/kenner/bin/kenner").read_text().startswith("#!/opt/kenner/bin/python3")


def test_the_dpkg_database_lists_every_package_for_scanners(rootfs: Path) -> None:
    """Each extracted package has its record, marked installed, and its copyright file."""
    status = (rootfs / "var/lib/dpkg/status").read_text().split("\n\n")
    records = [dict(line.split(": ", 1) for line in s.splitlines() if ": " in line) for s in status]
    names = {record["Package"] for record in records}
    assert {"python3.11", "libssl3", "ca-certificates", "libc6"} <= names
    assert all(record["Status"] == "install ok installed" for record in records)
    assert all(record["Version"] and record["Architecture"] for record in records)
    doc = rootfs / "usr/share/doc"
    assert {path.name for path in doc.iterdir()} == names
    for path in doc.iterdir():
        assert path.is_symlink() or [x.name for x in path.iterdir()] == ["copyright"], path


def test_skopeo_pushes_it_to_the_registry(built: Built, testbed: Testbed) -> None:
    reference = f"docker://{testbed.registry_host}/kenner/kenner:{TAG}"
    certs = str(StateLayout(testbed.state_dir).certs_d)
    _run("skopeo", "--insecure-policy", "copy", "--quiet", "--dest-cert-dir", certs,
         f"oci:{built.layout}:{TAG}", reference)  # fmt: skip
    inspected = json.loads(_run("skopeo", "inspect", "--cert-dir", certs, reference))
    assert inspected["Digest"] == built.digest  # the registry keeps the manifest as built
    assert inspected["Labels"]["org.opencontainers.image.version"] == __version__


@pytest.fixture
def image_daemon(
    rootfs: Path, testbed: Testbed, tmp_path: Path
) -> Iterator[tuple[RunningDaemon, trustme.CA]]:
    """kenner from the unpacked image: read-only root, tmpfs /tmp, mounted config and TLS."""
    ca = trustme.CA()
    config_dir, tls_dir = tmp_path / "config", tmp_path / "tls"
    config_dir.mkdir()
    tls_dir.mkdir()
    issue_certificate(ca, tls_dir)
    document = json.loads(config_yaml(testbed))
    document["server"] = {
        "listen": "127.0.0.1:0",
        "tls": {"certFile": "/etc/kenner/tls/tls.crt", "keyFile": "/etc/kenner/tls/tls.key"},
    }
    (config_dir / "config.yaml").write_text(json.dumps(document))
    log_path = tmp_path / "kenner.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            _contained(rootfs, {config_dir: "etc/kenner/config", tls_dir: "etc/kenner/tls"}),
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            env=_image_env(rootfs),
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


def test_kenner_runs_from_the_image_and_answers_reviews(
    image_daemon: tuple[RunningDaemon, trustme.CA], testbed: Testbed
) -> None:
    daemon, ca = image_daemon
    assert _uid_of(daemon.process.pid) == 65532
    signed = testbed.case("signed/v1/trusted-root")
    with httpx.Client(base_url=daemon.url, verify=client_context(ca), timeout=30) as client:
        answers = [
            client.post("/mutate", json=pod_review(image, uid="image-test")).json()["response"]
            for image in (signed.image, "nginx:1.27")
        ]
    admitted, denied = answers
    assert admitted["allowed"] is True
    patch = json.loads(base64.b64decode(admitted["patch"]))
    assert {"op": "replace", "path": "/spec/containers/0/image",
            "value": f"{signed.image}@{signed.digest}"} in patch  # fmt: skip
    assert denied["allowed"] is False
    assert "docker.io/library/nginx:1.27" in denied["status"]["message"]
    assert daemon.stop() == 0  # SIGTERM drains and exits cleanly


def test_kenner_verify_runs_from_the_image(rootfs: Path, testbed: Testbed, tmp_path: Path) -> None:
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    (config_dir / "config.yaml").write_text(config_yaml(testbed))
    signed = testbed.case("signed/v1/trusted-root")
    command = _contained(rootfs, {config_dir: "etc/kenner/config"}, entrypoint_only=True)
    command += ["verify", "--config", "/etc/kenner/config/config.yaml", "--output", "json"]
    done = subprocess.run(
        [*command, signed.image],
        capture_output=True,
        text=True,
        env=_image_env(rootfs),
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (image,) = json.loads(done.stdout)["images"]
    assert image["digest"] == signed.digest


def test_a_second_build_gives_the_same_digest(built: Built, tmp_path: Path) -> None:
    """Run after the tests that only read the first build: each test item builds once, so
    none runs past pytest's faulthandler timeout on a busy machine."""
    again = build(tmp_path / "layout")
    assert again.digest == built.digest
    assert (built.layout / "index.json").read_bytes() == (again.layout / "index.json").read_bytes()
    assert _blobs(built.layout) == _blobs(again.layout)
    # skopeo, another implementation, reads the same digest from the layout.
    inspected = json.loads(_run("skopeo", "inspect", f"oci:{built.layout}:{TAG}"))
    assert inspected["Digest"] == built.digest


def _contained(
    rootfs: Path, mounts: dict[Path, str], *, entrypoint_only: bool = False
) -> list[str]:
    """The image's process (config.json of the unpacked bundle) in a mount namespace of its
    own: the root file system read-only, a tmpfs on /tmp, ``mounts`` read-only, as its user.
    ``exec`` keeps one PID from the shell to kenner, so SIGTERM reaches kenner."""
    process = json.loads((rootfs.parent / "config.json").read_text())["process"]
    user = f"{process['user']['uid']}:{process['user']['gid']}"
    args = process["args"][:1] if entrypoint_only else process["args"]
    mount, chroot = shutil.which("mount"), shutil.which("chroot")
    steps = [
        f"{mount} --bind {rootfs} {rootfs}",
        f"{mount} -o remount,bind,ro {rootfs}",
        f"{mount} -t tmpfs -o size=16m,mode=1777 tmpfs {rootfs}/tmp",
        f"{mount} -t proc proc {rootfs}/proc",
    ]
    for source, target in mounts.items():
        steps += [
            f"{mount} --bind {source} {rootfs}/{target}",
            f"{mount} -o remount,bind,ro {rootfs}/{target}",
        ]
    script = " && ".join(steps) + f' && exec {chroot} --userspec={user} {rootfs} "$@"'
    return ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", script, "sh", *args]


def _image_env(rootfs: Path) -> dict[str, str]:
    process = json.loads((rootfs.parent / "config.json").read_text())["process"]
    return dict(entry.split("=", 1) for entry in process["env"])


def _uid_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError(f"no Uid line for {pid}")


def _deployment() -> tuple[dict[str, Any], dict[str, Any]]:
    deployment = yaml.safe_load((ROOT / "k8s/deployment.yaml").read_text())
    spec = deployment["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    return container, spec["securityContext"]


def _blobs(layout: Path) -> dict[str, int]:
    return {path.name: path.stat().st_size for path in (layout / "blobs/sha256").iterdir()}


def _skip_unless_reachable(url: str) -> None:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            answer.read(1)
    except OSError as error:
        pytest.skip(f"the image build needs the network to the Debian mirror {url}: {error}")


def _run(*command: str) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, f"{' '.join(command)}: {done.stderr[-3000:]}"
    return done.stdout
