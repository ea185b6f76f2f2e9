"""The fuzz oracle's judgement on hand-made reviews: a wrong oracle would hide admits (too
lenient) or fail the fuzz test on correct answers (too strict)."""

from __future__ import annotations

import json
from typing import Any

from tests.fuzz.oracle import why_allow_is_wrong
from tests.support.reviews import admission_review, pod

SIGNED = "registry.k8s.io/pause:3.9"
UNSIGNED = "docker.io/attacker/miner:latest"


def _body(review: dict[str, Any]) -> bytes:
    return json.dumps(review).encode()


def test_a_signed_pod_may_be_allowed_and_an_unsigned_one_not() -> None:
    assert why_allow_is_wrong(_body(admission_review(pod(SIGNED)))) is None
    reason = why_allow_is_wrong(_body(admission_review(pod(SIGNED, UNSIGNED))))
    assert reason is not None
    assert "unsigned container image" in reason


def test_an_unsigned_image_volume_may_not_be_allowed() -> None:
    obj = pod(SIGNED)
    obj["spec"]["volumes"] = [{"name": "v", "image": {"reference": UNSIGNED}}]
    reason = why_allow_is_wrong(_body(admission_review(obj)))
    assert reason is not None
    assert "image volume" in reason


def test_a_volume_whose_image_is_null_has_no_image() -> None:
    """null is absent (the API server never sends it): such a volume runs no image."""
    obj = pod(SIGNED)
    obj["spec"]["volumes"] = [{"name": "v", "image": None}]
    assert why_allow_is_wrong(_body(admission_review(obj))) is None


def test_a_container_whose_image_is_null_may_not_be_allowed() -> None:
    obj = pod(SIGNED)
    obj["spec"]["containers"][0]["image"] = None
    assert why_allow_is_wrong(_body(admission_review(obj))) == "malformed image"


def test_finalizer_removal_with_unchanged_images_may_be_allowed() -> None:
    old = pod(UNSIGNED)
    new = pod(UNSIGNED, name="p")
    new["metadata"]["deletionTimestamp"] = "2026-12-04T00:00:00Z"
    review = admission_review(new, operation="UPDATE", old=old)
    assert why_allow_is_wrong(_body(review)) is None


def test_a_deleting_object_with_an_unreadable_old_object_is_judged_on_its_own_images() -> None:
    """kenner validates such an update in full: signed images may pass, unsigned may not."""
    old = pod(SIGNED)
    old["spec"]["containers"][0]["image"] = None
    for image, allowed in ((SIGNED, True), (UNSIGNED, False)):
        new = pod(image, name="p")
        new["metadata"]["deletionTimestamp"] = "2026-12-04T00:00:00Z"
        review = admission_review(new, operation="UPDATE", old=old)
        assert (why_allow_is_wrong(_body(review)) is None) is allowed


def test_odd_operations_may_not_be_allowed() -> None:
    for operation in ("create", "", "PATCH"):
        review = admission_review(pod(UNSIGNED), operation=operation)
        assert why_allow_is_wrong(_body(review)) is not None
    assert why_allow_is_wrong(_body(admission_review(pod(UNSIGNED), operation="DELETE"))) is None
