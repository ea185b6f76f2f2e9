"""Property tests for the ``.dockerconfigjson`` parser (issue 11): a pull secret is written by
any user of a namespace, so whatever bytes or JSON it holds end in ``RegistryLogins`` or
``DockerConfigError``, never another exception; and a key never covers another registry or a
sibling path."""

from __future__ import annotations

import base64
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from kenner.oci.dockerconfig import (
    DockerConfigError,
    RegistryLogins,
    normalise_key,
    parse_docker_config,
    parse_pull_secret,
)

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
_KEYS = st.text(max_size=30) | st.from_regex(r"(https?://)?[a-z0-9.:@*-]{0,20}(/[a-z0-9/]{0,12})?")
_ENTRIES = st.fixed_dictionaries(
    {},
    optional={
        "username": st.text(max_size=10) | st.integers(),
        "password": st.text(max_size=10) | st.none(),
        "auth": st.text(max_size=16)
        | st.binary(max_size=16).map(lambda raw: base64.b64encode(raw).decode()),
    },
)
_CONFIGS = (
    st.fixed_dictionaries({"auths": st.dictionaries(_KEYS, _ENTRIES | _JSON, max_size=4) | _JSON})
    | _JSON
)


def _outcome(data: bytes) -> RegistryLogins | DockerConfigError:
    try:
        return parse_docker_config(data)
    except DockerConfigError as error:
        return error


def _parses_or_refuses(data: bytes) -> None:
    outcome = _outcome(data)
    if isinstance(outcome, DockerConfigError):
        assert len(str(outcome)) < 1000  # quoted input is cut
        return
    assert isinstance(outcome, RegistryLogins)
    for prefix in outcome.by_prefix:
        assert prefix  # an empty key would cover nothing; it is dropped, not kept


@given(st.binary(max_size=200))
def test_arbitrary_bytes_parse_or_are_refused(data: bytes) -> None:
    _parses_or_refuses(data)


@given(_CONFIGS)
def test_arbitrary_json_parses_or_is_refused(document: Any) -> None:
    _parses_or_refuses(json.dumps(document).encode())


@given(st.integers(min_value=1, max_value=200_000), st.sampled_from(["[", '{"a":']))
def test_deep_nesting_is_refused(depth: int, opener: str) -> None:
    _parses_or_refuses((opener * depth).encode())


@given(
    st.one_of(st.none(), st.text(max_size=40), st.integers(), st.lists(st.text(), max_size=3)),
    st.one_of(
        st.none(),
        _JSON,
        st.dictionaries(
            st.sampled_from([".dockerconfigjson", ".dockercfg"]),
            st.text(max_size=40)
            | st.binary(max_size=40).map(lambda b: base64.b64encode(b).decode()),
        ),
    ),
)
def test_arbitrary_secret_objects_parse_or_are_refused(kind: Any, data: Any) -> None:
    for secret_type in (kind, "kubernetes.io/dockerconfigjson", "kubernetes.io/dockercfg"):
        outcome = _secret_outcome({"type": secret_type, "data": data})
        assert isinstance(outcome, RegistryLogins | DockerConfigError)
        assert len(str(outcome)) < 1000 or isinstance(outcome, RegistryLogins)


def _secret_outcome(secret: dict[str, Any]) -> RegistryLogins | DockerConfigError:
    try:
        return parse_pull_secret(secret)
    except DockerConfigError as error:
        return error


_LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
_HOSTS = st.lists(_LABEL, min_size=1, max_size=3).map(".".join)
_PATHS = st.lists(_LABEL, min_size=1, max_size=3).map("/".join)


def _covers(key: str, registry: str, repository: str) -> bool:
    config = {"auths": {key: {"username": "u", "password": "p"}}}
    return (
        parse_docker_config(json.dumps(config).encode()).for_image(registry, repository) is not None
    )


@given(_HOSTS, _LABEL, _PATHS)
def test_a_key_never_covers_a_longer_or_shorter_host(
    host: str, extra: str, repository: str
) -> None:
    """``example`` is not ``evil.example``, ``example.evil`` nor ``example:5000``."""
    for other in (f"{extra}.{host}", f"{host}.{extra}", f"{host}:5000", f"{host}{extra}"):
        assert not _covers(host, other, repository)
        assert not _covers(other, host, repository)
    assert _covers(host, host, repository)
    assert _covers(f"https://{host}/v1/", host, repository)


@given(_HOSTS, _PATHS, _LABEL, _LABEL)
def test_a_path_key_never_covers_a_sibling(host: str, path: str, suffix: str, name: str) -> None:
    """``reg/team`` covers ``reg/team/x`` but not ``reg/teamster/x`` nor ``reg/other``."""
    key = f"{host}/{path}"
    assert _covers(key, host, f"{path}/{name}")
    assert _covers(key, host, path)
    assert not _covers(key, host, f"{path}{suffix}/{name}")
    assert not _covers(key, host, name) or name == path


@given(_KEYS)
def test_normalised_keys_hold_no_scheme_or_user_info(key: str) -> None:
    prefix = normalise_key(key)
    host = prefix.partition("/")[0]
    assert "://" not in host
    assert "@" not in host
