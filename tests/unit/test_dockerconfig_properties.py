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
    RegistryLogin,
    RegistryLogins,
    normalise_key,
    parse_docker_config,
    parse_pull_secret,
)
from kenner.oci.naming import canonical_registry

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


_PORTS = st.none() | st.integers(min_value=1, max_value=65535)


def _with_port(host: str, port: int | None) -> str:
    return host if port is None else f"{host}:{port}"


@given(st.sets(_HOSTS, max_size=3), _HOSTS, _PORTS, _PATHS)
def test_a_plain_login_covers_exactly_the_registries_of_its_scope(
    scope: set[str], registry: str, port: int | None, repository: str
) -> None:
    """A plain login keyed by its scope (``for_registries``) is picked for an image exactly when
    the image's registry is in the scope, as the set lookup it replaced did; Docker Hub's names
    count as one registry."""
    login = RegistryLogin("u", "p")
    logins = RegistryLogins.for_registries(login, scope)
    image_registry = _with_port(registry, port)
    in_scope = canonical_registry(image_registry) in {canonical_registry(h) for h in scope}
    expected = login if in_scope else None
    assert logins.for_image(image_registry.upper(), repository) == expected
    hub = RegistryLogins.for_registries(login, {"docker.io"})
    for alias in ("docker.io", "index.docker.io", "registry-1.docker.io"):
        assert hub.for_image(alias, repository) == login


@given(_HOSTS, _PORTS, _HOSTS, _PORTS, st.none() | _PATHS)
def test_a_server_login_needs_the_exact_host_and_port(
    host: str, port: int | None, other: str, other_port: int | None, path: str | None
) -> None:
    """A Notary server's login (``for_server``) comes from a key naming its host and port
    exactly; the key's path does not matter, another host or port never matches."""
    key = _with_port(host, port) + (f"/{path}" if path else "")
    config = {"auths": {f"https://{key}": {"username": "u", "password": "p"}}}
    logins = parse_docker_config(json.dumps(config).encode())
    assert logins.for_server(_with_port(host, port).upper()) == RegistryLogin("u", "p")
    if canonical_registry(_with_port(other, other_port)) != canonical_registry(key.split("/")[0]):
        assert logins.for_server(_with_port(other, other_port)) is None
