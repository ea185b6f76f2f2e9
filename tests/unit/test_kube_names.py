"""``kenner.admission.kube_names`` (issue 11 point 11): names are checked as Kubernetes names
and paths are built from escaped segments, so no name can add, remove or climb a path level."""

from __future__ import annotations

from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kenner.admission.kube_names import (
    KubeNameError,
    check_name,
    check_namespace,
    object_path,
    path_of,
)


def test_paths_of_core_and_group_objects() -> None:
    assert (
        object_path("v1", "secrets", "regcred", "team") == "/api/v1/namespaces/team/secrets/regcred"
    )
    assert (
        object_path("apps/v1", "deployments", "web.v2", "team")
        == "/apis/apps/v1/namespaces/team/deployments/web.v2"
    )
    assert (
        object_path("admissionregistration.k8s.io/v1", "mutatingwebhookconfigurations", "kenner")
        == "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/kenner"
    )


@pytest.mark.parametrize(
    "name",
    [
        "",
        ".",
        "..",
        "../../kube-system/secrets/admin",
        "..%2F..%2Fadmin",
        "%2e%2e",
        "a/b",
        "a?b",
        "a#b",
        "Admin",
        "-a",
        "a-",
        "a..b",
        "a\nb",
        "admin\n",
        "a" * 254,
    ],
)
def test_invalid_object_names_are_refused(name: str) -> None:
    with pytest.raises(KubeNameError):
        check_name(name, "secret name")
    with pytest.raises(KubeNameError):
        object_path("v1", "secrets", name, "team")


@pytest.mark.parametrize("namespace", ["", "kube.system", "a/../b", "TEAM", "a" * 64, "team\n"])
def test_invalid_namespaces_are_refused(namespace: str) -> None:
    with pytest.raises(KubeNameError):
        check_namespace(namespace)
    with pytest.raises(KubeNameError):
        object_path("v1", "secrets", "regcred", namespace)


def test_long_names_are_cut_in_messages() -> None:
    with pytest.raises(KubeNameError) as caught:
        check_name("A" * 10_000)
    assert len(str(caught.value)) < 400


def test_the_limits_are_the_api_servers() -> None:
    assert check_name("a" * 63 + "." + "b" * 63 + "." + "c" * 63 + "." + "d" * 61)
    assert check_namespace("a" * 63)


@given(st.text(max_size=60), st.text(max_size=20))
def test_no_name_changes_the_shape_of_a_path(name: str, namespace: str) -> None:
    try:
        path = object_path("v1", "secrets", name, namespace)
    except KubeNameError:
        return
    segments = path.split("/")
    assert segments[:4] == ["", "api", "v1", "namespaces"]
    assert [unquote(segment) for segment in segments[4:]] == [namespace, "secrets", name]
    assert "%" not in path
    assert ".." not in segments


@given(st.lists(st.text(max_size=12), min_size=1, max_size=5))
def test_escaped_segments_round_trip(segments: list[str]) -> None:
    try:
        path = path_of(*segments)
    except KubeNameError:
        assert any(segment in ("", ".", "..") for segment in segments)
        return
    parts = path.split("/")[1:]
    assert [unquote(part) for part in parts] == segments
