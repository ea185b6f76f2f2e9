"""``make bench``: kenner's admission throughput and latency next to a bare ASGI echo server.

Run from the repository root as ``python -m bench``; ``python -m bench --help`` lists the knobs.
See docs/benchmarks.md for the method and the figures.
"""
