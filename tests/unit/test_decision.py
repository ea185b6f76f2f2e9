"""The decision core on the captured reviews, with Connaisseur's Go handler expectations.

The Go handler tests use a validator that returns fixed digests; ``ScriptedValidator`` plays
that part here, with the same table, so the expected answers are Connaisseur's own.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio

from kenner.admission.decision import CHILD_SKIP, MAX_LISTED, decide, plan_request
from kenner.admission.review import parse_review
from kenner.app.pipeline import answer_review, decide_request
from kenner.app.state import Snapshot
from kenner.config.model import (
    Config,
    Features,
    Rule,
    RuleOptions,
    StaticValidatorConfig,
)
from kenner.validators.driver import Driven, Driver
from kenner.validators.static import StaticValidator
from tests.shared import connaisseur_fixtures
from tests.support.proofs import proof_in, with_proof, without_proof
from tests.support.reviews import as_bytes, pod_review
from tests.support.validators import BrokenValidator, ScriptedValidator

DIGEST = "sha256:1234567890123456123456789012345612345678901234561234567890123456"
ALICE = "docker.io/securesystemsengineering/alice-image"
ALLOW, DENY = StaticValidatorConfig("allow", True), StaticValidatorConfig("deny", False)

CONFIG = Config(
    validators=(ALLOW, DENY),
    policy=(
        Rule("*:*", "mock"),
        Rule("my.reg/allow-me", "allow"),
        Rule("my.reg/deny-me", "deny"),
        Rule("test-image", "allow"),
    ),
)


def _snapshot(config: Config = CONFIG) -> Snapshot:
    mock = ScriptedValidator(
        "mock",
        {f"{ALICE}:test": DIGEST, f"{ALICE}@{DIGEST}": DIGEST, f"{ALICE}:test@{DIGEST}": DIGEST},
    )
    validators: dict[str, Driven] = {
        "allow": Driver(StaticValidator(ALLOW)),
        "deny": Driver(StaticValidator(DENY)),
        "mock": mock,
    }
    return Snapshot(config, validators)


async def _answer(path: Path, config: Config = CONFIG) -> dict[str, Any]:
    body, _ = await answer_review(path.read_bytes(), _snapshot(config))
    response = json.loads(body)["response"]
    assert isinstance(response, dict)
    return response


def _ops(response: dict[str, Any]) -> list[dict[str, Any]]:
    patch = response.get("patch")
    return [] if patch is None else list(json.loads(base64.b64decode(str(patch))))


def _patch(response: dict[str, Any]) -> list[Mapping[str, Any]] | None:
    """The patch's image operations (the proof annotation is left out: ``_proof``)."""
    return None if "patch" not in response else without_proof(_ops(response))


def _proof(response: dict[str, Any]) -> str | None:
    """The proof the patch writes, if any."""
    return proof_in(_ops(response))


@pytest.fixture
def reviews() -> Path:
    return connaisseur_fixtures() / "admission_reviews"


async def test_signed_tag_is_pinned_to_the_signed_digest(reviews: Path) -> None:
    # Connaisseur's patch, plus kenner's proof annotation (issue 11).
    response = await _answer(reviews / "01_deployment.json")
    assert response["allowed"] is True
    assert str(_proof(response)).startswith("v1:")
    assert _patch(response) == [
        {
            "op": "replace",
            "path": "/spec/template/spec/containers/0/image",
            "value": f"{ALICE}:test@{DIGEST}",
        }
    ]


async def test_static_deny_names_the_image_and_the_validator(reviews: Path) -> None:
    response = await _answer(reviews / "14_deny_me_job.json")
    assert response["allowed"] is False
    message = response["status"]["message"]
    assert "my.reg/deny-me@sha256:91ac9b26" in message
    assert "denied by static validator 'deny'" in message
    assert "patch" not in response


async def test_static_allow_pins_nothing_and_writes_a_proof(reviews: Path) -> None:
    for name in ("15_allow_me_job.json", "22_allow_me_with_index_docker_io.json"):
        response = await _answer(reviews / name)
        assert response["allowed"] is True, name
        assert _patch(response) == [], name
        assert _proof(response) is not None, name


async def test_unsigned_image_is_denied(reviews: Path) -> None:
    response = await _answer(reviews / "04_cronjob.json")
    assert response["allowed"] is False
    assert "docker.io/library/busybox:latest" in response["status"]["message"]


async def test_reference_already_pinned_is_not_patched(reviews: Path) -> None:
    response = await _answer(reviews / "23_alice_digest_dpl.json")
    assert response["allowed"] is True
    assert _patch(response) == []


async def test_update_of_an_object_being_deleted_keeping_its_images_is_admitted(
    reviews: Path,
) -> None:
    response = await _answer(reviews / "29_deleted_deployment_update_for_delete.json")
    assert response["allowed"] is True
    assert "patch" not in response


