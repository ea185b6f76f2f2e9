"""Hostile review, issue 11 points 1 and 2: shortcuts that admit images without validating them.

Automatic child approval, automatic unchanged approval and the deletion shortcut each admit an
image on the strength of another object. Each test below is one way that trust was abused
before: an owner kenner never validated (``podsOnly``, created before kenner, detection mode),
one being deleted, a proof copied or made under another policy, an ``oldObject`` never
validated, a Terminating object given a new image, a CREATE pretending to be a deletion.

The tests use only kenner's public behaviour, as an attacker would: an owner "admitted by
kenner" is the object with kenner's own JSON patch applied, stored in a fake Kubernetes API
served over loopback TLS (``tests.support.fake_kube``). The validator trusts one tag only and
records every image it is asked about, so a test sees whether an image was validated.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import pytest

from kenner.admission.decision import Decision
from kenner.app.pipeline import answer_review
from kenner.app.state import Snapshot
from kenner.config.errors import ConfigError
from kenner.config.load import load_config
from kenner.config.model import (
    Config,
    Features,
    KubernetesConfig,
    Rule,
    RuleOptions,
    StaticValidatorConfig,
)
from kenner.kube.access import ClusterAccess
from kenner.kube.client import KubeClient
from kenner.validators.driver import Driver
from kenner.validators.static import StaticValidator
from tests.loopback.servers import serve_https
from tests.support.fake_kube import FakeKubeApi
from tests.support.reviews import admission_review, as_bytes, deployment
from tests.support.validators import ScriptedValidator

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "connaisseur-values.yaml"
NAMESPACE = "team"
DIGEST = "sha256:" + "1" * 64
OTHER_DIGEST = "sha256:" + "2" * 64
SIGNED = "registry.example/team/app:1"  # the validator trusts this tag, signed as DIGEST
SIGNED_PINNED = f"{SIGNED}@{DIGEST}"  # what kenner's patch pins it to
UNSIGNED = f"registry.example/team/evil:1@{OTHER_DIGEST}"  # pinned, but never signed
RS_NAME, RS_UID = "web-5d9c", "6f1c2a4e-0000-4000-8000-000000000001"
RS_PATH = f"/apis/apps/v1/namespaces/{NAMESPACE}/replicasets/{RS_NAME}"
CONFIG = Config(
    validators=(StaticValidatorConfig("unused", True),),
    policy=(Rule("*:*", "sig"),),
    kubernetes=KubernetesConfig(enabled=True, api_s=1.0),
)


# --- helpers: kenner's answers applied as the API server applies them -----------------------------


def replicaset(*images: str, namespace: str = NAMESPACE) -> dict[str, Any]:
    """A ReplicaSet as a controller creates it (no UID yet: the API server adds it)."""
    obj = deployment(*images, name=RS_NAME)
    obj["kind"] = "ReplicaSet"
    obj["metadata"]["namespace"] = namespace
    return obj


def child_pod(*images: str) -> dict[str, Any]:
    owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": RS_NAME, "uid": RS_UID}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"{RS_NAME}-x1", "ownerReferences": [owner]},
        "spec": {"containers": [{"name": f"c{i}", "image": im} for i, im in enumerate(images)]},
    }


def _tokens(path: str) -> list[str]:
    return [token.replace("~1", "/").replace("~0", "~") for token in path.split("/")[1:]]


def apply_patch(obj: Mapping[str, Any], ops: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The object after kenner's JSON patch (``add`` and ``replace``, all kenner writes)."""
    result: dict[str, Any] = copy.deepcopy(dict(obj))
    for op in ops:
        assert op["op"] in ("add", "replace"), op
        *parents, last = _tokens(str(op["path"]))
        target: Any = result
        for token in parents:
            target = target[int(token)] if isinstance(target, list) else target[token]
        if isinstance(target, list):
            target[int(last)] = op["value"]
        else:
            target[last] = op["value"]
    return result


async def admit(
    snapshot: Snapshot,
    obj: Mapping[str, Any],
    *,
    operation: str = "CREATE",
    old: Mapping[str, Any] | None = None,
    namespace: str = NAMESPACE,
) -> Decision:
    review = admission_review(obj, operation=operation, old=old, namespace=namespace)
    _, decision = await answer_review(as_bytes(review), snapshot)
    return decision


