"""Policy conditions: how each operator is read from configuration and what it admits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kenner.attest.errors import PolicyError
from kenner.attest.policy import CLOCK_SKEW, first_failure, glob_match, parse_condition

NOW = datetime(2026, 12, 4, 7, 0, tzinfo=UTC)
STATEMENT: dict[str, Any] = {
    "_type": "https://in-toto.io/Statement/v1",
    "predicateType": "https://slsa.dev/provenance/v1",
    "predicate": {
        "builder": {"id": "https://github.com/my-org/workflows/build.yml@refs/heads/main"},
        "repo": "https://github.com/my-org/app",
        "critical": 0,
        "high": 2,
        "score": 7.5,
        "signed": True,
        "note": None,
        "startedOn": "2026-12-01T07:00:00Z",
        "scanners": ["trivy", "grype"],
    },
}


def _check(**condition: object) -> str | None:
    return first_failure([parse_condition(condition)], STATEMENT, NOW)


def test_equals_is_json_equality() -> None:
    assert _check(path="/predicate/repo", equals="https://github.com/my-org/app") is None
    assert _check(path="/predicate/high", equals=2) is None
    assert _check(path="/predicate/high", equals=2.0) is None
    assert _check(path="/predicate/signed", equals=True) is None
    assert _check(path="/predicate/note", equals=None) is None
    assert _check(path="/predicate/repo", equals="https://github.com/my-org/other") == (
        "/predicate/repo equals 'https://github.com/my-org/other': "
        "got 'https://github.com/my-org/app'"
    )
    # true is not 1, "2" is not 2, null is not missing.
    assert _check(path="/predicate/signed", equals=1) == "/predicate/signed equals 1: got true"
    assert _check(path="/predicate/high", equals="2") is not None
    assert _check(path="/predicate/absent", equals=None) == "/predicate/absent equals null: missing"


def test_in_is_equality_with_any_item() -> None:
    assert _check(path="/predicate/high", **{"in": [1, 2, 3]}) is None
    assert _check(path="/predicate/repo", **{"in": ["a", "b"]}) == (
        "/predicate/repo in ['a', 'b']: got 'https://github.com/my-org/app'"
    )
    assert _check(path="/predicate/signed", **{"in": [1]}) is not None


def test_prefix_needs_a_string_that_starts_with_it() -> None:
    assert _check(path="/predicate/builder/id", prefix="https://github.com/my-org/") is None
    assert _check(path="/predicate/builder/id", prefix="https://github.com/my-org2/") is not None
    assert _check(path="/predicate/high", prefix="2") == "/predicate/high prefix '2': got 2"


def test_glob_matches_the_whole_string() -> None:
    assert _check(path="/predicate/builder/id", glob="https://github.com/my-org/*@refs/*") is None
    assert _check(path="/predicate/repo", glob="https://github.com/*/ap?") is None
    assert _check(path="/predicate/repo", glob="github.com/*") is not None
    assert _check(path="/predicate/repo", glob="*/app/") is not None
    assert _check(path="/predicate/high", glob="*") is not None  # a number is not a string


@pytest.mark.parametrize(
    ("pattern", "text", "matches"),
    [
        ("*", "", True),
        ("", "", True),
        ("", "a", False),
        ("a*b*c", "abc", True),
        ("a*b*c", "aXbYbZc", True),
        ("a*b*c", "aXbYcZ", False),
        ("?", "", False),
        ("*?", "a", True),
        ("[ab]", "a", False),  # no character classes: '[' is itself
        ("[ab]", "[ab]", True),
        ("a**b", "ab", True),
    ],
)
def test_glob_match(pattern: str, text: str, matches: bool) -> None:
    assert glob_match(pattern, text) is matches


def test_glob_takes_linear_time_on_hostile_input() -> None:
    # A backtracking regular expression would take exponential time here.
    assert not glob_match("*a" * 30 + "b", "a" * 3000)


def test_exists() -> None:
    assert _check(path="/predicate/note", exists=True) is None  # null is present
    assert _check(path="/predicate/absent", exists=False) is None
    assert _check(path="/predicate/absent", exists=True) == "/predicate/absent exists true: missing"
    assert _check(path="/predicate/repo", exists=False) == "/predicate/repo exists false: present"


def test_less_and_greater_than_numbers() -> None:
    assert _check(path="/predicate/critical", lessThan=1) is None
    assert _check(path="/predicate/high", lessThan=2) == "/predicate/high lessThan 2: got 2"
    assert _check(path="/predicate/score", greaterThan=7) is None
    assert _check(path="/predicate/score", greaterThan=7.5) is not None
    assert _check(path="/predicate/signed", lessThan=5) == (
        "/predicate/signed lessThan 5: got true, not a number"
    )
    assert _check(path="/predicate/absent", lessThan=5) is not None


def test_less_and_greater_than_timestamps() -> None:
    assert _check(path="/predicate/startedOn", greaterThan="2026-11-30T00:00:00Z") is None
    assert _check(path="/predicate/startedOn", lessThan="2026-12-01T08:00:00+00:30") is None
    yaml_timestamp = datetime(2026, 12, 2, tzinfo=UTC)  # YAML reads unquoted timestamps so
    assert _check(path="/predicate/startedOn", greaterThan=yaml_timestamp) is not None
    assert _check(path="/predicate/repo", greaterThan="2026-11-30T00:00:00Z") == (
        "/predicate/repo greaterThan 2026-11-30T00:00:00+00:00: "
        "got 'https://github.com/my-org/app', not an RFC 3339 timestamp"
    )
    assert _check(path="/predicate/high", greaterThan="2026-11-30T00:00:00Z") is not None


def test_max_age_at_the_injected_clock() -> None:
    assert _check(path="/predicate/startedOn", maxAge="3d") is None
    assert _check(path="/predicate/startedOn", maxAge="2d") == (
        "/predicate/startedOn maxAge 2d: got '2026-12-01T07:00:00Z', older than 2d"
    )
    later = first_failure(
        [parse_condition({"path": "/predicate/startedOn", "maxAge": "2d"})],
        STATEMENT,
        NOW - timedelta(days=2),
    )
    assert later is None
    # A timestamp in the future beyond the clock skew fails; within it passes.
    soon = first_failure(
        [parse_condition({"path": "/predicate/startedOn", "maxAge": "1h"})],
        STATEMENT,
        datetime(2026, 12, 1, 7, tzinfo=UTC) - CLOCK_SKEW,
    )
    assert soon is None
    future = first_failure(
        [parse_condition({"path": "/predicate/startedOn", "maxAge": "1h"})],
        STATEMENT,
        datetime(2026, 12, 1, 6, tzinfo=UTC),
    )
    assert future is not None
    assert "later than the verification time" in future
    assert _check(path="/predicate/repo", maxAge="1d") is not None


def test_the_first_failing_condition_is_named() -> None:
    conditions = [
        parse_condition({"path": "/predicateType", "equals": "https://slsa.dev/provenance/v1"}),
        parse_condition({"path": "/predicate/high", "lessThan": 1}),
        parse_condition({"path": "/predicate/critical", "lessThan": 0}),
    ]
    assert first_failure(conditions, STATEMENT, NOW) == "/predicate/high lessThan 1: got 2"
    assert first_failure([], STATEMENT, NOW) is None


@pytest.mark.parametrize(
    ("raw", "key", "message"),
    [
        ("equals", None, "must be a mapping"),
        ({"equals": 1}, None, "missing required key 'path'"),
        ({"path": "/a"}, None, "needs exactly one operator"),
        ({"path": "/a", "equals": 1, "in": [1]}, None, "got equals, in"),
        ({"path": "/a", "matches": "x"}, "matches", "unknown key 'matches'"),
        ({"path": "a", "equals": 1}, "path", "must start with '/'"),
        ({"path": "/a~2", "equals": 1}, "path", "'~' must be followed by 0 or 1"),
        ({"path": 3, "equals": 1}, "path", "must be a JSON Pointer string"),
        ({"path": "/a", "equals": [1]}, "equals", "must be a string, number, boolean or null"),
        ({"path": "/a", "equals": float("nan")}, "equals", "must be a finite number"),
        ({"path": "/a", "in": []}, "in", "must be a non-empty list"),
        ({"path": "/a", "in": "x"}, "in", "must be a non-empty list"),
        ({"path": "/a", "in": [{"a": 1}]}, "in", "must be a string, number"),
        ({"path": "/a", "prefix": ""}, "prefix", "must be a non-empty string"),
        ({"path": "/a", "glob": 1}, "glob", "must be a non-empty string"),
        ({"path": "/a", "exists": "yes"}, "exists", "must be true or false"),
        ({"path": "/a", "lessThan": True}, "lessThan", "must be a number or an RFC 3339"),
        ({"path": "/a", "lessThan": "soon"}, "lessThan", "not an RFC 3339 timestamp"),
        ({"path": "/a", "greaterThan": float("inf")}, "greaterThan", "must be a finite number"),
        (
            {"path": "/a", "greaterThan": datetime(2026, 1, 1)},
            "greaterThan",
            "needs a time zone",
        ),
        ({"path": "/a", "maxAge": 30}, "maxAge", "must be a duration"),
        ({"path": "/a", "maxAge": "30y"}, "maxAge", "not a duration"),
    ],
)
def test_unusable_conditions_name_the_key(raw: object, key: str | None, message: str) -> None:
    with pytest.raises(PolicyError, match=message) as info:
        parse_condition(raw)
    assert info.value.key == key
