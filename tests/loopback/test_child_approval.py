"""Automatic child approval end to end: a Pod owned by a ReplicaSet, the owner read from a fake
Kubernetes API over TLS (``tests.support.fake_kube``), the real Connaisseur fixtures.

``02_pod.json`` is a Pod created by the ReplicaSet ``charlie-deployment-76fbf58b7d`` (UID
``090d26f8-…``); ``kube_api_responses/replicasets.json`` is a ReplicaSet with that UID whose pod
template has the Pod's image. As in Connaisseur's own test, the API serves that file at the
owner's path (its ``metadata.name`` differs; kenner compares kind and UID). The served owner
carries the validation proof kenner would have written when admitting it (``proven``); without
one child approval does not apply (issue 11). The policy sends every image to a validator that
trusts nothing, so an allowed answer can only come from child approval, and the validator's
call list shows whether the image was validated.
"""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import pytest

from kenner.admission.review import parse_review
from kenner.app.pipeline import answer_review, decide_request
from kenner.app.state import Snapshot
from kenner.config.model import Config, Features, KubernetesConfig, Rule, StaticValidatorConfig
from kenner.kube.access import ClusterAccess
from kenner.kube.client import KubeClient
from tests.loopback.servers import serve_https
from tests.shared import connaisseur_fixtures
from tests.support.fake_kube import FakeKubeApi
from tests.support.proofs import proof_in, with_proof, without_proof
from tests.support.validators import ScriptedValidator

NAMESPACE = "test-connaisseur"
OWNER_PATH = "/apis/apps/v1/namespaces/test-connaisseur/replicasets/charlie-deployment-76fbf58b7d"
CHARLIE = (
    "docker.io/securesystemsengineering/charlie-image"
    "@sha256:91ac9b26df583762234c1cdb2fc930364754ccc59bc752a2bfe298d2ea68f9ff"
)
CONFIG = Config(
    validators=(StaticValidatorConfig("unused", True),),
    policy=(Rule("*:*", "nothing-trusted"),),
    kubernetes=KubernetesConfig(enabled=True, api_s=1.0),
)


@pytest.fixture(autouse=True)
def _needs_connaisseur_fixtures() -> None:
    """Every test here reads them; looked up before trio starts, since pytest-trio drops the
    reason of a skip raised inside a trio test."""
    connaisseur_fixtures()


def review(name: str) -> bytes:
    return (connaisseur_fixtures() / "admission_reviews" / name).read_bytes()


def replicaset() -> dict[str, Any]:
    path = connaisseur_fixtures() / "admission_reviews/kube_api_responses/replicasets.json"
    owner: dict[str, Any] = json.loads(path.read_text())
    return owner


def proven(owner: dict[str, Any], config: Config = CONFIG) -> dict[str, Any]:
    """``owner`` with the proof kenner writes under ``config`` (this process's key)."""
    return with_proof(owner, "ReplicaSet", NAMESPACE, Snapshot(config, {}).prover)


@attrs.frozen
class Setup:
    api: FakeKubeApi
    kube: KubeClient
    validator: ScriptedValidator

    def snapshot(self, config: Config = CONFIG) -> Snapshot:
        return Snapshot(config, {"nothing-trusted": self.validator}, kube=self.kube)


@asynccontextmanager
async def setup() -> AsyncIterator[Setup]:
    api = FakeKubeApi()
    async with serve_https(api) as server:
        access = ClusterAccess(server.base_url, ca_pem=server.ca_pem, token=api.token)
        async with KubeClient(access) as kube:
            yield Setup(api, kube, ScriptedValidator("nothing-trusted", {}))


