"""kenner's tallies render exactly what prometheus-client's own metrics render for the same
updates (apart from the ``_created`` samples, which tallies do not write)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from kenner.tallies import CounterSlice, CounterTally, HistogramTally, TallyCollector

BUCKETS = (0.001, 0.01, 0.1, 1.0, 10.0)
LABEL = st.sampled_from(["a", "b", "c d", 'q"uote'])
VALUE = st.floats(min_value=0.0, max_value=100.0) | st.sampled_from(BUCKETS)


def _without_created(text: bytes) -> list[str]:
    return [line for line in text.decode().splitlines() if "_created" not in line]


@given(st.lists(st.tuples(LABEL, LABEL)), st.lists(st.tuples(VALUE, LABEL)))
def test_tallies_render_as_prometheus_client_does(
    increments: list[tuple[str, str]], observations: list[tuple[float, str]]
) -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    counter = CounterTally("demo_events", "Events", ("kind", "outcome"))
    plain = CounterTally("demo_requests", "Requests")
    histogram = HistogramTally("demo_seconds", "Durations", ("kind",), BUCKETS)
    ours.register(TallyCollector((counter, plain, histogram)))
    their_counter = Counter("demo_events", "Events", ["kind", "outcome"], registry=theirs)
    their_plain = Counter("demo_requests", "Requests", registry=theirs)
    their_histogram = Histogram(
        "demo_seconds", "Durations", ["kind"], buckets=BUCKETS, registry=theirs
    )
    for kind, outcome in increments:
        counter.inc(kind, outcome)
        their_counter.labels(kind, outcome).inc()
        plain.inc()
        their_plain.inc()
    for value, kind in observations:
        histogram.observe(value, kind)
        their_histogram.labels(kind).observe(value)
    # prometheus-client lists series in the order they were first used; tallies sort them.
    assert sorted(_without_created(generate_latest(ours))) == sorted(
        _without_created(generate_latest(theirs))
    )


def test_a_value_on_a_bound_counts_in_that_bucket() -> None:
    histogram = HistogramTally("demo_seconds", "Durations", (), BUCKETS)
    histogram.observe(0.01)
    buckets = {
        sample.labels["le"]: sample.value
        for sample in histogram.family().samples
        if sample.name.endswith("_bucket")
    }
    assert buckets == {"0.001": 0, "0.01": 1, "0.1": 1, "1.0": 1, "10.0": 1, "+Inf": 1}


def test_an_unlabelled_counter_is_exposed_at_zero_before_any_update() -> None:
    samples = CounterTally("demo_requests", "Requests").family().samples
    assert [(sample.name, sample.value) for sample in samples] == [("demo_requests_total", 0.0)]


RESULT = st.sampled_from(["success", "error", "timeout"])


@given(st.lists(st.tuples(LABEL, RESULT)))
def test_a_counter_slice_renders_as_its_own_counter_would(updates: list[tuple[str, str]]) -> None:
    """``connaisseur_validations_successful`` read from ``connaisseur_validations`` at scrape
    time is what a counter of its own, updated alongside, would expose."""
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    source = CounterTally("demo_validations", "All", ("name", "result"))
    ours.register(TallyCollector((CounterSlice("demo_successes", "Wins", source, "success"),)))
    their_counter = Counter("demo_successes", "Wins", ["name"], registry=theirs)
    for name, result in updates:
        source.inc(name, result)
        if result == "success":
            their_counter.labels(name).inc()
    # prometheus-client lists series in the order they were first used; tallies sort them.
    assert sorted(_without_created(generate_latest(ours))) == sorted(
        _without_created(generate_latest(theirs))
    )
