"""The benchmark's log readers: notary-server's JSON lines, docker-registry's logrus + access lines.

The lines are written here in the shape both servers really log (notary-server 0.7 and
docker-registry 2.8, as started by tests/harness): field names, order and quoting as seen in
their logs, with the other lines they write around kenner's requests (startup messages, the
harness's own clients, extra lines for a 404).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import attrs
import pytest
from bench.cosign_log import (
    AUTH,
    BLOB,
    BY_DIGEST,
    OTHER,
    SIGNATURE,
    TAG,
    RegistryFetch,
    RegistryLog,
    RegistrySummary,
    request_kind,
)
from bench.cosign_log import parse_fetches as parse_registry
from bench.errors import BenchError
from bench.notary_log import FetchSummary, NotaryLog, TrustFetch
from bench.notary_log import parse_fetches as parse_notary
from bench.server_log import ServerLog, describe_samples, new_connections

KENNER = "kenner/0.1.0"
GUN = "127.0.0.1:41379/kenner-test"
DIGEST = "sha256:" + "7a" * 32
SIGNATURE_TAG = "sha256-" + "7a" * 32 + ".sig"


def notary_line(
    uri: str, client: str, status: int = 200, agent: str = KENNER, msg: str = "response completed"
) -> str:
    """One line of notary-server's log about a request, its fields in the server's order."""
    record: dict[str, object] = {
        "go.version": "go1.19.8",
        "http.request.host": "127.0.0.1:57221",
        "http.request.id": "9a3229f9-9118-4146-b39e-b405fa64457b",
        "http.request.method": "GET",
        "http.request.remoteaddr": client,
        "http.request.uri": uri,
        "http.request.useragent": agent,
    }
    if msg == "response completed":
        record |= {
            "http.response.duration": "48.151µs",
            "http.response.status": status,
            "http.response.written": 1581,
        }
    fields = {**record, "level": "info", "msg": msg, "time": "2026-11-27T09:53:12Z"}
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=False)


def trust(repository: str, role: str) -> str:
    return f"/v2/{GUN}/{repository}/_trust/tuf/{role}.json"


NOTARY_STARTUP = [
    '{"level":"info","msg":"Using remote signing service","time":"2026-11-27T09:53:09Z"}',
    '{"level":"info","msg":"Starting on 127.0.0.1:57221","time":"2026-11-27T09:53:09Z"}',
]


def test_notary_counts_kenners_trust_requests_only() -> None:
    lines = [
        *NOTARY_STARTUP,
        # The harness's notary client and its health probe are not kenner.
        notary_line("/v2/", "127.0.0.1:45796", agent="Go-http-client/1.1"),
        notary_line(trust("signed", "root"), "127.0.0.1:45812", agent="Go-http-client/1.1"),
        notary_line(trust("signed", "root"), "127.0.0.1:47144"),
        notary_line(trust("signed", "timestamp"), "127.0.0.1:47156"),
        # A key request from kenner is not trust data.
        notary_line(f"/v2/{GUN}/signed/_trust/tuf/timestamp.key", "127.0.0.1:47144"),
        notary_line(trust("signed", "targets/releases"), "127.0.0.1:47144"),
    ]

    assert parse_notary(lines) == [
        TrustFetch(f"{GUN}/signed", "root", 200, "127.0.0.1:47144"),
        TrustFetch(f"{GUN}/signed", "timestamp", 200, "127.0.0.1:47156"),
        TrustFetch(f"{GUN}/signed", "targets/releases", 200, "127.0.0.1:47144"),
    ]


def test_a_404_counts_once_though_notary_logs_three_lines_for_it() -> None:
    # notary-server writes "404 GET root role" and "metadata not found" before the
    # "response completed" line; only the last one is the request.
    uri = trust("rotated", "2.root")
    lines = [
        notary_line(uri, "127.0.0.1:46532", msg="404 GET 2.root role"),
        notary_line(uri, "127.0.0.1:46532", msg="metadata not found: No record found"),
        notary_line(uri, "127.0.0.1:46532", status=404),
    ]

    assert parse_notary(lines) == [TrustFetch(f"{GUN}/rotated", "2.root", 404, "127.0.0.1:46532")]


@pytest.mark.parametrize(
    ("role", "kind"),
    [
        ("root", "top-level"),
        ("timestamp", "top-level"),
        ("snapshot", "top-level"),
        ("targets", "top-level"),
        ("2.root", "versioned root"),
        ("targets/releases", "delegation"),
        ("targets/alice", "delegation"),
    ],
)
def test_a_roles_kind_names_the_round_that_fetches_it(role: str, kind: str) -> None:
    assert TrustFetch(GUN, role, 200, "127.0.0.1:1").kind == kind


def cold_notary_validation(clients: tuple[str, ...]) -> FetchSummary:
    """Two repositories: one on targets.json only, one with a rotated root and a delegation."""
    lines = [notary_line(trust("signed", role), clients[0]) for role in ("root", "timestamp")]
    lines += [notary_line(trust("rotated", "root"), clients[1])]
    lines += [notary_line(trust("signed", role), clients[2]) for role in ("snapshot", "targets")]
    lines += [notary_line(trust("rotated", role), clients[0]) for role in ("timestamp", "targets")]
    lines += [notary_line(trust("rotated", "snapshot"), clients[1])]
    lines += [notary_line(trust("rotated", "2.root"), clients[1])]
    lines += [notary_line(trust("rotated", "targets/releases"), clients[2], status=404)]
    return FetchSummary(tuple(parse_notary(lines)))


def test_notary_summary_counts_rounds_of_the_slowest_repository_and_connections() -> None:
    summary = cold_notary_validation(("127.0.0.1:1001", "127.0.0.1:1002", "127.0.0.1:1003"))

    assert summary.count == 10
    assert summary.connections == 3
    # signed took one round, rotated three (top-level, versioned root, delegation): concurrent
    # repositories cost the slowest one's rounds, not the sum.
    assert summary.rounds == 3
    assert summary.per_repository() == (
        "signed: 4 top-level, rotated: 4 top-level + 1 versioned root + 1 delegation"
    )
    assert summary.statuses() == Counter({200: 9, 404: 1})


def test_an_empty_notary_interval_counts_nothing() -> None:
    summary = FetchSummary(tuple(parse_notary(NOTARY_STARTUP)))

    assert (summary.count, summary.connections, summary.rounds) == (0, 0, 0)
    assert summary.per_repository() == ""


def test_samples_that_fetch_different_roles_differ() -> None:
    first = cold_notary_validation(("127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"))
    same = cold_notary_validation(("127.0.0.1:4", "127.0.0.1:5", "127.0.0.1:6"))
    # Same kinds and count, but another delegation: a different shape.
    other_role = FetchSummary(
        tuple(
            attrs.evolve(fetch, role="targets/alice") if fetch.role == "targets/releases" else fetch
            for fetch in first.fetches
        )
    )
    alike = "every sample fetched the same roles"

    assert describe_samples([first, same], alike) == (
        f"{first.per_repository()}; 9x HTTP 200, 1x HTTP 404; {alike}"
    )
    assert describe_samples([first, other_role], alike).endswith("; SAMPLES DIFFER: 10, 10")


@pytest.mark.parametrize(
    "line",
    [
        # Cut off after its message: the log was read while the line was being written.
        notary_line(trust("signed", "root"), "127.0.0.1:1")[:-10],
        '{"msg":"response completed","http.request.uri":"/v2/x/_trust/tuf/root.json"}',
        notary_line(trust("signed", "root"), "127.0.0.1:1").replace(
            '"http.response.status":200', '"http.response.status":"OK"'
        ),
    ],
    ids=["truncated", "no status", "status not a number"],
)
def test_an_unreadable_notary_request_line_stops_the_run(line: str) -> None:
    with pytest.raises(BenchError, match="unreadable notary-server log line"):
        parse_notary([*NOTARY_STARTUP, line])


def registry_lines(
    uri: str,
    client: str,
    status: int = 200,
    agent: str = KENNER,
    method: str = "GET",
) -> list[str]:
    """docker-registry's two lines for one answered request: logrus, then the access log."""
    error = status >= 400
    logrus = (
        f'time="2026-11-27T09:53:16.268646224Z" level={"error" if error else "info"} '
        f'msg="response completed{" with error" if error else ""}" '
        + (
            'err.code="manifest unknown" err.detail="unknown tag=\\"v9\\"" '
            'err.message="manifest unknown" '
            if error
            else ""
        )
        + 'go.version=go1.19.8 http.request.host="127.0.0.1:49627" '
        f"http.request.id=882a0908-1586-4762-9bc5-c786ff99d214 http.request.method={method} "
        f'http.request.remoteaddr="{client}" http.request.uri={uri} '
        f"http.request.useragent={agent} "
        "http.response.contenttype=application/vnd.oci.image.manifest.v1+json "
        f'http.response.duration="940.99µs" http.response.status={status} '
        "http.response.written=275"
    )
    host = client.rsplit(":", 1)[0]
    access = (
        f'{host} - - [27/Nov/2026:09:53:16 +0000] "{method} {uri} HTTP/1.1" {status} 275 "" '
        f'"{agent}"'
    )
    return [logrus, access]


