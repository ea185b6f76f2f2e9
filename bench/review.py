"""The request every scenario sends, and the check that kenner's answer to it is right."""

from __future__ import annotations

import json

from bench.errors import BenchError

REVIEW_UID = "b3f1c6a2-6c1e-4d0e-9a51-0c2f7d6e8b40"
# Three containers, all matched by the static policy's rule for registry.k8s.io.
POD_IMAGES = (
    "registry.k8s.io/pause:3.9",
    "registry.k8s.io/kube-proxy:v1.30.2",
    "registry.k8s.io/etcd:3.5.12-0",
)


def pod_review() -> bytes:
    """An AdmissionReview (v1) for the CREATE of a Pod with three containers."""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "bench", "namespace": "default"},
        "spec": {
            "containers": [
                {"name": f"c{index}", "image": image} for index, image in enumerate(POD_IMAGES)
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
    if status != 200:
        raise BenchError(f"kenner answered HTTP {status}: {answer[:300]!r}")
    try:
        review = json.loads(answer)
        response = review["response"]
        uid, allowed = response["uid"], response["allowed"]
    except (ValueError, KeyError, TypeError) as error:
        raise BenchError(
            f"kenner's answer is not an AdmissionReview ({error}): {answer[:300]!r}"
        ) from None
    if review.get("kind") != "AdmissionReview" or uid != REVIEW_UID or allowed is not True:
        raise BenchError(
            f"kenner's answer should allow request {REVIEW_UID}, got: {answer[:300]!r}"
        )


def check_echoed(status: int, answer: bytes, sent: bytes) -> None:
    """Check the echo server's answer: HTTP 200 with the request body unchanged.

    Raises:
        BenchError: the answer is anything else.
    """
    if status != 200 or answer != sent:
        raise BenchError(f"echo answered HTTP {status} with another body: {answer[:300]!r}")
