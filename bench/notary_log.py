"""Count kenner's requests to notary-server from the server's own log.

notary-server writes one JSON line per HTTP request it answered (``"msg": "response
completed"``, with the method, URI, status, client address and User-Agent). Counting those lines
counts what really reached the server, independent of what kenner believes it sent. Only lines
from kenner (User-Agent ``kenner/...``) for trust data (``/v2/<gun>/_trust/tuf/<role>.json``)
are counted; the harness's own notary client and health probes are left out.

Which round a fetch belongs to follows from the role (see kenner/validators/notaryv1.py): the
four top-level roles are fetched together in round 1, versioned roots (``<N>.root``) in a
round of their own only when the root was rotated, delegations (``targets/<name>``) in the last
round. The log has no sub-second times, so the rounds are read from the roles, and the
concurrency shows in the connections: HTTP/1.1 requests sent at the same time need a
connection each, while requests sent one after another on a warm client reuse one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

import attrs

from bench.errors import BenchError
from bench.server_log import RequestSummary, ServerLog, from_kenner

_TRUST_URI = re.compile(r"^/v2/(?P<gun>.+)/_trust/tuf/(?P<role>.+)\.json$")
_VERSIONED_ROOT = re.compile(r"^\d+\.root$")
TOP_LEVEL_ROLES = frozenset({"root", "timestamp", "snapshot", "targets"})
TOP_LEVEL = "top-level"
VERSIONED_ROOT = "versioned root"
DELEGATION = "delegation"


@attrs.frozen
class TrustFetch:
    """One trust-data request notary-server answered for kenner."""

    repository: str  # the GUN: registry host and image repository
    role: str
    status: int
    client: str  # host:port of kenner's side of the connection

    @property
    def kind(self) -> str:
        """``top-level``, ``versioned root`` or ``delegation``: which round fetched it."""
        if self.role in TOP_LEVEL_ROLES:
            return TOP_LEVEL
        if _VERSIONED_ROOT.match(self.role):
            return VERSIONED_ROOT
        return DELEGATION


@attrs.frozen
class FetchSummary(RequestSummary[TrustFetch]):
    """The trust-data requests of one interval, summed up (every one is a step)."""

    steps = (TOP_LEVEL, VERSIONED_ROOT, DELEGATION)

    def shape(self) -> tuple[tuple[str, str], ...]:
        """Which roles of which repositories were fetched, for comparing samples."""
        return tuple(sorted((fetch.repository, fetch.role) for fetch in self.fetches))


def parse_fetches(lines: Iterable[str]) -> list[TrustFetch]:
    """kenner's trust-data requests among notary-server's log lines (other lines are skipped).

    Raises:
        BenchError: a line that looks like a request record cannot be read.
    """
    found = []
    for line in lines:
        if not line.startswith("{") or '"response completed"' not in line:
            continue
        try:
            record = json.loads(line)
            agent = str(record.get("http.request.useragent", ""))
            match = _TRUST_URI.match(str(record["http.request.uri"]))
            status = int(record["http.response.status"])
            client = str(record["http.request.remoteaddr"])
        except (ValueError, KeyError, TypeError) as error:
            raise BenchError(f"unreadable notary-server log line ({error}): {line[:300]}") from None
        if from_kenner(agent) and match is not None:
            found.append(TrustFetch(match["gun"], match["role"], status, client))
    return found


@attrs.frozen
class NotaryLog(ServerLog):
    """notary-server's log file, read from a remembered position on."""

    def fetches_since(self, position: int) -> FetchSummary:
        """kenner's trust-data requests logged after ``position``, once the log is quiet."""
        return FetchSummary(tuple(parse_fetches(self.settled_tail(position).splitlines())))