REGISTRY_STARTUP = [
    'time="2026-11-27T09:53:15.664778886Z" level=info msg="redis not configured" '
    "go.version=go1.19.8 instance.id=f988f4a6-e6d0-4cfd-ac29-17a13316d46d version=2.8.2+ds1",
    'time="2026-11-27T09:53:15.665316275Z" level=info msg="listening on 127.0.0.1:49627, tls" '
    "go.version=go1.19.8 instance.id=f988f4a6-e6d0-4cfd-ac29-17a13316d46d version=2.8.2+ds1",
]


@pytest.mark.parametrize(
    ("uri", "status", "expected"),
    [
        ("/v2/kenner-bench/alpha/manifests/v1", 200, ("kenner-bench/alpha", TAG)),
        (
            f"/v2/kenner-bench/alpha/manifests/{SIGNATURE_TAG}",
            200,
            ("kenner-bench/alpha", SIGNATURE),
        ),
        (f"/v2/kenner-bench/alpha/manifests/{DIGEST}", 200, ("kenner-bench/alpha", BY_DIGEST)),
        (f"/v2/kenner-bench/alpha/blobs/{DIGEST}", 200, ("kenner-bench/alpha", BLOB)),
        ("/v2/", 200, ("", AUTH)),
        ("/v2", 200, ("", AUTH)),
        ("/v2/?service=registry", 200, ("", AUTH)),
        ("/v2/team/app/manifests/v1", 401, ("", AUTH)),
        ("/v2/_catalog", 200, ("", OTHER)),
    ],
)
def test_a_registry_requests_kind_is_the_validation_step_that_made_it(
    uri: str, status: int, expected: tuple[str, str]
) -> None:
    assert request_kind(uri, status) == expected