async def test_matching_owner_uid_admits_the_template_image_without_validation() -> None:
    async with setup() as s:
        s.api.put(OWNER_PATH, proven(replicaset()))
        answer, decision = await answer_review(review("02_pod.json"), s.snapshot())
    # Connaisseur's expectation for this review: allowed, code 202, no image patch; kenner's
    # patch writes the pod's own proof.
    response = json.loads(answer)["response"]
    assert response["allowed"] is True
    assert response["status"] == {"code": 202}
    assert without_proof(decision.response.patch) == []
    assert proof_in(decision.response.patch) is not None
    assert s.validator.calls == []
    assert [(o.image, o.verdict, o.reason) for o in decision.outcomes] == [
        (CHARLIE.removeprefix("docker.io/"), "skip", "in the owner's template (proof verified)")
    ]
    assert [path for path, _ in s.api.requests] == [OWNER_PATH]


async def test_mismatching_owner_uid_validates_in_full() -> None:
    owner = proven(replicaset())
    owner["metadata"]["uid"] = "11111111-2222-3333-4444-555555555555"  # a namesake, re-created
    async with setup() as s:
        s.api.put(OWNER_PATH, owner)
        answer, _ = await answer_review(review("02_pod.json"), s.snapshot())
    assert json.loads(answer)["response"]["allowed"] is False
    assert s.validator.calls == [CHARLIE]


async def test_owner_with_another_image_approves_nothing() -> None:
    owner = copy.deepcopy(replicaset())
    container = owner["spec"]["template"]["spec"]["containers"][0]
    container["image"] = "securesystemsengineering/charlie-image:other"
    async with setup() as s:
        s.api.put(OWNER_PATH, proven(owner))
        answer, _ = await answer_review(review("02_pod.json"), s.snapshot())
    assert json.loads(answer)["response"]["allowed"] is False
    assert s.validator.calls == [CHARLIE]


async def test_missing_owner_validates_in_full(caplog: pytest.LogCaptureFixture) -> None:
    async with setup() as s:
        answer, _ = await answer_review(review("02_pod.json"), s.snapshot())
    assert json.loads(answer)["response"]["allowed"] is False
    assert s.validator.calls == [CHARLIE]
    assert any("not found (HTTP 404)" in str(getattr(r, "fields", "")) for r in caplog.records)


async def test_api_down_validates_in_full() -> None:
    async with setup() as s:
        server_url = s.kube.access.server
    # The server is gone: the client now meets a closed port.
    access = ClusterAccess(server_url, ca_pem=None, token="t")
    async with KubeClient(access) as kube:
        snapshot = Snapshot(CONFIG, {"nothing-trusted": s.validator}, kube=kube)
        answer, _ = await answer_review(review("02_pod.json"), snapshot)
    assert json.loads(answer)["response"]["allowed"] is False
    assert s.validator.calls == [CHARLIE]


async def test_feature_off_or_owner_of_unknown_kind_asks_no_api() -> None:
    off = attrs.evolve(CONFIG, features=Features(automatic_child_approval=False))
    async with setup() as s:
        s.api.put(OWNER_PATH, proven(replicaset(), off))
        await answer_review(review("02_pod.json"), s.snapshot(off))
        # Owner kind 'Unknownparent' (Connaisseur's fixture): nothing to look up.
        await answer_review(review("ad_request_pods_unknownparent.json"), s.snapshot())
    assert s.api.requests == []
    assert len(s.validator.calls) == 2


async def test_without_api_access_children_are_validated() -> None:
    validator = ScriptedValidator("nothing-trusted", {})
    request = parse_review(review("02_pod.json"))
    snapshot = Snapshot(CONFIG, {"nothing-trusted": validator})
    decision = await decide_request(request, snapshot, deadline=float("inf"))
    assert decision.response.allowed is False
    assert validator.calls == [CHARLIE]


def test_fixture_owner_reference_matches_the_served_owner() -> None:
    pod = json.loads(review("02_pod.json"))["request"]["object"]
    (ref,) = pod["metadata"]["ownerReferences"]
    assert ref["uid"] == replicaset()["metadata"]["uid"]
    assert Path(OWNER_PATH).name == ref["name"]
