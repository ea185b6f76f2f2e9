"""The bearer token response of a registry's or Notary's token server is untrusted bytes:
``_parse_token`` returns a token and a lifetime or raises ``AuthError``, nothing else."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kenner.net.auth import _parse_token
from kenner.net.errors import AuthError
from kenner.net.http import FetchResult

URL = "https://registry.test/v2/repo/manifests/latest"


def _result(body: bytes) -> FetchResult:
    return FetchResult("https://auth.test/token", 200, (), body)


def test_a_token_response_nested_2000_deep_is_an_auth_error() -> None:
    """json.loads raised RecursionError here, which escaped as a bug."""
    with pytest.raises(AuthError, match="not JSON"):
        _parse_token(_result(b"[" * 2000 + b"]" * 2000), URL)


@given(st.binary(max_size=300))
def test_any_bytes_give_a_token_or_an_auth_error(body: bytes) -> None:
    try:
        token, lifetime = _parse_token(_result(body), URL)
    except AuthError:
        return
    assert token
    assert lifetime > 0


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)


@given(st.dictionaries(st.sampled_from(["token", "access_token", "expires_in", "x"]), json_values))
def test_any_json_object_gives_a_token_or_an_auth_error(document: dict[str, object]) -> None:
    try:
        token, lifetime = _parse_token(_result(json.dumps(document).encode()), URL)
    except AuthError:
        return
    assert isinstance(token, str)
    assert token
    assert lifetime > 0
