"""The benchmark's log readers and its cache-state report.

The log lines are written here in the shape both servers really log (notary-server 0.7 and
docker-registry 2.8, as started by tests/harness): field names, order and quoting as seen in
their logs, with the other lines they write around kenner's requests (startup messages, the
harness's own clients, extra lines for a 404, docker-registry's access-log lines).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from bench.cache_report import Design, Sample, cache_report, require_counted
from bench.errors import BenchError
from bench.server_log import Fetch, ServerLog, notary_fetch, registry_fetch, rounds

KENNER = "kenner/0.1.0"
GUN = "127.0.0.1:41379/kenner-test"
DIGEST = "sha256:" + "7a" * 32
SIGNATURE_TAG = "sha256-" + "7a" * 32 + ".sig"


def read(reader: Callable[[str], Fetch | None], lines: list[str]) -> list[Fetch]:
    found = (reader(line) for line in lines)
    return [fetch for fetch in found if fetch is not None]


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


def test_notary_counts_kenners_requests_only() -> None:
    lines = [
        *NOTARY_STARTUP,
        # The harness's notary client and its health probe are not kenner.
        notary_line("/v2/", "127.0.0.1:45796", agent="Go-http-client/1.1"),
        notary_line(trust("signed", "root"), "127.0.0.1:45812", agent="Go-http-client/1.1"),
        notary_line(trust("signed", "root"), "127.0.0.1:47144"),
        notary_line(trust("signed", "timestamp"), "127.0.0.1:47156"),
        # A request of kenner's for something else than a role counts, outside any repository.
        notary_line(f"/v2/{GUN}/signed/_trust/tuf/timestamp.key", "127.0.0.1:47144"),
        notary_line(trust("signed", "targets/releases"), "127.0.0.1:47144"),
    ]

    assert read(notary_fetch, lines) == [
        Fetch(f"{GUN}/signed", "top-level"),
        Fetch(f"{GUN}/signed", "top-level"),
        Fetch("", "other"),
        Fetch(f"{GUN}/signed", "delegation"),
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

    assert read(notary_fetch, lines) == [Fetch(f"{GUN}/rotated", "versioned root")]


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
    assert notary_fetch(notary_line(trust("signed", role), "127.0.0.1:1")) == Fetch(
        f"{GUN}/signed", kind
    )


def test_rounds_are_those_of_the_slowest_repository() -> None:
    """Two repositories: one on targets.json only, one with a rotated root and a delegation."""
    lines = [notary_line(trust("signed", role), "127.0.0.1:1") for role in ("root", "targets")]
    lines += [notary_line(trust("rotated", "root"), "127.0.0.1:2")]
    lines += [notary_line(trust("rotated", "2.root"), "127.0.0.1:2")]
    lines += [notary_line(trust("rotated", "targets/releases"), "127.0.0.1:3", status=404)]
    fetches = read(notary_fetch, lines)

    assert len(fetches) == 5
    # signed took one round, rotated three (top-level, versioned root, delegation): concurrent
    # repositories cost the slowest one's rounds, not the sum.
    assert rounds(fetches) == 3
    # Requests outside any repository are no step of a validation.
    assert rounds([Fetch("", "other"), Fetch("", "tag")]) == 0
    assert rounds(read(notary_fetch, NOTARY_STARTUP)) == 0


@pytest.mark.parametrize(
    "line",
    [
        # Cut off after its message: the log was read while the line was being written.
        notary_line(trust("signed", "root"), "127.0.0.1:1")[:-10],
        '{"msg":"response completed","http.request.useragent":"kenner/0.1.0"}',
    ],
    ids=["truncated", "no URI"],
)
def test_an_unreadable_notary_request_line_stops_the_run(line: str) -> None:
    with pytest.raises(BenchError, match="unreadable notary-server log line"):
        read(notary_fetch, [*NOTARY_STARTUP, line])


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
        ("/v2/kenner-bench/alpha/manifests/v1", 200, Fetch("kenner-bench/alpha", "tag")),
        (
            f"/v2/kenner-bench/alpha/manifests/{SIGNATURE_TAG}",
            200,
            Fetch("kenner-bench/alpha", "signature"),
        ),
        (
            f"/v2/kenner-bench/alpha/manifests/{DIGEST}",
            200,
            Fetch("kenner-bench/alpha", "manifest by digest"),
        ),
        (
            f"/v2/kenner-bench/alpha/blobs/{DIGEST}",
            200,
            Fetch("kenner-bench/alpha", "payload blob"),
        ),
        (
            f"/v2/kenner-bench/alpha/manifests/{DIGEST.replace(':', '-')}",
            200,
            Fetch("kenner-bench/alpha", "referrers tag"),
        ),
        (
            f"/v2/kenner-bench/alpha/referrers/{DIGEST}?artifactType=x",
            200,
            Fetch("kenner-bench/alpha", "referrers API"),
        ),
        ("/v2/kenner-bench/beta/manifests/v9", 404, Fetch("kenner-bench/beta", "tag")),
        ("/v2/", 200, Fetch("", "other")),
        ("/v2/_catalog", 200, Fetch("", "other")),
    ],
)
def test_a_registry_requests_kind_is_the_validation_step_that_made_it(
    uri: str, status: int, expected: Fetch
) -> None:
    assert read(registry_fetch, registry_lines(uri, "127.0.0.1:1", status)) == [expected]


def test_registry_counts_kenners_requests_only() -> None:
    lines = [
        *REGISTRY_STARTUP,
        *registry_lines("/v2/", "127.0.0.1:45476", agent="Python-urllib/3.11"),
        *registry_lines("/v2/kenner-bench/alpha/manifests/v1", "127.0.0.1:59190"),
        *registry_lines(f"/v2/kenner-bench/alpha/manifests/{SIGNATURE_TAG}", "127.0.0.1:59190"),
    ]

    assert read(registry_fetch, lines) == [
        Fetch("kenner-bench/alpha", "tag"),
        Fetch("kenner-bench/alpha", "signature"),
    ]


def test_an_unreadable_registry_request_line_stops_the_run() -> None:
    logrus, access = registry_lines("/v2/kenner-bench/alpha/manifests/v1", "127.0.0.1:1")

    with pytest.raises(BenchError, match="unreadable docker-registry log line"):
        read(registry_fetch, [logrus.replace("http.request.uri=", "uri="), access])


def test_a_server_log_counts_what_was_added_after_the_remembered_position(
    tmp_path: Path,
) -> None:
    notary_path, registry_path = tmp_path / "notary-server.log", tmp_path / "registry.log"
    notary_path.write_text(notary_line(trust("signed", "root"), "127.0.0.1:1") + "\n")
    registry_path.write_text("\n".join(REGISTRY_STARTUP) + "\n")
    notary = ServerLog(notary_path, notary_fetch)
    registry = ServerLog(registry_path, registry_fetch)
    notary_from, registry_from = notary.position(), registry.position()
    with notary_path.open("a") as out:
        out.write(notary_line(trust("signed", "timestamp"), "127.0.0.1:2") + "\n")
    with registry_path.open("a") as out:
        out.write("\n".join(registry_lines("/v2/kenner-bench/alpha/manifests/v1", "127.0.0.1:3")))

    assert notary_from == len((notary_line(trust("signed", "root"), "127.0.0.1:1") + "\n").encode())
    assert notary.fetches_since(notary_from) == (Fetch(f"{GUN}/signed", "top-level"),)
    assert registry.fetches_since(registry_from) == (Fetch("kenner-bench/alpha", "tag"),)


def by_tag(repository: str) -> tuple[Fetch, ...]:
    return (Fetch(repository, "tag"), Fetch(repository, "signature"))


DESIGN = Design(4, 2, "2 per image (tag, then signature) x 2")


def test_the_report_shows_each_cache_states_cost_and_the_design_met() -> None:
    cold = [Sample(20.0, by_tag("a") + by_tag("b")), Sample(30.0, by_tag("b") + by_tag("a"))]
    misses = [Sample(9.0, by_tag("a") + by_tag("b")), Sample(11.0, by_tag("a"))]

    lines = cache_report("kenner cosign", "docker-registry", DESIGN, (cold, misses), (), 500)

    assert lines[2:4] == [
        "  Expected per cold validation: 2 per image (tag, then signature) x 2",
        "  = 4 in 2 rounds; warm: 0.",
    ]
    assert [line.split() for line in lines[5:8]] == [
        ["cold:", "fresh", "kenner", "2", "25.0", "20.0-30.0", "4", "2"],
        [
            "cache",
            "miss:",
            "running",
            "kenner,",
            "ttlSeconds",
            "0",
            "2",
            "10.0",
            "9.0-11.0",
            "2-4",
            "2",
        ],
        ["warm:", "cached", "(the", "table's", "rounds)", "500", "-", "-", "0", "-"],
    ]
    assert lines[-1] == "design met: 4 in 2 rounds cold, 0 warm"


def test_the_report_says_when_the_design_is_not_met() -> None:
    cold = [Sample(20.0, by_tag("a") + by_tag("b")), Sample(30.0, by_tag("a")[:1] + by_tag("b"))]

    lines = cache_report("x", "docker-registry", DESIGN, (cold, cold), [Fetch("a", "tag")], 9)

    assert lines[-1] == (
        "DESIGN NOT MET: expected 4 in 2 rounds cold and 0 warm, measured 3 in 2 rounds, "
        "4 in 2 rounds cold and 1 warm"
    )


def test_a_cold_sample_with_no_request_counted_stops_the_run(tmp_path: Path) -> None:
    log = ServerLog(tmp_path / "registry.log", registry_fetch)
    require_counted([Sample(1.0, by_tag("a"))], log)

    with pytest.raises(BenchError, match=r"registry\.log logged no request from kenner"):
        require_counted([Sample(1.0, by_tag("a")), Sample(1.0, ())], log)
