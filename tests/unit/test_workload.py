"""Image extraction from every workload kind, checked against the captured reviews."""

from __future__ import annotations

import json

import pytest

from kenner.admission.review import parse_review
from kenner.admission.workload import (
    ObjectShapeError,
    WorkloadError,
    extract_images,
    marked_for_deletion,
)
from tests.shared import connaisseur_fixtures

POD_SPEC = {
    "initContainers": [{"name": "init", "image": "busybox"}],
    "containers": [{"name": "a", "image": "nginx"}, {"name": "b", "image": "redis:7"}],
    "ephemeralContainers": [{"name": "debug", "image": "alpine"}],
}


def _template(spec: object) -> dict[str, object]:
    return {"template": {"spec": spec}}


@pytest.mark.parametrize(
    ("kind", "api_version", "obj_spec", "prefix"),
    [
        ("Pod", "v1", POD_SPEC, "/spec"),
        ("Deployment", "apps/v1", _template(POD_SPEC), "/spec/template/spec"),
        ("ReplicaSet", "apps/v1", _template(POD_SPEC), "/spec/template/spec"),
        ("DaemonSet", "apps/v1", _template(POD_SPEC), "/spec/template/spec"),
        ("StatefulSet", "apps/v1", _template(POD_SPEC), "/spec/template/spec"),
        ("ReplicationController", "v1", _template(POD_SPEC), "/spec/template/spec"),
        ("Job", "batch/v1", _template(POD_SPEC), "/spec/template/spec"),
        (
            "CronJob",
            "batch/v1",
            {"jobTemplate": {"spec": _template(POD_SPEC)}},
            "/spec/jobTemplate/spec/template/spec",
        ),
    ],
)
def test_every_kind_every_container_list(kind, api_version, obj_spec, prefix) -> None:
    sites = extract_images(kind, {"apiVersion": api_version, "kind": kind, "spec": obj_spec})
    assert [(s.pointer, s.container, s.image) for s in sites] == [
        (f"{prefix}/containers/0/image", "a", "nginx"),
        (f"{prefix}/containers/1/image", "b", "redis:7"),
        (f"{prefix}/initContainers/0/image", "init", "busybox"),
        (f"{prefix}/ephemeralContainers/0/image", "debug", "alpine"),
    ]


@pytest.mark.parametrize(
    ("kind", "obj", "message"),
    [
        ("ConfigMap", {"apiVersion": "v1"}, "kind 'ConfigMap' is not a workload kind"),
        ("", {}, r"kind '\(none\)'"),
        ("Pod", {"apiVersion": "v3", "spec": POD_SPEC}, "Pod apiVersion 'v3' is not supported"),
        ("Deployment", {"apiVersion": "apps/v1", "spec": {}}, "no pod spec at /spec/template/spec"),
        ("Pod", {"apiVersion": "v1", "spec": {"containers": []}}, "has no containers"),
        (
            "Pod",
            {"apiVersion": "v1", "spec": {"containers": [{"name": "a"}]}},
            "container at /spec/containers/0 has no image",
        ),
        (
            "Pod",
            {"apiVersion": "v1", "spec": {"containers": [{"image": ""}]}},
            "container at /spec/containers/0 has no image",
        ),
        (
            "Pod",
            {
                "apiVersion": "v1",
                "spec": {"containers": [{"image": "a"}], "volumes": [{"image": {}}]},
            },
            "image volume at /spec/volumes/0 has no image reference",
        ),
        (
            "Pod",
            {"apiVersion": "v1", "spec": {"containers": [{"image": "a"}] * 3}},
            r"Pod has 3 images, more than the 2 kenner accepts .*maxImagesPerRequest",
        ),
    ],
)
def test_broken_objects_are_refused_with_the_missing_part(kind, obj, message) -> None:
    with pytest.raises(WorkloadError, match=message):
        extract_images(kind, obj, max_images=2)


# Issue 11 point 5: these were denials; a wrong JSON type is now a malformed review (400).
@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"containers": {}}, "/spec/containers must be an array, got an object"),
        ({"containers": "nginx"}, "/spec/containers must be an array, got a string"),
        ({"containers": ["x"]}, "/spec/containers/0 must be a container object, got a string"),
        ({"containers": [{"image": 7}]}, "/spec/containers/0/image must be a string, got a number"),
        ({"containers": [{"image": "a", "name": []}]}, "/spec/containers/0/name must be a string"),
        ({"containers": [{"image": "a"}], "volumes": {}}, "/spec/volumes must be an array"),
        ({"containers": [{"image": "a"}], "volumes": [7]}, "/spec/volumes/0 must be a volume"),
        (
            {"containers": [{"image": "a"}], "volumes": [{"image": "nginx"}]},
            "/spec/volumes/0/image must be an object, got a string",
        ),
        (
            {"containers": [{"image": "a"}], "volumes": [{"image": {"reference": 1}}]},
            "/spec/volumes/0/image/reference must be a string, got a number",
        ),
    ],
)
def test_wrong_types_are_shape_errors(spec, message) -> None:
    with pytest.raises(ObjectShapeError, match=message):
        extract_images("Pod", {"apiVersion": "v1", "spec": spec})


def test_image_volumes_are_images_in_every_kind() -> None:
    spec = {
        "containers": [{"name": "app", "image": "nginx"}],
        "volumes": [
            {"name": "cfg", "configMap": {"name": "x"}},
            {
                "name": "models",
                "image": {"reference": "registry.k8s.io/m:1", "pullPolicy": "Always"},
            },
            {"name": "off", "image": None},
        ],
    }
    sites = extract_images("Deployment", {"apiVersion": "apps/v1", "spec": _template(spec)})
    assert [(s.pointer, s.container, s.image) for s in sites] == [
        ("/spec/template/spec/containers/0/image", "app", "nginx"),
        ("/spec/template/spec/volumes/1/image/reference", "models", "registry.k8s.io/m:1"),
    ]


def test_a_cronjob_read_as_a_pod_has_no_containers() -> None:
    cronjob = {"apiVersion": "v1", "spec": {"jobTemplate": _template(POD_SPEC)}}
    with pytest.raises(WorkloadError, match="has no containers"):
        extract_images("Pod", cronjob)


def test_deletion_timestamp() -> None:
    assert marked_for_deletion({"metadata": {"deletionTimestamp": "2026-03-06T12:34:56Z"}})
    assert not marked_for_deletion({"metadata": {}})
    assert not marked_for_deletion({})


def test_every_image_of_the_captured_reviews_at_its_path() -> None:
    """Each review of cases.json is read at the pointers and images its facts list."""
    folder = connaisseur_fixtures()
    cases = json.loads((folder / "cases.json").read_text())["cases"]
    checked = 0
    for case in cases:
        for file in case["files"]:
            facts = file.get("facts") or {}
            obj = facts.get("object")
            if file.get("facts_kind") != "admission_review" or not isinstance(obj, dict):
                continue
            if obj.get("apiVersion") == "v3" or not obj.get("images"):
                continue
            request = parse_review((folder / file["path"]).read_bytes())
            assert request.object is not None
            sites = extract_images(request.kind, request.object)
            expected = [(i["json_pointer"], i["image"]) for i in obj["images"]]
            assert sorted((s.pointer, s.image) for s in sites) == sorted(expected), file["path"]
            checked += 1
    assert checked >= 20
