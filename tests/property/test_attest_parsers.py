"""Attestation parsers against hostile input, and the pointer and glob against models.

* ``parse_pointer`` reads back every pointer encoded from its tokens (RFC 6901's escaping),
  and over any text returns tokens or raises ``PolicyError``.
* ``parse_envelope``, ``parse_statement``, ``parse_timestamp``, ``parse_duration`` and
  ``parse_condition`` over arbitrary input raise only their module's error, with messages that
  quote at most 200 characters of it; ``first_failure`` never raises on any document.
* ``check_entry_body`` over any Rekor entry body raises only ``Rejected``.
* ``glob_match`` agrees with a regular-expression model on short strings.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kenner.attest.dsse import parse_envelope
from kenner.attest.errors import PolicyError, StatementError
from kenner.attest.pointer import MISSING, parse_pointer, resolve
from kenner.attest.policy import OPERATORS, first_failure, glob_match, parse_condition
from kenner.attest.statement import STATEMENT_TYPES, parse_statement
from kenner.attest.times import TimeFormatError, parse_duration, parse_timestamp
from kenner.attest.verify import check_entry_body
from kenner.cosign.errors import Rejected

MAX_MESSAGE = 600  # two quoted values of at most 200 characters plus the wording
NOW = datetime(2026, 12, 4, tzinfo=UTC)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
long_text = st.text(min_size=300, max_size=400)


T = TypeVar("T")
R = TypeVar("R")


def _attempt(parse: Callable[[T], R], value: T, error: type[Exception]) -> R | None:
    """``parse(value)``, or None when it raised ``error`` with a bounded message."""
    try:
        return parse(value)
    except error as failure:
        message = str(failure)
    assert len(message) < MAX_MESSAGE
    return None


def _encode(tokens: list[str]) -> str:
    return "".join("/" + token.replace("~", "~0").replace("/", "~1") for token in tokens)


@given(st.lists(st.text(max_size=10), max_size=6))
def test_pointer_round_trip(tokens: list[str]) -> None:
    assert parse_pointer(_encode(tokens)) == tuple(tokens)


@given(st.text(max_size=40) | long_text)
def test_pointer_parser_fails_only_typed(text: str) -> None:
    tokens = _attempt(parse_pointer, text, PolicyError)
    assert tokens is None or _encode(list(tokens)) == text


def _model_resolve(document: Any, tokens: list[str]) -> Any:
    for token in tokens:
        if isinstance(document, dict) and token in document:
            document = document[token]
        elif isinstance(document, list) and token in {str(i) for i in range(len(document))}:
            document = document[int(token)]
        else:
            return MISSING
    return document


@given(
    json_values,
    st.lists(st.text(max_size=4) | st.sampled_from(["0", "1", "-", "00", "\u0661"]), max_size=5),
)
def test_resolve_agrees_with_the_model(document: Any, tokens: list[str]) -> None:
    # Identity, not equality: the pointer must lead to that very value (NaN-free JSON).
    assert resolve(document, tuple(tokens)) is _model_resolve(document, tokens)


def _envelope_shaped() -> st.SearchStrategy[bytes]:
    payload = st.binary(max_size=200).map(lambda b: base64.b64encode(b).decode()) | st.text(
        max_size=20
    )
    signature = st.fixed_dictionaries({"sig": payload}) | json_values
    document = st.fixed_dictionaries(
        {},
        optional={
            "payloadType": st.just("application/vnd.in-toto+json") | json_values,
            "payload": payload | json_values,
            "signatures": st.lists(signature, max_size=20) | json_values,
        },
    )
    return document.map(lambda d: json.dumps(d).encode())


@given(st.binary(max_size=300) | _envelope_shaped())
def test_envelope_parser_fails_only_typed(data: bytes) -> None:
    envelope = _attempt(parse_envelope, data, StatementError)
    assert envelope is None or len(envelope.signatures) <= 16


def _statement_shaped() -> st.SearchStrategy[bytes]:
    subject = st.fixed_dictionaries(
        {},
        optional={
            "name": json_values,
            "digest": st.dictionaries(st.text(max_size=6), json_values | st.text(), max_size=3)
            | json_values,
        },
    )
    document = st.fixed_dictionaries(
        {},
        optional={
            "_type": st.sampled_from(STATEMENT_TYPES) | json_values | long_text,
            "subject": st.lists(subject, max_size=3) | json_values,
            "predicateType": st.text(max_size=20) | json_values,
            "predicate": json_values,
        },
    )
    return document.map(lambda d: json.dumps(d).encode())


@given(st.binary(max_size=300) | _statement_shaped())
def test_statement_parser_fails_only_typed(data: bytes) -> None:
    statement = _attempt(parse_statement, data, StatementError)
    if statement is not None:
        assert statement.type in STATEMENT_TYPES
        assert statement.names("sha256:" + "0" * 64) in (True, False)


@given(st.datetimes(timezones=st.just(UTC)).filter(lambda d: d.year > 1))
def test_timestamp_round_trip(moment: datetime) -> None:
    assert parse_timestamp(moment.isoformat().replace("+00:00", "Z")) == moment


@given(
    st.text(max_size=40)
    | long_text
    | st.from_regex(r"\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,12})?(Z|[+-]\d\d:\d\d)\Z")
)
def test_timestamp_parser_fails_only_typed(text: str) -> None:
    moment = _attempt(parse_timestamp, text, TimeFormatError)
    assert moment is None or moment.tzinfo is UTC


@given(st.text(max_size=20) | long_text | st.from_regex(r"\A(\d{1,12}[wdhms]){1,4}\Z"))
def test_duration_parser_fails_only_typed(text: str) -> None:
    duration = _attempt(parse_duration, text, TimeFormatError)
    assert duration is None or duration > timedelta()


conditions = st.dictionaries(
    st.sampled_from(["path", *OPERATORS, "other"]) | st.text(max_size=5),
    json_values | st.sampled_from(["/a", "/a/0", "30d", "2026-01-01T00:00:00Z", "a*"]) | long_text,
    max_size=3,
)


@given(conditions | json_values, json_values)
def test_conditions_parse_or_fail_typed_and_never_raise_on_documents(
    raw: Any, document: Any
) -> None:
    condition = _attempt(parse_condition, raw, PolicyError)
    if condition is None:
        return
    failed = first_failure([condition], {"predicate": document, "a": document}, NOW)
    assert failed is None or len(failed) < 2 * MAX_MESSAGE


def _model_glob(pattern: str, text: str) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, re.DOTALL) is not None


@given(st.text(alphabet="ab*?/", max_size=8), st.text(alphabet="ab/", max_size=10))
def test_glob_agrees_with_the_model(pattern: str, text: str) -> None:
    assert glob_match(pattern, text) == _model_glob(pattern, text)


entry_bodies = st.fixed_dictionaries(
    {"kind": st.sampled_from(["intoto", "dsse"]) | json_values},
    optional={
        "spec": st.fixed_dictionaries(
            {},
            optional={
                "content": st.fixed_dictionaries(
                    {},
                    optional={
                        "envelope": st.fixed_dictionaries(
                            {}, optional={"signatures": st.lists(json_values, max_size=3)}
                        ),
                        "payloadHash": json_values,
                    },
                )
                | json_values,
                "signatures": st.lists(
                    st.fixed_dictionaries(
                        {}, optional={"signature": json_values, "verifier": json_values}
                    )
                    | json_values,
                    max_size=3,
                ),
                "payloadHash": json_values,
            },
        )
    },
)


@given(entry_bodies | json_values)
def test_log_entry_bodies_fail_only_typed(body: Any) -> None:
    # No body can record this signer: b"der" is no key's DER, so every body is refused.
    with pytest.raises(Rejected) as info:
        check_entry_body(body, b"payload", b"sig", b"der")
    assert len(str(info.value)) < MAX_MESSAGE
