"""``ApiMemory`` (kenner.net.referrers) under any sequence of lessons, look-ups and time.

What is learnt of a registry's referrers API decides which requests kenner sends (a missing
API: the referrers tag alone), so it must never outlive its expiry, never be believed for an
origin or a value that was not learnt, and never grow past its bound.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kenner.net.referrers import ApiMemory

TTL_S = 900.0
MAX = 4
ORIGINS = st.sampled_from([f"https://r{n}.example:443" for n in range(8)])
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("learn"), ORIGINS, st.booleans()),
        st.tuples(st.just("forget"), ORIGINS, st.none()),
        st.tuples(st.just("ask"), ORIGINS, st.none()),
        st.tuples(st.just("wait"), st.floats(0.0, 2 * TTL_S), st.none()),
    ),
    max_size=60,
)


@given(STEPS)
def test_what_is_believed_was_learnt_within_the_expiry(
    steps: list[tuple[str, object, bool | None]],
) -> None:
    now = [0.0]
    memory = ApiMemory(ttl_s=TTL_S, max_entries=MAX, clock=lambda: now[0])
    learnt: dict[str, tuple[bool, float]] = {}  # origin -> (has the API, when), last lesson
    for action, value, has_api in steps:
        if action == "wait":
            assert isinstance(value, float)
            now[0] += value
            continue
        assert isinstance(value, str)
        if action == "learn":
            assert has_api is not None
            memory.learn(value, has_api)
            learnt[value] = (has_api, now[0])
            assert memory.has_api(value) is has_api  # just learnt: believed
        elif action == "forget":
            memory.forget(value)
            learnt.pop(value, None)
            assert memory.has_api(value) is None
        else:
            believed = memory.has_api(value)
            if believed is not None:
                assert value in learnt
                assert believed is learnt[value][0]
                assert now[0] < learnt[value][1] + TTL_S
        assert len(memory) <= MAX