def test_registry_counts_kenners_requests_checked_against_the_access_log() -> None:
    lines = [
        *REGISTRY_STARTUP,
        *registry_lines("/v2/", "127.0.0.1:45476", agent="Python-urllib/3.11"),
        *registry_lines("/v2/", "127.0.0.1:59190"),
        *registry_lines("/v2/kenner-bench/alpha/manifests/v1", "127.0.0.1:59190"),
        *registry_lines("/v2/kenner-bench/beta/manifests/v9", "127.0.0.1:59192", status=404),
        *registry_lines(f"/v2/kenner-bench/alpha/manifests/{SIGNATURE_TAG}", "127.0.0.1:59190"),
    ]

    assert parse_registry(lines) == [
        RegistryFetch("", AUTH, 200, "127.0.0.1:59190"),
        RegistryFetch("kenner-bench/alpha", TAG, 200, "127.0.0.1:59190"),
        RegistryFetch("kenner-bench/beta", TAG, 404, "127.0.0.1:59192"),
        RegistryFetch("kenner-bench/alpha", SIGNATURE, 200, "127.0.0.1:59190"),
    ]


def test_registry_summary_leaves_auth_traffic_out_of_counts_and_rounds() -> None:
    lines = [
        *registry_lines("/v2/", "127.0.0.1:1"),
        # The signature is logged before the tag: the order of the steps shown does not follow.
        *registry_lines(f"/v2/kenner-bench/alpha/manifests/{SIGNATURE_TAG}", "127.0.0.1:2"),
        *registry_lines("/v2/kenner-bench/alpha/manifests/v1", "127.0.0.1:1"),
        *registry_lines(f"/v2/kenner-bench/beta/manifests/{DIGEST}", "127.0.0.1:3"),
        *registry_lines(f"/v2/kenner-bench/beta/blobs/{DIGEST}", "127.0.0.1:3"),
        *registry_lines("/v2/_catalog", "127.0.0.1:3", status=404),
    ]
    summary = RegistrySummary(tuple(parse_registry(lines)))

    assert summary.count == 4
    assert summary.auth_count == 2
    assert summary.connections == 3
    assert summary.rounds == 2
    assert summary.per_repository() == (
        "alpha: 1 tag + 1 signature, beta: 1 manifest by digest + 1 payload blob"
    )
    assert summary.statuses() == Counter({200: 5, 404: 1})


