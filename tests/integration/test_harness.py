"""Sanity tests proving the test bed is what the integration tests rely on."""

from __future__ import annotations

import base64
import json
import os
import socket
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.harness import CASE_IDS, HarnessError, Testbed, processes, services, start_testbed, web
from tests.harness.oci import MANIFEST_ACCEPT, sha256_digest

pytestmark = pytest.mark.testbed


def trust_json(testbed: Testbed, gun: str, role: str) -> web.Response:
    return web.get(f"{testbed.notary_url}/v2/{gun}/_trust/tuf/{role}.json", testbed.ca_cert_path)


def signed_part(testbed: Testbed, gun: str, role: str) -> dict[str, Any]:
    reply = trust_json(testbed, gun, role)
    assert reply.status == 200, f"{gun} {role}.json answered {reply.status}"
    document: dict[str, Any] = json.loads(reply.body)["signed"]
    return document


def root_key_pems(root: dict[str, Any]) -> list[str]:
    """Public keys (PEM) of the x509 root certificates listed for the root role."""
    pems = []
    for key_id in root["roles"]["root"]["keyids"]:
        certificate = x509.load_pem_x509_certificate(
            base64.b64decode(root["keys"][key_id]["keyval"]["public"])
        )
        pems.append(
            certificate.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
    return pems


def listening_addresses(port: int) -> set[str]:
    """Local IPv4/IPv6 addresses (hex, as in /proc/net) listening on ``port``."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, hex_port = fields[1].split(":")
            if fields[3] == "0A" and int(hex_port, 16) == port:  # 0A = LISTEN
                found.add(address)
    return found


def test_services_are_healthy_and_listen_on_loopback_only(testbed: Testbed) -> None:
    pids = testbed.pids()
    assert set(pids) == {"notary-signer", "notary-server", "registry"}
    assert web.get(testbed.notary_health_url, testbed.ca_cert_path).body == b"{}"
    assert web.get(f"{testbed.registry_url}/v2/", testbed.ca_cert_path).status == 200
    ports = services.read_ports(services.StateLayout(testbed.state_dir))
    for port in (ports.notary, ports.registry, ports.signer):
        assert listening_addresses(port) == {"0100007F"}  # 127.0.0.1, nothing else


def test_tls_needs_the_test_bed_ca(testbed: Testbed) -> None:
    with pytest.raises(urllib.error.URLError) as failure:
        urllib.request.urlopen(testbed.notary_health_url, context=ssl.create_default_context())
    assert isinstance(failure.value.reason, ssl.SSLCertVerificationError)
    assert testbed.ca_cert_path.read_text() == testbed.ca_pem


def test_every_case_id_is_static_and_unique(testbed: Testbed) -> None:
    assert tuple(case.id for case in testbed.cases) == CASE_IDS
    assert len(set(CASE_IDS)) == len(CASE_IDS) == 39
    assert {case.root_key for case in testbed.cases} == set(testbed.root_keys)


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_case_image_is_served_by_the_registry(testbed: Testbed, case_id: str) -> None:
    case = testbed.case(case_id)
    host, _, rest = case.image.partition("/")
    assert host == testbed.registry_host
    repository, separator, reference = rest.partition("@") if "@" in rest else rest.rpartition(":")
    assert separator
    reply = web.get(
        f"{testbed.registry_url}/v2/{repository}/manifests/{reference}",
        testbed.ca_cert_path,
        accept=MANIFEST_ACCEPT,
    )
    assert reply.status == 200
    assert sha256_digest(reply.body) == case.registry_digest
    if separator == "@":
        assert reference == case.registry_digest
    assert (case.verdict == "allow") == (case.digest is not None)
    assert case.root_key_pem == testbed.root_keys[case.root_key]


ALLOWED_TAG_CASES = [
    case_id
    for case_id in CASE_IDS
    if case_id.endswith("/trusted-root")
    and "by-digest" not in case_id
    and case_id.split("/")[1] not in ("unsigned-tag", "alice-only")
    and not case_id.startswith(("unsigned/", "other-root/"))
]


@pytest.mark.parametrize("case_id", ALLOWED_TAG_CASES)
def test_allowed_tags_are_targets_in_the_served_trust_data(testbed: Testbed, case_id: str) -> None:
    case = testbed.case(case_id)
    assert case.verdict == "allow"
    tag = case.image.rsplit(":", 1)[1]
    targets = signed_part(testbed, case.gun, "targets")
    roles = ["targets"] + [role["name"] for role in targets["delegations"]["roles"]]
    signed_digests = set()
    for role in roles:
        reply = trust_json(testbed, case.gun, role)
        if reply.status == 200:
            entry = (json.loads(reply.body)["signed"].get("targets") or {}).get(tag)
            if entry is not None:
                signed_digests.add("sha256:" + base64.b64decode(entry["hashes"]["sha256"]).hex())
    assert case.digest in signed_digests


def test_unsigned_repo_has_no_trust_data(testbed: Testbed) -> None:
    assert trust_json(testbed, testbed.guns["unsigned"], "root").status == 404
    assert trust_json(testbed, testbed.guns["signed"], "root").status == 200


def test_root_keys_are_the_ones_the_repos_were_created_with(testbed: Testbed) -> None:
    keys = testbed.root_keys
    for scenario in ("signed", "moved-tag", "delegated", "multi-arch", "delegation-unused"):
        assert root_key_pems(signed_part(testbed, testbed.guns[scenario], "root")) == [
            keys["root-main"]
        ]
    assert root_key_pems(signed_part(testbed, testbed.guns["other-root"], "root")) == [
        keys["root-other"]
    ]
    rotated = testbed.guns["root-rotated"]
    assert root_key_pems(signed_part(testbed, rotated, "1.root")) == [keys["root-main"]]
    assert root_key_pems(signed_part(testbed, rotated, "root")) == [keys["root-rotated"]]


def test_delegation_metadata_is_published_only_where_used(testbed: Testbed) -> None:
    delegated, unused = testbed.guns["delegated"], testbed.guns["delegation-unused"]
    assert signed_part(testbed, delegated, "targets").get("targets") in ({}, None)
    for role in ("targets/releases", "targets/alice"):
        assert trust_json(testbed, delegated, role).status == 200
    declared = signed_part(testbed, unused, "targets")["delegations"]["roles"]
    assert [role["name"] for role in declared] == ["targets/releases"]
    assert trust_json(testbed, unused, "targets/releases").status == 404


def test_moved_tag_serves_another_image_than_was_signed(testbed: Testbed) -> None:
    case = testbed.case("moved-tag/v1/trusted-root")
    assert case.digest == testbed.case("moved-tag/A-by-digest/trusted-root").digest
    assert (
        case.registry_digest == testbed.case("moved-tag/B-by-digest/trusted-root").registry_digest
    )
    assert case.digest != case.registry_digest


def test_sign_tag_publishes_a_new_signed_tag(testbed: Testbed) -> None:
    gun = testbed.guns["signed"]
    served = testbed.push_image("harness-sign-tag", "signed", "harness-sign-tag")
    testbed.sign_tag(gun, "harness-sign-tag", served.digest, served.size)
    entry = signed_part(testbed, gun, "targets")["targets"]["harness-sign-tag"]
    assert entry["length"] == served.size
    assert base64.b64decode(entry["hashes"]["sha256"]).hex() == served.digest.removeprefix(
        "sha256:"
    )
    assert "harness-sign-tag" in testbed.notary_cmd("list", gun)


def test_notary_server_down_and_up_again(disposable_testbed: Testbed) -> None:
    bed = disposable_testbed
    stopped = bed.stop_notary_server()
    assert stopped is not None
    assert not processes.is_alive(stopped)
    assert not web.is_ok(bed.notary_health_url, bed.ca_cert_path)
    bed.start_notary_server()
    assert web.get(bed.notary_health_url, bed.ca_cert_path).body == b"{}"
    assert bed.pids()["notary-server"] != stopped


def test_stop_by_pid_leaves_no_process_and_frees_the_ports(disposable_testbed: Testbed) -> None:
    bed = disposable_testbed
    pids = bed.pids()
    ports = services.read_ports(services.StateLayout(bed.state_dir))
    assert bed.stop() == {name: pids[name] for name in services.STOP_ORDER}
    assert not any(processes.is_alive(pid) for pid in pids.values())
    assert bed.pids() == {}
    assert not list((bed.state_dir / "run").glob("*.pid"))
    for port in (ports.notary, ports.registry, ports.signer):
        assert _refuses_connections(port)
    assert bed.stop() == {}  # idempotent, nothing left to signal


def test_failed_start_stops_what_it_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A real failure half-way: notary-server cannot bind its port because we hold it.
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        free = services.pick_ports()
        monkeypatch.setattr(
            services, "pick_ports", lambda: services.Ports(free.registry, taken, free.signer)
        )
        with pytest.raises(HarnessError, match="notary-server exited during start-up"):
            start_testbed(tmp_path / "testbed")
    assert services.running_pids(services.StateLayout(tmp_path / "testbed")) == {}
    # No process still runs with the state dir on its command line (the PID files are gone,
    # so look at every process). Probing the ports instead is racy: a connect to a free
    # ephemeral port can pick that same port as its source and connect to itself.
    assert _processes_mentioning(tmp_path / "testbed") == []


def test_start_reuses_a_running_state_dir(disposable_testbed: Testbed) -> None:
    pids = disposable_testbed.pids()
    again = start_testbed(disposable_testbed.state_dir, with_scenarios=False)
    assert again == disposable_testbed
    assert again.pids() == pids


def test_start_refuses_a_foreign_directory(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("not a test bed")
    with pytest.raises(HarnessError, match="not a test bed state dir"):
        start_testbed(tmp_path)
    assert os.listdir(tmp_path) == ["precious.txt"]


def run_cli(*args: str) -> dict[str, Any]:
    repo_root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-m", "tests.harness", *args],
        cwd=repo_root,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    document: dict[str, Any] = json.loads(done.stdout)
    return document


def test_cli_up_and_down_print_json(tmp_path: Path) -> None:
    state = tmp_path / "cli-testbed"
    up = run_cli("up", str(state), "--services-only")
    pids = up["pids"]
    try:
        assert up["state_dir"] == str(state)
        assert up["cases"] == []
        assert web.get(up["notary_health_url"], Path(up["ca_cert_path"])).body == b"{}"
        assert all(processes.is_alive(pid) for pid in pids.values())
    finally:
        down = run_cli("down", str(state))
    assert down["stopped"] == pids
    assert not any(processes.is_alive(pid) for pid in pids.values())


def _processes_mentioning(folder: Path) -> list[int]:
    """PIDs whose command line names ``folder`` (zombies, which hold nothing, excluded)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and str(folder).encode() in cmdline:
            found.append(int(entry.name))
    return found


def _refuses_connections(port: int) -> bool:
    """Whether nothing listens on 127.0.0.1:``port``: a listener never refuses a connection.

    Tried three times, because a connect to a free port in the ephemeral range can (rarely)
    pick that very port as its source and connect to itself.
    """
    for _ in range(3):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        except ConnectionRefusedError:
            return True
    return False