async def store_admitted_owner(snapshot: Snapshot, api: FakeKubeApi, owner: dict[str, Any]) -> None:
    """Admit ``owner`` through kenner, then store it as the API server would."""
    decision = await admit(snapshot, owner)
    assert decision.response.allowed
    stored = apply_patch(owner, decision.response.patch)
    stored["metadata"]["uid"] = RS_UID
    api.put(RS_PATH, stored)


def stored_owner(owner: dict[str, Any]) -> dict[str, Any]:
    """``owner`` stored without kenner ever seeing it (before kenner, an ignored namespace)."""
    stored = copy.deepcopy(owner)
    stored["metadata"]["uid"] = RS_UID
    return stored


def skipped(decision: Decision) -> list[str]:
    return [o.image for o in decision.outcomes if o.verdict == "skip"]


@attrs.frozen
class Cluster:
    api: FakeKubeApi
    kube: KubeClient
    validator: ScriptedValidator

    def snapshot(self, config: Config = CONFIG) -> Snapshot:
        return Snapshot(config, {"sig": self.validator}, kube=self.kube)


@asynccontextmanager
async def cluster() -> AsyncIterator[Cluster]:
    api = FakeKubeApi()
    async with serve_https(api) as server:
        access = ClusterAccess(server.base_url, ca_pem=server.ca_pem, token=api.token)
        async with KubeClient(access) as kube:
            signed = {SIGNED: DIGEST, SIGNED_PINNED: DIGEST}
            yield Cluster(api, kube, ScriptedValidator("sig", signed))


# --- the genuine path still works -----------------------------------------------------------------


async def test_a_pod_of_an_owner_kenner_validated_is_approved_without_validation() -> None:
    """Issue 11 point 1, the shortcut kept: a proven owner's digest images pass on unvalidated."""
    async with cluster() as c:
        await store_admitted_owner(c.snapshot(), c.api, replicaset(SIGNED))
        c.validator.calls.clear()
        decision = await admit(c.snapshot(), child_pod(SIGNED_PINNED))
    assert decision.response.allowed
    assert c.validator.calls == []
    assert skipped(decision) == [SIGNED_PINNED]
    reasons = {o.reason for o in decision.outcomes}
    assert reasons == {"in the owner's template (proof verified)"}


async def test_a_deployments_proof_carries_over_to_its_replicaset_and_its_pods() -> None:
    """Issue 11 point 1, the shortcut kept: the Deployment controller copies the Deployment's
    annotations (the proof too) onto its ReplicaSet; that copy is the ReplicaSet's own proof,
    so kenner leaves it as is (no fight with the controller) and the pods pass on it."""
    d_path = f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/web"
    d_uid = "6f1c2a4e-0000-4000-8000-0000000000d0"
    async with cluster() as c:
        created = deployment(SIGNED, name="web")
        decision = await admit(c.snapshot(), created)
        stored = apply_patch(created, decision.response.patch)
        stored["metadata"]["uid"] = d_uid
        c.api.put(d_path, stored)
        # The ReplicaSet as the controller makes it: the template and the annotations copied.
        rs = replicaset(SIGNED_PINNED)
        rs["metadata"]["annotations"] = dict(stored["metadata"]["annotations"])
        rs["metadata"]["ownerReferences"] = [
            {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": d_uid}
        ]
        c.validator.calls.clear()
        decision = await admit(c.snapshot(), rs)
        assert decision.response.allowed
        assert decision.response.patch == ()  # its proof is already the right one
        c.api.put(RS_PATH, stored_owner(rs))
        decision = await admit(c.snapshot(), child_pod(SIGNED_PINNED))
    assert decision.response.allowed
    assert c.validator.calls == []
    assert skipped(decision) == [SIGNED_PINNED]


# --- point 1: child approval ----------------------------------------------------------------------


async def test_pods_only_owner_admitted_unchecked_approves_nothing() -> None:
    """Issue 11 point 1: podsOnly x automaticChildApproval. The controller is admitted
    unchecked; its pod must be validated (the unsigned image is denied)."""
    features = Features(resource_validation_mode="podsOnly", automatic_child_approval=True)
    config = attrs.evolve(CONFIG, features=features)  # built directly: the loader refuses it
    async with cluster() as c:
        await store_admitted_owner(c.snapshot(config), c.api, replicaset(UNSIGNED))
        decision = await admit(c.snapshot(config), child_pod(UNSIGNED))
    assert not decision.response.allowed
    assert UNSIGNED in decision.response.message
    assert c.validator.calls == [UNSIGNED]


BASE = "validators: [{name: default, type: static, approve: true}]\npolicy: [{pattern: '*:*'}]\n"
CHILD, PODS_ONLY = "  automaticChildApproval: true\n", "  resourceValidationMode: podsOnly\n"


@pytest.mark.parametrize(
    ("features", "line"),
    [(CHILD + PODS_ONLY, 4), (PODS_ONLY + CHILD, 5)],
    ids=["child-approval-first", "pods-only-first"],
)
def test_pods_only_with_child_approval_written_is_refused_in_either_order(
    features: str, line: int
) -> None:
    """Issue 11 point 1: podsOnly x automaticChildApproval given together is a config error
    naming both keys, whichever comes first."""
    with pytest.raises(ConfigError) as caught:
        load_config(BASE + "features:\n" + features, "kenner.yaml")
    (problem,) = caught.value.problems
    assert (problem.path, problem.line) == ("features.automaticChildApproval", line)
    assert "resourceValidationMode: podsOnly" in problem.message
    assert "automaticChildApproval: true cannot be combined" in problem.message


def test_pods_only_with_child_approval_in_connaisseur_v3_values_is_refused() -> None:
    """Issue 11 point 1: the same refusal in Connaisseur v3's layout, at its own key path."""
    text = """\
application:
  validators: [{name: default, type: static, approve: true}]
  policy: [{pattern: "*:*"}]
  features:
    resourceValidationMode: podsOnly
    automaticChildApproval: true
"""
    with pytest.raises(ConfigError) as caught:
        load_config(text, "values.yaml")
    (problem,) = caught.value.problems
    assert (problem.path, problem.line) == ("application.features.automaticChildApproval", 6)


def test_the_connaisseur_example_values_with_pods_only() -> None:
    """Issue 11 point 1: examples/connaisseur-values.yaml (v3) writes automaticChildApproval:
    true; switched to podsOnly it is refused at that key; without that line it loads with
    child approval off."""
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        "resourceValidationMode: all", "resourceValidationMode: podsOnly"
    )
    line = 1 + text.splitlines().index("    automaticChildApproval: true")
    with pytest.raises(ConfigError) as caught:
        load_config(text, str(EXAMPLE))
    (problem,) = caught.value.problems
    assert (problem.path, problem.line) == ("application.features.automaticChildApproval", line)
    defaulted = text.replace("    automaticChildApproval: true\n", "")
    assert load_config(defaulted).features.automatic_child_approval is False