@pytest.mark.parametrize(
    ("lines", "access", "requests"),
    [
        # A request line without its access line (say the access log format changed).
        (registry_lines("/v2/kenner-bench/alpha/manifests/v1", "127.0.0.1:1")[:1], 0, 1),
        # An access line without its request line (say the request log format changed).
        (registry_lines("/v2/kenner-bench/alpha/manifests/v1", "127.0.0.1:1")[1:], 1, 0),
    ],
    ids=["request line alone", "access line alone"],
)
def test_registry_logs_that_count_differently_stop_the_run(
    lines: list[str], access: int, requests: int
) -> None:
    message = f"access log shows {access} requests from kenner, its request log {requests}"
    with pytest.raises(BenchError, match=message):
        parse_registry([*REGISTRY_STARTUP, *lines])


def test_other_clients_access_lines_do_not_count_against_kenners() -> None:
    probe = registry_lines("/v2/", "127.0.0.1:1", agent="Python-urllib/3.11")

    assert parse_registry([probe[1]]) == []


@pytest.mark.parametrize(
    ("old", "new"),
    [("http.response.status=200", "http.response.status=OK"), ("http.request.uri=", "uri=")],
    ids=["status not a number", "no URI"],
)
def test_an_unreadable_registry_request_line_stops_the_run(old: str, new: str) -> None:
    logrus, access = registry_lines("/v2/kenner-bench/alpha/manifests/v1", "127.0.0.1:1")

    with pytest.raises(BenchError, match="unreadable docker-registry log line"):
        parse_registry([logrus.replace(old, new), access])


def test_new_connections_are_those_the_first_request_did_not_open() -> None:
    def over(*clients: str) -> RegistrySummary:
        return RegistrySummary(tuple(RegistryFetch("r", TAG, 200, client) for client in clients))

    first = over("127.0.0.1:1", "127.0.0.1:2")

    assert new_connections(first, [over("127.0.0.1:1"), over("127.0.0.1:2")]) == 0
    assert new_connections(first, [over("127.0.0.1:1", "127.0.0.1:3"), over("127.0.0.1:3")]) == 1


def test_a_server_log_is_read_from_the_remembered_position(tmp_path: Path) -> None:
    path = tmp_path / "server.log"
    path.write_text("before\n")
    log = ServerLog(path)
    position = log.position()
    with path.open("a") as out:
        out.write("after 1\nafter 2\n")

    assert position == len("before\n")
    assert log.settled_tail(position) == "after 1\nafter 2\n"


def test_the_scenarios_logs_sum_up_what_was_added(tmp_path: Path) -> None:
    notary_path, registry_path = tmp_path / "notary-server.log", tmp_path / "registry.log"
    notary_path.write_text(notary_line(trust("signed", "root"), "127.0.0.1:1") + "\n")
    registry_path.write_text("\n".join(REGISTRY_STARTUP) + "\n")
    notary, registry = NotaryLog(notary_path), RegistryLog(registry_path)
    notary_from, registry_from = notary.position(), registry.position()
    with notary_path.open("a") as out:
        out.write(notary_line(trust("signed", "timestamp"), "127.0.0.1:2") + "\n")
    with registry_path.open("a") as out:
        out.write("\n".join(registry_lines("/v2/kenner-bench/alpha/manifests/v1", "127.0.0.1:3")))

    assert notary.fetches_since(notary_from).fetches == (
        TrustFetch(f"{GUN}/signed", "timestamp", 200, "127.0.0.1:2"),
    )
    assert registry.fetches_since(registry_from).fetches == (
        RegistryFetch("kenner-bench/alpha", TAG, 200, "127.0.0.1:3"),
    )
