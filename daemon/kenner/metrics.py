"""Prometheus metrics: Connaisseur's names (so its dashboards keep working) and kenner's own.

Each daemon has its own ``CollectorRegistry`` (never prometheus-client's global one), so tests
and several daemons in one process do not share counts. Counters are updated where things
happen (``admit``, ``validators.run``, the alert sender, the reloader); cache, single-flight and
trust-data fetch statistics and readiness are read at scrape time by ``DaemonCollector``,
so the network layer needs no knowledge of Prometheus. Those statistics belong to the
validators of the current configuration: a reload keeps the validators whose inputs did not
change, with their counts; a rebuilt one starts again from zero (a counter reset, which
``rate()`` handles).
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Iterator, Mapping
from typing import Protocol, runtime_checkable

from prometheus_client import CollectorRegistry, Counter, Gauge, Info, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.registry import Collector

from kenner import __version__
from kenner.net.cache import CacheStatistics
from kenner.net.redis_store import RedisStatistics
from kenner.net.singleflight import SingleFlightStatistics
from kenner.tallies import CounterSlice, CounterTally, HistogramTally, TallyCollector

# generate_latest writes the classic text format; 0.0.4 is what every Prometheus understands.
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Connaisseur's skip reason for an image already present before an UPDATE.
UNCHANGED_SKIP_REASON = "unchanged image reference"


@runtime_checkable
class TrustDataStatistics(Protocol):
    """What a caching validator (notaryv1) tells the collector at scrape time."""

    def cache_statistics(self) -> CacheStatistics: ...

    def flight_statistics(self) -> SingleFlightStatistics: ...

    def fetch_statistics(self) -> Mapping[tuple[str, str], int]:
        """Trust-data fetches so far by (host, outcome)."""
        ...


class Metrics:
    """Every metric of one daemon, in its own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        # The admission path's metrics are tallies (kenner.tallies): cheap on every request.
        validator = ("type", "validator_name")
        self.requests = CounterTally("connaisseur_requests", "Admission requests answered")
        self.admitted = CounterTally("connaisseur_requests_admitted", "Admission requests admitted")
        self.denied = CounterTally(
            "connaisseur_requests_denied",
            "Admission requests denied; timeout=true when an image did not finish in time",
            ("timeout",),
        )
        self.validations = CounterTally(
            "connaisseur_validations",
            "Image validations by result (success, error, timeout)",
            (*validator, "result"),
        )
        # Connaisseur's per-result counters are slices of `validations`, read when scraped.
        self.validations_successful = CounterSlice(
            "connaisseur_validations_successful",
            "Image validations that succeeded",
            self.validations,
            "success",
        )
        self.validations_failed = CounterSlice(
            "connaisseur_validations_failed",
            "Image validations that failed",
            self.validations,
            "error",
        )
        self.validations_skipped = CounterTally(
            "connaisseur_validations_skipped",
            "Image validations skipped, by reason",
            (*validator, "reason"),
        )
        self.validations_timeouted = CounterSlice(
            "connaisseur_validations_timeouted",
            "Image validations not finished before the request deadline",
            self.validations,
            "timeout",
        )
        self.request_seconds = HistogramTally(
            "kenner_request_duration_seconds",
            "Time to answer an admission request, by object kind and verdict",
            ("kind", "verdict"),
            LATENCY_BUCKETS,
        )
        self.validation_seconds = HistogramTally(
            "kenner_validation_duration_seconds",
            "Time of one image validation, by validator type",
            ("validator_type",),
            LATENCY_BUCKETS,
        )
        r.register(
            TallyCollector(
                (
                    self.requests,
                    self.admitted,
                    self.denied,
                    self.validations,
                    self.validations_successful,
                    self.validations_failed,
                    self.validations_skipped,
                    self.validations_timeouted,
                    self.request_seconds,
                    self.validation_seconds,
                )
            )
        )
        self.reloads = Counter(
            "kenner_config_reloads",
            "Configuration reloads by outcome (taken, refused)",
            ["outcome"],
            registry=r,
        )
        self.alerts = Counter(
            "kenner_alerts",
            "Alerts by event, receiver and outcome (sent, failed, dropped: queue full)",
            ["event", "receiver", "outcome"],
            registry=r,
        )
        self.alert_queue = Gauge(
            "kenner_alert_queue_length", "Alerts waiting to be sent", registry=r
        )
        Info("kenner_build", "kenner's version", registry=r).info(
            {"version": __version__, "python": platform.python_version()}
        )

    def render(self) -> bytes:
        """The text exposition of every metric (``Content-Type``: ``CONTENT_TYPE``)."""
        return generate_latest(self.registry)

    def count_request(self, kind: str, allowed: bool, timed_out: bool, duration_s: float) -> None:
        """One answered admission request."""
        self.requests.inc()
        if allowed:
            self.admitted.inc()
        else:
            self.denied.inc("true" if timed_out else "false")
        verdict = "allowed" if allowed else "denied"
        self.request_seconds.observe(duration_s, kind or "unknown", verdict)

    def count_validation(
        self, validator_type: str, name: str, result: str, duration_s: float | None = None
    ) -> None:
        """One image validation: ``result`` is success, error or timeout; ``duration_s`` for
        those that finished in time."""
        self.validations.inc(validator_type, name, result)  # and its per-result slices
        if duration_s is not None:
            self.validation_seconds.observe(duration_s, validator_type)

    def count_skip(self, validator_type: str, name: str, reason: str) -> None:
        """One image not validated (``reason``, e.g. ``UNCHANGED_SKIP_REASON``)."""
        self.validations_skipped.inc(validator_type, name, reason)

    def count_reload(self, taken: bool) -> None:
        """One configuration reload, taken or refused."""
        self.reloads.labels(outcome="taken" if taken else "refused").inc()

    def count_alert(self, event: str, receiver: str, outcome: str) -> None:
        """One alert: sent, failed (error, non-2xx, deadline) or dropped (queue full)."""
        self.alerts.labels(event=event, receiver=receiver, outcome=outcome).inc()

    def watch_daemon(
        self,
        conditions: Callable[[], Mapping[str, bool]],
        validators: Callable[[], Mapping[str, object]],
    ) -> None:
        """Report readiness and the validators' trust-data statistics at every scrape."""
        self.registry.register(DaemonCollector(conditions, validators))

    def watch_redis(self, statistics: Callable[[], RedisStatistics | None]) -> None:
        """Report the shared Redis store's state at every scrape (nothing without one)."""
        self.registry.register(RedisCollector(statistics))


