"""Owner references and owner pod-template images, on Connaisseur's fixtures."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from kenner.kube.owners import OwnerMismatch, OwnerRef, owner_references, owner_template_images
from tests.shared import connaisseur_fixtures

CHARLIE = (
    "docker.io/securesystemsengineering/charlie-image"
    "@sha256:91ac9b26df583762234c1cdb2fc930364754ccc59bc752a2bfe298d2ea68f9ff"
)
RS_UID = "090d26f8-1812-11ea-b3fc-02897404852e"


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((connaisseur_fixtures() / name).read_text())
    return data


def test_pod_owned_by_a_replicaset() -> None:
    pod = fixture("admission_reviews/02_pod.json")["request"]["object"]
    (owner,) = owner_references(pod)
    assert owner == OwnerRef("apps/v1", "ReplicaSet", "charlie-deployment-76fbf58b7d", RS_UID)
    assert owner.api_path("test-connaisseur") == (
        "/apis/apps/v1/namespaces/test-connaisseur/replicasets/charlie-deployment-76fbf58b7d"
    )


def test_core_group_owner_path() -> None:
    owner = OwnerRef("v1", "ReplicationController", "rc", "u")
    assert owner.api_path("ns") == "/api/v1/namespaces/ns/replicationcontrollers/rc"


def test_owners_kenner_cannot_read_are_ignored() -> None:
    pod = fixture("admission_reviews/ad_request_pods_unknownparent.json")["request"]["object"]
    assert owner_references(pod) == ()  # kind 'Unknownparent'
    refs = [
        {"apiVersion": "example.com/v1", "kind": "Deployment", "name": "a", "uid": "1"},
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "../../secrets/x", "uid": "2"},
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "b"},
        "not a mapping",
    ]
    assert owner_references({"metadata": {"ownerReferences": refs}}) == ()
    assert owner_references({"metadata": {}}) == ()


def test_owner_images_need_the_same_kind_and_uid() -> None:
    replicaset = fixture("admission_reviews/kube_api_responses/replicasets.json")
    ref = OwnerRef("apps/v1", "ReplicaSet", "charlie-deployment-76fbf58b7d", RS_UID)
    assert owner_template_images(replicaset, ref) == frozenset({CHARLIE})

    namesake = copy.deepcopy(replicaset)
    namesake["metadata"]["uid"] = "another"
    with pytest.raises(OwnerMismatch, match="UID 'another' is not the child's"):
        owner_template_images(namesake, ref)
    other_kind = OwnerRef("apps/v1", "Deployment", "x", RS_UID)
    with pytest.raises(OwnerMismatch, match="the API returned a 'ReplicaSet'"):
        owner_template_images(replicaset, other_kind)
    broken = copy.deepcopy(replicaset)
    del broken["spec"]["template"]
    with pytest.raises(OwnerMismatch, match="has no pod spec"):
        owner_template_images(broken, ref)
