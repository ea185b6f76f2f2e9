"""``NoApiMemory`` (kenner.net.referrers) under any sequence of records, look-ups and time.

A remembered 404 lets kenner skip a registry's referrers API, so it must never outlive its
expiry, never be believed for an origin that was not recorded, and never grow past its bound,
whatever a run of registries does.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kenner.net.referrers import NoApiMemory

TTL_S = 900.0
MAX = 4
ORIGINS = st.sampled_from([f"https://r{n}.example:443" for n in range(8)])
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("record"), ORIGINS),
        st.tuples(st.just("ask"), ORIGINS),
        st.tuples(st.just("wait"), st.floats(0.0, 2 * TTL_S)),
    ),
    max_size=60,
)


@given(STEPS)
def test_a_404_is_believed_only_within_its_expiry_and_the_bound(
    steps: list[tuple[str, object]],
) -> None:
    now = [0.0]
    memory = NoApiMemory(ttl_s=TTL_S, max_entries=MAX, clock=lambda: now[0])
    recorded: dict[str, float] = {}  # origin -> when it was last recorded
    for action, value in steps:
        if action == "wait":
            assert isinstance(value, float)
            now[0] += value
        elif action == "record":
            assert isinstance(value, str)
            memory.record(value)
            recorded[value] = now[0]
            assert memory.lacks_api(value)  # just recorded: believed
        else:
            assert isinstance(value, str)
            if memory.lacks_api(value):
                assert value in recorded
                assert now[0] < recorded[value] + TTL_S
        assert len(memory) <= MAX
