"""Hostile review of attestations with policies (``kenner.attest``): what a signed statement,
an unsigned annotation or a tricky policy operand can make the judge believe.

The statements here are already "verified" (``judge.Verified``): the attacker is whoever wrote
the statement's fields a policy reads, or an annotation next to it.

Holes found and fixed:

* A number too large for a double (``1e999``, ``-1e999``) was read as an infinity, although
  the statement rules refuse non-finite numbers (two parsers must read one statement alike):
  ``-1e999`` passed every ``lessThan``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kenner.attest.errors import PolicyError, StatementError
from kenner.attest.judge import Verified, unmet
from kenner.attest.policy import AttestationRule, first_failure, parse_condition
from kenner.attest.statement import parse_statement
from kenner.cosign.threshold import requirement

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
DIGEST = "sha256:" + "ab" * 32
OTHER = "sha256:" + "cd" * 32
SLSA = "https://slsa.dev/provenance/v1"


def _statement(predicate: dict[str, Any], *, subjects: list[str] | None = None) -> bytes:
    names = subjects if subjects is not None else [DIGEST]
    document = {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "img", "digest": {"sha256": d.split(":", 1)[1]}} for d in names],
        "predicateType": SLSA,
        "predicate": predicate,
    }
    return json.dumps(document).encode()


def _holds(condition: dict[str, Any], predicate: dict[str, Any], now: datetime = NOW) -> bool:
    statement = parse_statement(_statement(predicate))
    return first_failure([parse_condition(condition)], statement.document, now) is None


@pytest.mark.parametrize("number", ["1e999", "-1e999", "1E400"])
def test_a_number_beyond_a_double_is_refused_like_infinity(number: str) -> None:
    """Hole: ``json.loads`` reads ``1e999`` as inf; ``-1e999`` then passes any lessThan."""
    raw = _statement({}).replace(
        b'"predicate": {}', b'"predicate": {"critical": ' + number.encode() + b"}"
    )
    with pytest.raises(StatementError):
        parse_statement(raw)


def test_numbers_and_strings_do_not_compare() -> None:
    assert not _holds({"path": "/predicate/n", "lessThan": 10}, {"n": "5"})
    assert not _holds({"path": "/predicate/n", "lessThan": 10}, {"n": True})
    assert not _holds({"path": "/predicate/n", "equals": 1}, {"n": True})
    assert not _holds({"path": "/predicate/n", "equals": "1"}, {"n": 1})
    assert _holds({"path": "/predicate/n", "lessThan": 10}, {"n": 5})


def test_max_age_refuses_a_future_or_zoneless_timestamp() -> None:
    condition = {"path": "/predicate/t", "maxAge": "1d"}
    future = (NOW + timedelta(days=3)).isoformat()
    assert not _holds(condition, {"t": future})
    assert not _holds(condition, {"t": "2026-06-01T11:00:00"})  # no zone
    assert not _holds(condition, {"t": "2026-06-01 11:00:00Z"})  # no T
    assert not _holds(condition, {"t": 1780000000})  # a number is no timestamp
    assert _holds(condition, {"t": "2026-06-01T11:00:00Z"})
    # An offset is a zone: 13:00+02:00 is 11:00Z.
    assert _holds(condition, {"t": "2026-06-01T13:00:00+02:00"})


def test_pointers_escape_and_index_exactly() -> None:
    predicate = {"a/b": "slash", "m~n": "tilde", "list": ["x", "y"], "~1": "literal"}
    assert _holds({"path": "/predicate/a~1b", "equals": "slash"}, predicate)
    assert _holds({"path": "/predicate/m~0n", "equals": "tilde"}, predicate)
    assert _holds({"path": "/predicate/~01", "equals": "literal"}, predicate)
    assert _holds({"path": "/predicate/list/1", "equals": "y"}, predicate)
    for index in ("01", "-", "2", "-1", " 1", "1 "):
        assert not _holds({"path": f"/predicate/list/{index}", "exists": True}, predicate)
    with pytest.raises(PolicyError):
        parse_condition({"path": "/predicate/~2", "exists": True})
    with pytest.raises(PolicyError):
        parse_condition({"path": "predicate", "exists": True})


def test_duplicate_keys_cannot_show_one_value_to_kenner_and_another_to_others() -> None:
    raw = _statement({"ok": False}).replace(b'{"ok": false}', b'{"ok": false, "ok": true}')
    with pytest.raises(StatementError):
        parse_statement(raw)


def _rule(**policy: Any) -> AttestationRule:
    conditions = tuple(parse_condition(c) for c in policy.get("conditions", ()))
    return AttestationRule(SLSA, "default", conditions)


def _verified(raw: bytes, root: str = "default") -> Verified:
    return Verified(root, parse_statement(raw))


def test_a_statement_about_several_subjects_counts_for_the_one_it_names_only() -> None:
    need = requirement(["default"], "default", None, ())
    both = _verified(_statement({}, subjects=[OTHER, DIGEST]))
    assert unmet(_rule(), need, DIGEST, [both], {}, NOW) is None
    other_only = _verified(_statement({}, subjects=[OTHER]))
    assert unmet(_rule(), need, DIGEST, [other_only], {}, NOW) is not None
    # An algorithm the image digest does not use never matches by its value.
    raw = _statement({}).replace(b'"sha256"', b'"sha512"')
    assert unmet(_rule(), need, DIGEST, [_verified(raw)], {}, NOW) is not None


def test_a_statement_of_another_predicate_type_never_counts() -> None:
    """The unsigned ``predicateType`` annotation only filters what is fetched; the judge reads
    the signed statement's own type."""
    need = requirement(["default"], "default", None, ())
    raw = _statement({}).replace(SLSA.encode(), b"https://example.com/other/v1")
    assert unmet(_rule(), need, DIGEST, [_verified(raw)], {}, NOW) is not None


def test_a_root_the_rule_does_not_name_does_not_count() -> None:
    need = requirement(["default", "other"], "default", None, ())
    by_other = _verified(_statement({}), root="other")
    assert unmet(_rule(), need, DIGEST, [by_other], {}, NOW) is not None