class RedisCollector(Collector):
    """Whether Redis answered last, its failures and the shared values it refused."""

    def __init__(self, statistics: Callable[[], RedisStatistics | None]) -> None:
        self._statistics = statistics

    def collect(self) -> Iterator[Metric]:
        stats = self._statistics()
        if stats is None:
            return
        up = GaugeMetricFamily("kenner_redis_up", "1 while the last Redis call succeeded")
        up.add_metric([], 1.0 if stats.up else 0.0)
        errors = CounterMetricFamily(
            "kenner_redis_errors", "Redis calls that failed or timed out", labels=["operation"]
        )
        for operation in ("get", "set", "rollback"):
            errors.add_metric([operation], stats.errors.get(operation, 0))
        rejected = CounterMetricFamily(
            "kenner_redis_values_rejected",
            "Shared values ignored: malformed, forged (HMAC) or expired",
            labels=["problem"],
        )
        for problem in ("malformed", "forged", "expired"):
            rejected.add_metric([problem], stats.rejected.get(problem, 0))
        yield from (up, errors, rejected)


class DaemonCollector(Collector):
    """Readiness per condition and trust-data statistics, read when scraped."""

    def __init__(
        self,
        conditions: Callable[[], Mapping[str, bool]],
        validators: Callable[[], Mapping[str, object]],
    ) -> None:
        self._conditions = conditions
        self._validators = validators

    def collect(self) -> Iterator[Metric]:
        ready = GaugeMetricFamily(
            "kenner_ready_condition", "1 while the readiness condition holds", labels=["condition"]
        )
        for name, ok in sorted(self._conditions().items()):
            ready.add_metric([name], 1.0 if ok else 0.0)
        yield ready
        yield from self._trust_data()

    def _trust_data(self) -> Iterator[Metric]:
        def counter(name: str, doc: str, labels: list[str]) -> CounterMetricFamily:
            return CounterMetricFamily(name, doc, labels=labels)

        v = ["validator"]
        hits = counter("kenner_trust_cache_hits", "Trust-data cache hits", v)
        failure_hits = counter(
            "kenner_trust_cache_failure_hits", "Cache hits on a remembered failure", v
        )
        misses = counter("kenner_trust_cache_misses", "Trust-data cache misses", v)
        evictions = counter("kenner_trust_cache_evictions", "Entries evicted when full", v)
        entries = GaugeMetricFamily("kenner_trust_cache_entries", "Cached entries", labels=v)
        loads = counter("kenner_single_flight_loads", "Trust-data loads started", v)
        joins = counter(
            "kenner_single_flight_joins", "Validations that joined a load already running", v
        )
        fetches = counter(
            "kenner_trust_data_fetches",
            "Trust-data fetches by host and outcome",
            ["validator", "host", "outcome"],
        )
        for name, validator in sorted(self._validators().items()):
            if not isinstance(validator, TrustDataStatistics):
                continue
            cache, flights = validator.cache_statistics(), validator.flight_statistics()
            hits.add_metric([name], cache.hits)
            failure_hits.add_metric([name], cache.failure_hits)
            misses.add_metric([name], cache.misses)
            evictions.add_metric([name], cache.evictions)
            entries.add_metric([name], cache.size)
            loads.add_metric([name], flights.started)
            joins.add_metric([name], flights.joined)
            for (host, outcome), count in sorted(validator.fetch_statistics().items()):
                fetches.add_metric([name, host, outcome], count)
        yield from (hits, failure_hits, misses, evictions, entries, loads, joins, fetches)
