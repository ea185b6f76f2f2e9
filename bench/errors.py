"""The one error the benchmark reports instead of a table."""


class BenchError(Exception):
    """The benchmark cannot produce a valid measurement; the message says why."""
