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
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import attrs

from bench.errors import BenchError

_TRUST_URI = re.compile(r"^/v2/(?P<gun>.+)/_trust/tuf/(?P<role>.+)\.json$")
_VERSIONED_ROOT = re.compile(r"^\d+\.root$")
TOP_LEVEL_ROLES = frozenset({"root", "timestamp", "snapshot", "targets"})
# notary-server logs a request right after writing its response, so a line can land a moment
# after kenner has already answered; read until the log stops growing.
_SETTLE_S = 0.1
_SETTLE_LIMIT_S = 2.0


@attrs.frozen
class TrustFetch:
    """One trust-data request notary-server answered for kenner."""

    gun: str
    role: str
    status: int
    client: str  # host:port of kenner's side of the connection

    @property
    def kind(self) -> str:
        """``top-level``, ``versioned root`` or ``delegation``: which round fetched it."""
        if self.role in TOP_LEVEL_ROLES:
            return "top-level"
        if _VERSIONED_ROOT.match(self.role):
            return "versioned root"
        return "delegation"


@attrs.frozen
class FetchSummary:
    """The trust-data requests of one interval, summed up."""

    fetches: tuple[TrustFetch, ...]

    @property
    def count(self) -> int:
        """How many requests reached notary-server."""
        return len(self.fetches)

    @property
    def connections(self) -> int:
        """Distinct client connections they came over."""
        return len({fetch.client for fetch in self.fetches})

    @property
    def rounds(self) -> int:
        """Round trips, read from the roles: top-level, then versioned roots, then delegations.

        Repositories are loaded concurrently, so a request's rounds are those of its slowest
        repository, not their sum.
        """
        by_gun: dict[str, set[str]] = {}
        for fetch in self.fetches:
            by_gun.setdefault(fetch.gun, set()).add(fetch.kind)
        return max((len(kinds) for kinds in by_gun.values()), default=0)

    def per_repository(self) -> str:
        """``gun: 4 top-level + 2 delegation`` for each repository, in first-seen order."""
        counts: dict[str, Counter[str]] = {}
        for fetch in self.fetches:
            counts.setdefault(fetch.gun, Counter())[fetch.kind] += 1
        parts = []
        for gun, kinds in counts.items():
            shown = " + ".join(f"{n} {kind}" for kind, n in kinds.items())
            parts.append(f"{gun.rsplit('/', 1)[-1]}: {shown}")
        return ", ".join(parts)

    def statuses(self) -> Counter[int]:
        """How many requests got each HTTP status."""
        return Counter(fetch.status for fetch in self.fetches)


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
        if agent.startswith("kenner/") and match is not None:
            found.append(TrustFetch(match["gun"], match["role"], status, client))
    return found


@attrs.frozen
class NotaryLog:
    """notary-server's log file, read from a remembered position on."""

    path: Path

    def position(self) -> int:
        """The current end of the log: count from here."""
        return self.path.stat().st_size

    def fetches_since(self, position: int) -> FetchSummary:
        """kenner's trust-data requests logged after ``position``, once the log is quiet."""
        text = self._settled_tail(position)
        # The last line may still be half-written only while the log grows; it has settled.
        return FetchSummary(tuple(parse_fetches(text.splitlines())))

    def _settled_tail(self, position: int) -> str:
        deadline = time.monotonic() + _SETTLE_LIMIT_S
        size = self.position()
        while True:
            time.sleep(_SETTLE_S)
            grown = self.position()
            if grown == size or time.monotonic() > deadline:
                break
            size = grown
        with self.path.open("rb") as log:
            log.seek(position)
            return log.read().decode("utf-8", errors="replace")


def same_fetches(summaries: Sequence[FetchSummary]) -> bool:
    """Whether every summary fetched the same roles of the same repositories."""
    shapes = {tuple(sorted((f.gun, f.role) for f in s.fetches)) for s in summaries}
    return len(shapes) <= 1
