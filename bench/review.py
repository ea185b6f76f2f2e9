"""The request every scenario sends, and the check that kenner's answer to it is right."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

from bench.errors import BenchError

REVIEW_UID = "b3f1c6a2-6c1e-4d0e-9a51-0c2f7d6e8b40"
# Three containers, all matched by the static policy's rule for registry.k8s.io.
POD_IMAGES = (
    "registry.k8s.io/pause:3.9",
    "registry.k8s.io/kube-proxy:v1.30.2",
    "registry.k8s.io/etcd:3.5.12-0",
)


def pod_review(images: Sequence[str] = POD_IMAGES) -> bytes:
    """An AdmissionReview (v1) for the CREATE of a Pod with one container per image."""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "bench", "namespace": "default"},
        "spec": {
            "containers": [
                {"name": f"c{index}", "image": image} for index, image in enumerate(images)
            ]
        },
    }
    review = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": REVIEW_UID,
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": "default",
            "operation": "CREATE",
            "userInfo": {"username": "bench"},
            "object": pod,
            "oldObject": None,
            "dryRun": False,
        },
    }
    return json.dumps(review).encode()


def check_allowed(status: int, answer: bytes) -> None:
    """Check kenner's answer: HTTP 200, an AdmissionReview that allows, with our uid.

    Raises:
        BenchError: the answer is anything else (the message quotes it).
    """
    _allowed_response(status, answer)


def check_pinned(status: int, answer: bytes, pinned: Sequence[str]) -> None:
    """Check kenner's answer allows the Pod and pins container ``i`` to ``pinned[i]``.

    The patch must be exactly one JSON-patch ``replace`` per container, in order, and then
    the operation that writes kenner's validation proof.

    Raises:
        BenchError: the answer is anything else (the message quotes it).
    """
    expected = [
        {"op": "replace", "path": f"/spec/containers/{index}/image", "value": image}
        for index, image in enumerate(pinned)
    ]
    patch = _patch(_allowed_response(status, answer), answer)
    if patch[:-1] != expected or not _is_proof(patch[-1]):
        raise BenchError(f"kenner's patch should be {expected} and the proof, got {patch}")


def check_proof_only(status: int, answer: bytes) -> None:
    """Check kenner allowed the Pod and patched nothing but its validation proof.

    Raises:
        BenchError: the answer does not allow, or patches an image.
    """
    patch = _patch(_allowed_response(status, answer), answer)
    if len(patch) != 1 or not _is_proof(patch[0]):
        raise BenchError(f"kenner's patch should only write the proof, got {patch}")


def _patch(response: dict[str, Any], answer: bytes) -> list[dict[str, Any]]:
    try:
        if response["patchType"] != "JSONPatch":
            raise ValueError(f"patchType is {response['patchType']!r}")
        patch: list[dict[str, Any]] = json.loads(base64.b64decode(response["patch"], validate=True))
    except (ValueError, KeyError, TypeError) as error:
        raise BenchError(f"kenner's answer has no JSON patch ({error}): {answer[:300]!r}") from None
    return patch


def _is_proof(operation: dict[str, Any]) -> bool:
    """The bench Pod has no annotations: kenner adds the map with its proof."""
    value = operation.get("value")
    return (
        operation.get("op") == "add"
        and operation.get("path") == "/metadata/annotations"
        and isinstance(value, dict)
        and set(value) == {"kenner.dev/proof"}
    )


def _allowed_response(status: int, answer: bytes) -> dict[str, Any]:
    if status != 200:
        raise BenchError(f"kenner answered HTTP {status}: {answer[:300]!r}")
    try:
        review = json.loads(answer)
        response: dict[str, Any] = review["response"]
        uid, allowed = response["uid"], response["allowed"]
    except (ValueError, KeyError, TypeError) as error:
        raise BenchError(
            f"kenner's answer is not an AdmissionReview ({error}): {answer[:300]!r}"
        ) from None
    if review.get("kind") != "AdmissionReview" or uid != REVIEW_UID or allowed is not True:
        raise BenchError(
            f"kenner's answer should allow request {REVIEW_UID}, got: {answer[:300]!r}"
        )
    return response


def check_echoed(status: int, answer: bytes, sent: bytes) -> None:
    """Check the echo server's answer: HTTP 200 with the request body unchanged.

    Raises:
        BenchError: the answer is anything else.
    """
    if status != 200 or answer != sent:
        raise BenchError(f"echo answered HTTP {status} with another body: {answer[:300]!r}")
