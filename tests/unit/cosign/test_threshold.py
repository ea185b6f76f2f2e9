"""Threshold and ``required`` semantics: Connaisseur 3's for ``trustRoot: "*"``, distinct roots.

Every combination is checked against a reference model written here from Connaisseur's
``ValidateImage`` and its documentation (docs/validators/sigstore_cosign.md, "Multi-signature
verification"), with one deliberate difference: kenner counts distinct trust roots where
Connaisseur counts signatures.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kenner.cosign.threshold import RequirementError, Requirements, requirement, shortfall

ROOTS = ("alice", "bob", "charlie")
ALL = frozenset(ROOTS)


def _admits(
    trust_root: str | None, threshold: int | None, required: Sequence[str], signed: set[str]
) -> bool:
    need = requirement(ROOTS, trust_root, threshold, required)
    return shortfall(need, frozenset(signed), {}) is None


@pytest.mark.parametrize(
    ("threshold", "required", "signed", "admitted"),
    [
        # Neither: every root must sign.
        (None, (), ALL, True),
        (None, (), {"alice", "bob"}, False),
        # threshold alone: that many of all the roots.
        (2, (), {"alice", "charlie"}, True),
        (2, (), {"bob"}, False),
        (3, (), ALL, True),
        # required alone: exactly the required roots; the others do not matter.
        (None, ("alice",), {"alice"}, True),
        (None, ("alice",), {"bob", "charlie"}, False),
        (None, ("alice", "bob"), {"alice", "bob"}, True),
        (None, ("alice", "bob"), {"alice", "charlie"}, False),
        # Both, threshold above the required: the required ones and enough in all.
        (2, ("alice",), {"alice", "charlie"}, True),
        (2, ("alice",), {"alice"}, False),
        (2, ("alice",), {"bob", "charlie"}, False),
        (3, ("alice", "bob"), ALL, True),
        (3, ("alice", "bob"), {"alice", "bob"}, False),
        # Both, threshold not above the required: the required ones suffice.
        (1, ("alice", "bob"), {"alice", "bob"}, True),
        (2, ("alice", "bob"), {"alice", "bob"}, True),
        (2, ("alice", "bob"), {"alice", "charlie"}, False),
    ],
)
def test_star_combinations(
    threshold: int | None, required: tuple[str, ...], signed: set[str], admitted: bool
) -> None:
    assert _admits("*", threshold, required, signed) is admitted


def test_required_alone_checks_only_the_required_roots() -> None:
    need = requirement(ROOTS, "*", None, ("bob",))
    assert (need.roots, need.threshold, need.required) == (("bob",), 1, ("bob",))
    # Threshold not above the required roots: only they are checked (they must all sign).
    assert requirement(ROOTS, "*", 1, ("alice", "bob")).roots == ("alice", "bob")
    assert requirement(ROOTS, "*", 3, ("alice", "bob")).roots == ROOTS


def test_unknown_root_names_are_refused() -> None:
    with pytest.raises(RequirementError, match="'dave' is not configured"):
        requirement(ROOTS, "*", None, ("dave",))
    with pytest.raises(RequirementError, match="'dave' is not configured"):
        requirement(ROOTS, "*", 3, ("alice", "dave"))
    with pytest.raises(RequirementError, match="'dave' is not configured"):
        requirement(ROOTS, "dave", None, ())
    with pytest.raises(RequirementError, match="'default' is not configured"):
        requirement(ROOTS, None, None, ())


def test_thresholds_beyond_the_roots_and_empty_validators_are_refused() -> None:
    with pytest.raises(RequirementError, match="threshold 4 exceeds the 3"):
        requirement(ROOTS, "*", 4, ())
    with pytest.raises(RequirementError, match="threshold 4 exceeds the 3"):
        requirement(ROOTS, "*", 4, ("alice",))
    # A validator without roots never admits: at least one root must always sign.
    with pytest.raises(RequirementError, match="threshold 1 exceeds the 0"):
        requirement((), "*", None, ())


def test_one_key_signing_twice_is_one_signer() -> None:
    # The verifier reports signers as a set of root names: two signatures by alice are {alice}.
    need = requirement(ROOTS, "*", 2, ())
    assert shortfall(need, frozenset(["alice", "alice"]), {}) == (
        "threshold not reached: 1 of 2 required trust roots signed "
        "(signed: alice; not: bob (no signature); charlie (no signature))"
    )


def test_a_required_root_listed_twice_counts_once() -> None:
    need = requirement(ROOTS, "*", None, ("alice", "alice"))
    assert (need.roots, need.threshold, need.required) == (("alice",), 1, ("alice",))


def test_signers_outside_the_roots_considered_do_not_count() -> None:
    # trustRoot names one root: a signature by another configured root is not counted.
    need = requirement(ROOTS, "alice", None, ())
    assert shortfall(need, frozenset({"bob"}), {}) is not None


def test_a_named_root_must_sign_even_with_required_roots() -> None:
    """trustRoot names alice, required adds bob: bob alone once passed (the named root was
    replaced by a required one); both must sign."""
    need = requirement(ROOTS, "alice", None, ("bob",))
    assert (need.roots, need.threshold, need.required) == (("alice", "bob"), 2, ("alice", "bob"))
    assert shortfall(need, frozenset({"bob"}), {}) is not None
    assert shortfall(need, frozenset({"alice"}), {}) is not None
    assert shortfall(need, frozenset({"alice", "bob"}), {}) is None


def _model(
    trust_root: str, threshold: int | None, required: Sequence[str], signed: frozenset[str]
) -> bool | None:
    """Connaisseur 3's decision for ``trustRoot: "*"`` with distinct roots; None: a config
    error (unknown name, unreachable threshold)."""
    assert trust_root == "*"
    if any(name not in ROOTS for name in required):
        return None
    if threshold is not None and threshold > len(ROOTS):
        return None
    if not set(required) <= signed:
        return False
    need = threshold if threshold is not None else (0 if required else len(ROOTS))
    return len(signed & ALL) >= max(need, 1)


@given(
    threshold=st.none() | st.integers(1, 5),
    required=st.lists(st.sampled_from((*ROOTS, "dave")), max_size=4),
    signed=st.frozensets(st.sampled_from((*ROOTS, "mallory"))),
)
def test_star_agrees_with_the_model(
    threshold: int | None, required: list[str], signed: frozenset[str]
) -> None:
    expected = _model("*", threshold, required, signed)
    try:
        need = requirement(ROOTS, "*", threshold, required)
    except RequirementError:
        assert expected is None
        return
    assert (shortfall(need, signed, {}) is None) is expected


@given(
    trust_root=st.none() | st.sampled_from(("*", *ROOTS, "dave")),
    threshold=st.none() | st.integers(1, 5),
    required=st.lists(st.sampled_from((*ROOTS, "dave")), max_size=4).map(tuple),
)
def test_memoised_requirements_agree_with_requirement(
    trust_root: str | None, threshold: int | None, required: tuple[str, ...]
) -> None:
    memo = Requirements(ROOTS)
    try:
        expected: object = requirement(ROOTS, trust_root, threshold, required)
    except RequirementError as error:
        expected = str(error)
    # Asked twice: the second answer is the memoised one, and the same.
    assert memo.get(trust_root, threshold, required) == expected
    assert memo.get(trust_root, threshold, required) == expected
