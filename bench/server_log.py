"""kenner's requests to a server, read from the server's own log: the part Notary and cosign share.

A server writes a line per request it answered; the benchmark remembers the log's size before
kenner is asked, reads what was added once kenner has answered (``ServerLog``), and the
scenario's parser turns those lines into requests of some kinds (``LoggedRequest``).
``RequestSummary`` sums one interval's requests up: how many, over how many connections, and
in how many round trips, the rounds read from the kinds of request each repository needed.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import attrs

# The servers log a request just after writing its response, so a line can land a moment after
# kenner has already answered; read until the log stops growing.
_SETTLE_S = 0.1
_SETTLE_LIMIT_S = 2.0
_KENNER_AGENT = "kenner/"


def from_kenner(user_agent: str) -> bool:
    """Whether kenner sent the request (and not the harness's clients or health probes)."""
    return user_agent.startswith(_KENNER_AGENT)


@attrs.frozen
class ServerLog:
    """A server's log file, read from a remembered position on."""

    path: Path

    def position(self) -> int:
        """The current end of the log: count from here."""
        return self.path.stat().st_size

    def settled_tail(self, position: int) -> str:
        """What was logged after ``position``, read once the log has stopped growing.

        The last line can be half-written only while the log grows, so the text read ends
        with whole lines (unless the log kept growing for ``_SETTLE_LIMIT_S``).
        """
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


class LoggedRequest(Protocol):
    """One request a server answered for kenner."""

    @property
    def repository(self) -> str:
        """The repository it was for (empty for requests outside any)."""
        ...

    @property
    def kind(self) -> str:
        """What it was for: one of its summary's ``steps``, or something outside them."""
        ...

    @property
    def status(self) -> int:
        """The HTTP status the server answered with."""
        ...

    @property
    def client(self) -> str:
        """host:port of kenner's side of the connection."""
        ...


RequestT = TypeVar("RequestT", bound=LoggedRequest)


@attrs.frozen
class RequestSummary(Generic[RequestT]):
    """The requests of one interval, summed up.

    A subclass names its ``steps``: the kinds of request one validation makes one after
    another, each needing the previous one's answer. Requests of other kinds are left out of
    ``count``, ``rounds`` and ``per_repository``, but their connections and statuses count.
    """

    fetches: tuple[RequestT, ...]
    steps: ClassVar[tuple[str, ...]]

    @property
    def step_fetches(self) -> tuple[RequestT, ...]:
        """The requests that are steps of a validation."""
        return tuple(fetch for fetch in self.fetches if fetch.kind in self.steps)

    @property
    def count(self) -> int:
        """How many of the steps' requests reached the server."""
        return len(self.step_fetches)

    @property
    def connections(self) -> int:
        """Distinct client connections all requests came over."""
        return len({fetch.client for fetch in self.fetches})

    @property
    def rounds(self) -> int:
        """Round trips: the steps of the repository that took most of them.

        Repositories are checked concurrently, so a request waits for its slowest repository,
        not for the sum of all.
        """
        by_repository: dict[str, set[str]] = {}
        for fetch in self.step_fetches:
            by_repository.setdefault(fetch.repository, set()).add(fetch.kind)
        return max((len(kinds) for kinds in by_repository.values()), default=0)

    def per_repository(self) -> str:
        """``one: 1 tag + 1 signature`` for each repository in first-seen order, steps in order."""
        counts: dict[str, Counter[str]] = {}
        for fetch in self.step_fetches:
            counts.setdefault(fetch.repository, Counter())[fetch.kind] += 1
        return ", ".join(
            f"{repository.rsplit('/', 1)[-1]}: "
            + " + ".join(f"{kinds[kind]} {kind}" for kind in self.steps if kinds[kind])
            for repository, kinds in counts.items()
        )

    def statuses(self) -> Counter[int]:
        """How many requests got each HTTP status."""
        return Counter(fetch.status for fetch in self.fetches)

    def shape(self) -> tuple[tuple[str, str], ...]:
        """Which kinds of request went to which repositories, for comparing samples."""
        return tuple(sorted((fetch.repository, fetch.kind) for fetch in self.fetches))


def new_connections(
    first: RequestSummary[RequestT], later: Iterable[RequestSummary[RequestT]]
) -> int:
    """Connections the ``later`` requests came over that ``first``'s requests did not open."""
    known = {fetch.client for fetch in first.fetches}
    return len({fetch.client for summary in later for fetch in summary.fetches} - known)


def describe_samples(samples: Sequence[RequestSummary[RequestT]], alike: str) -> str:
    """The first sample's requests and statuses, and whether every sample made the same.

    Args:
        samples: one summary per sample, at least one.
        alike: what to say when every sample has the same ``shape``.
    """
    first = samples[0]
    statuses = ", ".join(f"{n}x HTTP {status}" for status, n in sorted(first.statuses().items()))
    same = len({sample.shape() for sample in samples}) <= 1
    counts = ", ".join(str(sample.count) for sample in samples)
    return f"{first.per_repository()}; {statuses}; " + (
        alike if same else f"SAMPLES DIFFER: {counts}"
    )


SummaryT = TypeVar("SummaryT", bound=RequestSummary[Any])


@attrs.frozen
class Sample(Generic[SummaryT]):
    """One request's latency and the requests the server logged for it."""

    latency_ms: float
    requests: SummaryT


@attrs.frozen
class CacheStates(Generic[SummaryT]):
    """The samples taken before the load: cold ones, and cache misses on a running kenner.

    ``miss_first`` is the first request to the kenner that caches nothing: it opens the
    connections that ``misses`` then reuse, so it is not one of them.
    """

    cold: tuple[Sample[SummaryT], ...]
    miss_first: Sample[SummaryT]
    misses: tuple[Sample[SummaryT], ...]


def latencies(samples: Sequence[Sample[SummaryT]]) -> tuple[str, str, str]:
    """The table cells of a set of samples: how many, median ms, min-max ms."""
    values = [sample.latency_ms for sample in samples]
    return (
        str(len(samples)),
        f"{statistics.median(values):.1f}",
        f"{min(values):.1f}-{max(values):.1f}",
    )
