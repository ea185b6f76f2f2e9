"""Counters and histograms for the admission path, kept in plain dictionaries.

prometheus-client's metric objects take a lock and look up the labelled child on every update;
a static admission of a three-container Pod made 16 such updates, about a quarter of kenner's
own time per request. Every update and every scrape of a kenner daemon runs on its one trio
thread, so no lock is needed: a tally adds to a dictionary entry and is turned into a metric
family only when ``/metrics`` is scraped.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

Labels = tuple[str, ...]


class CounterTally:
    """A counter by label values; without label names it is one series that starts at 0."""

    def __init__(self, name: str, documentation: str, label_names: Sequence[str] = ()) -> None:
        self.name = name
        self.documentation = documentation
        self.label_names = tuple(label_names)
        self.counts: dict[Labels, float] = {} if label_names else {(): 0.0}

    def inc(self, *label_values: str) -> None:
        """Add one to the series of ``label_values`` (as many as there are label names)."""
        self.counts[label_values] = self.counts.get(label_values, 0.0) + 1.0

    def family(self) -> Metric:
        """The counter as prometheus-client renders it (``<name>_total``)."""
        metric = CounterMetricFamily(self.name, self.documentation, labels=self.label_names)
        for labels, count in sorted(self.counts.items()):
            metric.add_metric(labels, count)
        return metric


class CounterSlice:
    """The series of a ``CounterTally`` whose last label has one value, without that label.

    Connaisseur's ``connaisseur_validations_successful`` is ``connaisseur_validations`` with
    ``result="success"``: read from that tally at scrape time, it costs the admission path
    no second update per image.
    """

    def __init__(self, name: str, documentation: str, source: CounterTally, last: str) -> None:
        self.name = name
        self.documentation = documentation
        self.source = source
        self.last = last

    def family(self) -> Metric:
        """The counter over the matching series of the source (``<name>_total``)."""
        names = self.source.label_names[:-1]
        metric = CounterMetricFamily(self.name, self.documentation, labels=names)
        for labels, count in sorted(self.source.counts.items()):
            if labels[-1] == self.last:
                metric.add_metric(labels[:-1], count)
        return metric


class _Series:
    """One histogram series: observations per bucket (not cumulative), their sum."""

    def __init__(self, bucket_count: int) -> None:
        self.in_bucket = [0] * (bucket_count + 1)  # the last one is +Inf
        self.total = 0.0


class HistogramTally:
    """A histogram by label values, with fixed upper bounds (``le``, inclusive)."""

    def __init__(
        self,
        name: str,
        documentation: str,
        label_names: Sequence[str],
        buckets: Sequence[float],
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.label_names = tuple(label_names)
        self.bounds = tuple(buckets)
        self.series: dict[Labels, _Series] = {}

    def observe(self, value: float, *label_values: str) -> None:
        """Count ``value`` in the first bucket whose bound is at least ``value``."""
        series = self.series.get(label_values)
        if series is None:
            series = self.series[label_values] = _Series(len(self.bounds))
        series.in_bucket[bisect_left(self.bounds, value)] += 1
        series.total += value

    def family(self) -> Metric:
        """The histogram as prometheus-client renders it (cumulative ``_bucket``s)."""
        metric = HistogramMetricFamily(self.name, self.documentation, labels=self.label_names)
        bounds = [repr(float(bound)) for bound in self.bounds] + ["+Inf"]  # as in Go: 0.5, 1.0
        for labels, series in sorted(self.series.items()):
            cumulative, running = [], 0
            for bound, count in zip(bounds, series.in_bucket, strict=True):
                running += count
                cumulative.append((bound, float(running)))
            metric.add_metric(labels, cumulative, series.total)
        return metric


class TallyCollector(Collector):
    """Renders tallies at scrape time, in the order given."""

    def __init__(self, tallies: Sequence[CounterTally | CounterSlice | HistogramTally]) -> None:
        self._tallies = tuple(tallies)

    def collect(self) -> Iterator[Metric]:
        for tally in self._tallies:
            yield tally.family()
