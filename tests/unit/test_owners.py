"""Owner references and the images a proven owner vouches for, on Connaisseur's fixtures."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from kenner.admission.kube_names import KubeNameError
from kenner.admission.owners import OwnerMismatch, OwnerRef, owner_proven_images, owner_references
from kenner.config.model import Config, Rule, StaticValidatorConfig
from tests.shared import connaisseur_fixtures
from tests.support.proofs import prover, with_proof

CHARLIE = (
    "docker.io/securesystemsengineering/charlie-image"
    "@sha256:91ac9b26df583762234c1cdb2fc930364754ccc59bc752a2bfe298d2ea68f9ff"
)
RS_UID = "090d26f8-1812-11ea-b3fc-02897404852e"
NAMESPACE = "test-connaisseur"
PROVER = prover(Config((StaticValidatorConfig("default", True),), (Rule("*:*"),)))


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


def test_owner_images_need_the_same_kind_and_uid_and_a_proof() -> None:
    unproven = fixture("admission_reviews/kube_api_responses/replicasets.json")
    replicaset = with_proof(unproven, "ReplicaSet", NAMESPACE, PROVER)
    ref = OwnerRef("apps/v1", "ReplicaSet", "charlie-deployment-76fbf58b7d", RS_UID)
    assert owner_proven_images(replicaset, ref, NAMESPACE, PROVER) == frozenset({CHARLIE})

    with pytest.raises(OwnerMismatch, match="carries no proof"):
        owner_proven_images(unproven, ref, NAMESPACE, PROVER)
    with pytest.raises(OwnerMismatch, match="does not match"):
        owner_proven_images(replicaset, ref, "elsewhere", PROVER)
    namesake = copy.deepcopy(replicaset)
    namesake["metadata"]["uid"] = "another"
    with pytest.raises(OwnerMismatch, match="UID 'another' is not the child's"):
        owner_proven_images(namesake, ref, NAMESPACE, PROVER)
    other_kind = OwnerRef("apps/v1", "Deployment", "x", RS_UID)
    with pytest.raises(OwnerMismatch, match="the API returned a 'ReplicaSet'"):
        owner_proven_images(replicaset, other_kind, NAMESPACE, PROVER)
    broken = copy.deepcopy(replicaset)
    del broken["spec"]["template"]
    with pytest.raises(OwnerMismatch, match="has no pod spec"):
        owner_proven_images(broken, ref, NAMESPACE, PROVER)
    deleting = copy.deepcopy(replicaset)
    deleting["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    with pytest.raises(OwnerMismatch, match="is being deleted"):
        owner_proven_images(deleting, ref, NAMESPACE, PROVER)


def test_only_digest_references_of_a_proven_owner_count() -> None:
    replicaset = fixture("admission_reviews/kube_api_responses/replicasets.json")
    containers = replicaset["spec"]["template"]["spec"]["containers"]
    containers.append({"name": "tagged", "image": "example.org/tagged:1.0"})
    proven = with_proof(replicaset, "ReplicaSet", NAMESPACE, PROVER)
    ref = OwnerRef("apps/v1", "ReplicaSet", "charlie-deployment-76fbf58b7d", RS_UID)
    assert owner_proven_images(proven, ref, NAMESPACE, PROVER) == frozenset({CHARLIE})


def test_owner_paths_are_built_from_checked_escaped_segments() -> None:
    ref = OwnerRef("apps/v1", "ReplicaSet", "web-7d4b9", "uid-1")
    assert ref.api_path("team") == "/apis/apps/v1/namespaces/team/replicasets/web-7d4b9"
    for namespace in ("x/../kube-system", "x%2F..", "", "Team"):
        with pytest.raises(KubeNameError):
            ref.api_path(namespace)


@pytest.mark.parametrize("name", ["a/b", "..", "web%2F..", "web?x", "Web", ""])
def test_owner_references_with_names_that_are_not_kubernetes_names_are_ignored(name: str) -> None:
    obj = {
        "metadata": {
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": name, "uid": "u"}
            ]
        }
    }
    assert owner_references(obj) == ()