async def test_create_with_a_deletion_timestamp_is_validated(reviews: Path) -> None:
    # Connaisseur admits 27 unvalidated; kenner validates a CREATE whatever it carries
    # (issue 11 point 2): busybox is unsigned.
    response = await _answer(reviews / "27_deleted_deployment.json")
    assert response["allowed"] is False
    assert "docker.io/library/busybox:latest" in response["status"]["message"]


async def test_pods_only_mode_admits_other_kinds_with_a_warning(reviews: Path) -> None:
    config = attrs.evolve(CONFIG, features=Features(resource_validation_mode="podsOnly"))
    response = await _answer(reviews / "14_deny_me_job.json", config)
    assert response["allowed"] is True
    assert any("pod-only validation active" in w for w in response["warnings"])


async def test_detection_mode_admits_and_warns_with_the_reason(reviews: Path) -> None:
    config = attrs.evolve(CONFIG, features=Features(detection_mode=True))
    response = await _answer(reviews / "14_deny_me_job.json", config)
    assert response["allowed"] is True
    (warning,) = response["warnings"]
    assert warning.startswith("detection mode active: image 'my.reg/deny-me@sha256:91ac")
    assert "static validator 'deny'" in warning


async def test_unparseable_image_is_denied_by_name(reviews: Path) -> None:
    response = await _answer(reviews / "ad_request_invalid_image.json")
    assert response["allowed"] is False
    assert "/itswrong" in response["status"]["message"]


async def test_unsupported_object_api_version_is_denied(reviews: Path) -> None:
    response = await _answer(reviews / "ad_request_wrong_version.json")
    assert response["allowed"] is False
    assert "apiVersion 'v3'" in response["status"]["message"]


def _pod_review(*images: str, operation: str = "CREATE", old: list[str] | None = None) -> bytes:
    review = pod_review(
        *images, uid="u", operation=operation, old=old, namespace="default", name="p"
    )
    return as_bytes(review)


async def _decide(body: bytes, config: Config = CONFIG, deadline: float = 10.0):
    return await decide_request(
        parse_review(body), _snapshot(config), deadline=trio.current_time() + deadline
    )


async def test_no_matching_rule_denies() -> None:
    config = attrs.evolve(CONFIG, policy=(Rule("my.reg/allow-me", "allow"),))
    decision = await _decide(_pod_review("nginx"), config)
    assert not decision.response.allowed
    assert "image 'docker.io/library/nginx:latest': no rule of the image policy matches it" in (
        decision.response.message
    )


async def test_each_failing_image_is_named() -> None:
    decision = await _decide(_pod_review("my.reg/deny-me:1", "busybox", "my.reg/allow-me:1"))
    assert not decision.response.allowed
    message = decision.response.message
    assert "my.reg/deny-me:1" in message
    assert "docker.io/library/busybox:latest" in message
    assert "allow-me" not in message


async def test_duplicate_images_are_validated_once_and_patched_everywhere() -> None:
    snapshot = _snapshot()
    body = _pod_review(f"{ALICE}:test", "securesystemsengineering/alice-image:test")
    decision = await decide_request(parse_review(body), snapshot, deadline=trio.current_time() + 5)
    mock = snapshot.validators["mock"]
    assert isinstance(mock, ScriptedValidator)
    assert mock.calls == [f"{ALICE}:test"]
    assert [p["path"] for p in without_proof(decision.response.patch)] == [
        "/spec/containers/0/image",
        "/spec/containers/1/image",
    ]
    assert proof_in(decision.response.patch) is not None


async def test_insecure_validate_only_mode_does_not_patch() -> None:
    config = attrs.evolve(
        CONFIG, policy=(Rule("*:*", "mock", RuleOptions(mode="insecureValidateOnly")),)
    )
    decision = await _decide(_pod_review(f"{ALICE}:test"), config)
    assert decision.response.allowed
    assert without_proof(decision.response.patch) == []
    assert proof_in(decision.response.patch) is not None


async def test_warn_rule_admits_with_a_warning() -> None:
    config = attrs.evolve(CONFIG, policy=(Rule("*:*", "deny", RuleOptions(enforce="warn")),))
    decision = await _decide(_pod_review("nginx"), config)
    assert decision.response.allowed
    assert decision.response.warnings == (
        "image 'docker.io/library/nginx:latest': denied by static validator 'deny'",
    )


async def test_unchanged_approval_skips_images_of_a_proven_old_object() -> None:
    config = attrs.evolve(CONFIG, features=Features(automatic_unchanged_approval=True))
    snapshot = _snapshot(config)
    review = pod_review(
        "busybox", uid="u", operation="UPDATE", old=["busybox"], namespace="default", name="p"
    )
    old = review["request"]["oldObject"]
    review["request"]["oldObject"] = with_proof(old, "Pod", "default", snapshot.prover)
    decision = await decide_request(
        parse_review(as_bytes(review)), snapshot, deadline=trio.current_time() + 5
    )
    assert decision.response.allowed
    assert [(o.verdict, o.reason) for o in decision.outcomes] == [
        ("skip", "unchanged on update (proof verified)")
    ]
    # without the feature, or without the proof (issue 11), the same update is validated
    # (and busybox is unsigned)
    assert not (await _decide(as_bytes(review))).response.allowed
    unproven = _pod_review("busybox", operation="UPDATE", old=["busybox"])
    assert not (await _decide(unproven, config)).response.allowed


