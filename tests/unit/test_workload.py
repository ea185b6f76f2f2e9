"""Image extraction from every workload kind, checked against the captured reviews."""

from __future__ import annotations

import json

import pytest

from kenner.admission.review import parse_review
from kenner.admission.workload import WorkloadError, extract_images, marked_for_deletion
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
        ("Pod", {"apiVersion": "v1", "spec": {"containers": {}}}, "/spec/containers is not a list"),
        ("Pod", {"apiVersion": "v1", "spec": {"containers": []}}, "has no containers"),
        ("Pod", {"apiVersion": "v1", "spec": {"containers": ["x"]}}, "is not a container object"),
        (
            "Pod",
            {"apiVersion": "v1", "spec": {"containers": [{"name": "a"}]}},
            "container at /spec/containers/0 has no image",
        ),
        (
            "Pod",
            {"apiVersion": "v1", "spec": {"containers": [{"image": 7}]}},
            "container at /spec/containers/0 has no image",
        ),
    ],
)
def test_broken_objects_are_refused_with_the_missing_part(kind, obj, message) -> None:
    with pytest.raises(WorkloadError, match=message):
        extract_images(kind, obj)


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