@pytest.mark.parametrize(
    "text",
    [
        "validators: [{name: default, type: static, approve: true}]\n"
        "policy: [{pattern: '*:*'}]\nfeatures: {resourceValidationMode: podsOnly}\n",
        "application:\n  validators: [{name: default, type: static, approve: true}]\n"
        "  policy: [{pattern: '*:*'}]\n  features: {resourceValidationMode: podsOnly}\n",
    ],
    ids=["kenner", "connaisseur-v3"],
)
def test_pods_only_alone_turns_the_default_child_approval_off_with_a_warning(
    text: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 11 point 1: a Connaisseur user who only set podsOnly keeps a loading config, and
    child approval (on by default) is off."""
    with caplog.at_level(logging.WARNING):
        config = load_config(text)
    assert config.features.resource_validation_mode == "podsOnly"
    assert config.features.automatic_child_approval is False
    assert any("automatic child approval is off" in r.getMessage() for r in caplog.records)


def test_connaisseur_v2_values_cannot_ask_for_pods_only() -> None:
    """Issue 11 point 1: v2's layout has automaticChildApproval but no podsOnly, so the two
    cannot meet there; example values still load with child approval on."""
    values = "deployment: {}\nvalidators: [{name: default, type: static, approve: true}]\n"
    values += "policy: [{pattern: '*:*'}]\nautomaticChildApproval: {enabled: true}\n"
    assert load_config(values).features.automatic_child_approval is True
    with pytest.raises(ConfigError, match="unknown key 'resourceValidationMode'"):
        load_config(values + "resourceValidationMode: podsOnly\n")


async def test_owner_created_before_kenner_has_no_proof(caplog: pytest.LogCaptureFixture) -> None:
    """Issue 11 point 1: an owner kenner never saw (created before kenner was installed, or
    in a namespace the webhook ignores) vouches for nothing."""
    async with cluster() as c:
        c.api.put(RS_PATH, stored_owner(replicaset(UNSIGNED)))
        with caplog.at_level(logging.INFO):
            decision = await admit(c.snapshot(), child_pod(UNSIGNED))
    assert not decision.response.allowed
    assert c.validator.calls == [UNSIGNED]
    reasons = [str(getattr(r, "fields", "")) for r in caplog.records]
    assert any("carries no proof" in reason for reason in reasons), reasons


async def test_owner_admitted_in_detection_mode_vouches_for_nothing() -> None:
    """Issue 11 point 1: an owner admitted in detection mode (its unsigned image only warned
    about) gets no proof; its pods are validated."""
    config = attrs.evolve(CONFIG, features=Features(detection_mode=True))
    async with cluster() as c:
        await store_admitted_owner(c.snapshot(config), c.api, replicaset(UNSIGNED))
        c.validator.calls.clear()
        decision = await admit(c.snapshot(config), child_pod(UNSIGNED))
    assert c.validator.calls == [UNSIGNED]
    assert skipped(decision) == []
    assert any("detection mode active" in w for w in decision.response.warnings)


async def test_owner_being_deleted_vouches_for_nothing() -> None:
    """Issue 11 point 2: child approval must not approve a pod whose owner is being deleted."""
    async with cluster() as c:
        await store_admitted_owner(c.snapshot(), c.api, replicaset(SIGNED))
        c.api.objects[RS_PATH]["metadata"]["deletionTimestamp"] = "2026-12-04T05:00:00Z"
        c.validator.calls.clear()
        decision = await admit(c.snapshot(), child_pod(SIGNED_PINNED))
    assert decision.response.allowed  # the image is signed: validated, then allowed
    assert c.validator.calls == [SIGNED_PINNED]
    assert skipped(decision) == []


async def test_proof_copied_from_another_object_does_not_verify() -> None:
    """Issue 11 point 1: a proof copied from an owner kenner validated onto an unvalidated
    owner with another image approves nothing."""
    async with cluster() as c:
        await store_admitted_owner(c.snapshot(), c.api, replicaset(SIGNED))
        genuine = c.api.objects[RS_PATH]
        forged = stored_owner(replicaset(UNSIGNED))
        forged["metadata"]["annotations"] = copy.deepcopy(genuine["metadata"].get("annotations"))
        c.api.put(RS_PATH, forged)
        c.validator.calls.clear()
        decision = await admit(c.snapshot(), child_pod(UNSIGNED))
    assert not decision.response.allowed
    assert c.validator.calls == [UNSIGNED]


async def test_proof_copied_from_another_namespace_does_not_verify() -> None:
    """Issue 11 point 1: a proof kenner wrote in one namespace does not vouch for an object in
    another, even with the same images."""
    async with cluster() as c:
        elsewhere = replicaset(SIGNED, namespace="dev")
        decision = await admit(c.snapshot(), elsewhere, namespace="dev")
        proven_there = apply_patch(elsewhere, decision.response.patch)
        copied = stored_owner(replicaset(SIGNED_PINNED))
        copied["metadata"]["annotations"] = proven_there["metadata"].get("annotations")
        c.api.put(RS_PATH, copied)
        c.validator.calls.clear()
        decision = await admit(c.snapshot(), child_pod(SIGNED_PINNED))
    assert c.validator.calls == [SIGNED_PINNED]
    assert skipped(decision) == []


async def test_proof_made_under_another_policy_does_not_verify() -> None:
    """Issue 11 point 1: an owner validated under an older policy (here one that still
    trusted the image) vouches for nothing once the policy changed."""
    old_policy = attrs.evolve(CONFIG, policy=(Rule("*:*", "sig"), Rule(UNSIGNED, "allow")))
    old_policy = attrs.evolve(
        old_policy, validators=(StaticValidatorConfig("allow", True), *CONFIG.validators)
    )
    async with cluster() as c:
        allow = Driver(StaticValidator(StaticValidatorConfig("allow", True)))
        before = Snapshot(old_policy, {"sig": c.validator, "allow": allow}, kube=c.kube)
        await store_admitted_owner(before, c.api, replicaset(UNSIGNED))
        decision = await admit(c.snapshot(), child_pod(UNSIGNED))  # the policy now
    assert not decision.response.allowed
    assert c.validator.calls == [UNSIGNED]


async def test_tag_only_image_of_a_proven_owner_is_validated() -> None:
    """Issue 11 point 1: a tag in a proven owner may point elsewhere by now; only images
    pinned by digest are approved as the owner's."""
    config = attrs.evolve(
        CONFIG, policy=(Rule("*:*", "sig", RuleOptions(mode="insecureValidateOnly")),)
    )
    async with cluster() as c:
        await store_admitted_owner(c.snapshot(config), c.api, replicaset(SIGNED))
        c.validator.calls.clear()
        decision = await admit(c.snapshot(config), child_pod(SIGNED))
    assert decision.response.allowed
    assert c.validator.calls == [SIGNED]
    assert skipped(decision) == []


# --- point 1: unchanged approval ------------------------------------------------------------------


async def test_unchanged_approval_needs_a_proven_old_object() -> None:
    """Issue 11 point 1 (unchanged approval): an UPDATE keeping an unsigned image of an
    oldObject kenner never validated is validated, not waved through."""
    config = attrs.evolve(CONFIG, features=Features(automatic_unchanged_approval=True))
    async with cluster() as c:
        old = stored_owner(replicaset(UNSIGNED))
        new = copy.deepcopy(old)
        new["spec"]["replicas"] = 3
        decision = await admit(c.snapshot(config), new, operation="UPDATE", old=old)
    assert not decision.response.allowed
    assert c.validator.calls == [UNSIGNED]


async def test_unchanged_approval_with_a_proven_old_object_skips() -> None:
    """Issue 11 point 1 (unchanged approval), the shortcut kept: oldObject as kenner admitted
    it carries a proof, so its images are not validated again."""
    config = attrs.evolve(CONFIG, features=Features(automatic_unchanged_approval=True))
    async with cluster() as c:
        created = replicaset(SIGNED)
        decision = await admit(c.snapshot(config), created)
        old = apply_patch(created, decision.response.patch)
        new = copy.deepcopy(old)
        new["spec"]["replicas"] = 3
        c.validator.calls.clear()
        decision = await admit(c.snapshot(config), new, operation="UPDATE", old=old)
    assert decision.response.allowed
    assert c.validator.calls == []
    assert {o.reason for o in decision.outcomes} == {"unchanged on update (proof verified)"}


# --- point 2: objects being deleted ---------------------------------------------------------------


async def test_terminating_object_given_a_new_unsigned_image_is_validated() -> None:
    """Issue 11 point 2: a finalizer-held Terminating object's UPDATE that brings a new image
    is validated like any UPDATE."""
    async with cluster() as c:
        old = stored_owner(replicaset(SIGNED_PINNED))
        old["metadata"]["deletionTimestamp"] = "2026-12-04T05:00:00Z"
        old["metadata"]["finalizers"] = ["example.com/hold"]
        new = copy.deepcopy(old)
        new["spec"]["template"]["spec"]["containers"][0]["image"] = UNSIGNED
        decision = await admit(c.snapshot(), new, operation="UPDATE", old=old)
    assert not decision.response.allowed
    assert UNSIGNED in decision.response.message


async def test_terminating_object_whose_finalizer_is_removed_passes_unvalidated() -> None:
    """Issue 11 point 2, the shortcut kept (Connaisseur #2053): an UPDATE changing no image of
    an object being deleted is admitted without validation."""
    async with cluster() as c:
        old = stored_owner(replicaset(UNSIGNED))
        old["metadata"]["deletionTimestamp"] = "2026-12-04T05:00:00Z"
        old["metadata"]["finalizers"] = ["example.com/hold"]
        new = copy.deepcopy(old)
        del new["metadata"]["finalizers"]
        decision = await admit(c.snapshot(), new, operation="UPDATE", old=old)
    assert decision.response.allowed
    assert c.validator.calls == []


async def test_create_with_a_deletion_timestamp_is_validated() -> None:
    """Issue 11 point 2: a CREATE carrying metadata.deletionTimestamp is validated like any
    CREATE."""
    async with cluster() as c:
        obj = replicaset(UNSIGNED)
        obj["metadata"]["deletionTimestamp"] = "2026-12-04T05:00:00Z"
        decision = await admit(c.snapshot(), obj)
    assert not decision.response.allowed
    assert c.validator.calls == [UNSIGNED]


async def test_a_hostile_request_namespace_never_steers_the_owner_read() -> None:
    """Issue 11 point 11 for child approval: the owner's API path is built from checked,
    escaped segments, so a request namespace like ``x/../kube-system`` reads nothing (httpx
    would resolve the ``..``); the child is validated in full."""
    async with cluster() as c:
        await store_admitted_owner(c.snapshot(), c.api, replicaset(SIGNED))
        c.api.requests.clear()
        c.validator.calls.clear()
        decision = await admit(c.snapshot(), child_pod(SIGNED_PINNED), namespace="x/../kube-system")
    assert c.api.requests == []
    assert c.validator.calls == [SIGNED_PINNED]
    assert skipped(decision) == []