async def test_other_operations_are_not_validated() -> None:
    decision = await _decide(_pod_review("busybox", operation="DELETE"))
    assert decision.response.allowed
    assert decision.outcomes == ()


async def test_a_validator_bug_denies_its_image_only() -> None:
    snapshot = _snapshot()
    validators: dict[str, Driven] = dict(snapshot.validators)
    validators["mock"] = BrokenValidator("mock")
    decision = await decide_request(
        parse_review(_pod_review("busybox")),
        Snapshot(CONFIG, validators),
        deadline=trio.current_time() + 5,
    )
    assert not decision.response.allowed
    assert "internal error in validator 'mock'" in decision.response.message


async def test_an_update_that_sets_the_proof_itself_is_not_overwritten() -> None:
    """The Deployment controller restores its Deployment's annotations on its ReplicaSets;
    kenner writing its own value back each time would never end. An UPDATE that leaves the
    annotation alone (or drops it) gets kenner's proof; one that sets another value keeps it."""
    snapshot = _snapshot()
    review = pod_review("my.reg/allow-me:1", uid="u", operation="UPDATE", old=["my.reg/allow-me:1"])
    request = review["request"]
    request["oldObject"] = with_proof(request["oldObject"], "Pod", "", snapshot.prover, "v1:old")
    request["object"] = with_proof(request["object"], "Pod", "", snapshot.prover, "v1:old")
    untouched = await decide_request(
        parse_review(as_bytes(review)), snapshot, deadline=trio.current_time() + 5
    )
    assert proof_in(untouched.response.patch) is not None
    request["object"] = with_proof(request["object"], "Pod", "", snapshot.prover, "v1:copied")
    changed = await decide_request(
        parse_review(as_bytes(review)), snapshot, deadline=trio.current_time() + 5
    )
    assert changed.response.allowed
    assert changed.response.patch == ()
    # Dropping the annotation (e.g. kubectl replace) is no controller's copy: kenner writes it.
    del request["object"]["metadata"]["annotations"]
    dropped = await decide_request(
        parse_review(as_bytes(review)), snapshot, deadline=trio.current_time() + 5
    )
    assert proof_in(dropped.response.patch) is not None


def test_an_answer_names_at_most_twenty_failing_images_and_counts_the_rest() -> None:
    """Issue 11 point 8: a review of a thousand unsigned images gets a bounded message."""
    images = [f"docker.io/attacker/miner:{index}" for index in range(1000)]
    plan = plan_request(parse_review(as_bytes(pod_review(*images))), CONFIG)
    decision = decide(plan, {}, CONFIG)
    message = decision.response.message
    assert not decision.response.allowed
    assert message.count("image 'docker.io/attacker/miner:") == MAX_LISTED
    assert message.endswith("and 980 more images denied")
    assert len(message) < 5000


@pytest.mark.parametrize(
    ("features", "skipped"),
    [
        (Features(), True),
        (Features(automatic_child_approval=False), False),
        (Features(resource_validation_mode="podsOnly"), False),
    ],
    ids=["on", "off", "podsOnly"],
)
def test_owner_images_count_only_where_child_approval_applies(
    features: Features, skipped: bool
) -> None:
    """The decision core, not the Kubernetes reader, decides whether child approval applies:
    owner images handed in while it is off are validated like any other."""
    image = "docker.io/library/nginx@sha256:" + "ab" * 32
    config = attrs.evolve(CONFIG, features=features)
    plan = plan_request(
        parse_review(as_bytes(pod_review(image))), config, owner_images=frozenset({image})
    )
    assert [(o.image, o.reason) for o in plan.early] == ([(image, CHILD_SKIP)] if skipped else [])
    assert [check.key for check in plan.checks] == ([] if skipped else [image])


@pytest.mark.parametrize(
    "images",
    [
        ("test-image:1", "test-image:1", "my.reg/deny-me:2", "Not A Ref"),
        (f"{ALICE}:test", "nomatch.example/x:1"),
        tuple(f"my.reg/allow-me:{n}" for n in range(12)),  # more than are remembered
        ("test-image:" + "9" * 120, "x" * 5000),  # longer than is remembered
    ],
)
def test_a_remembered_plan_is_the_plan_made_afresh(images: tuple[str, ...]) -> None:
    """Checks remembered per policy index (performance) equal those grouped anew."""
    snapshot = _snapshot()
    request = parse_review(as_bytes(pod_review(*images, uid=f"u-{len(images)}")))
    fresh = plan_request(request, snapshot.config)  # no index given: nothing is remembered
    for _ in range(2):
        planned = plan_request(request, snapshot.config, snapshot.policy)
        assert (planned.checks, planned.early) == (fresh.checks, fresh.early)
