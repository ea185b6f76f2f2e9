"""AdmissionReview requests built the way the API server sends them, for the tests.

Every test that talks to kenner needs an ``admission.k8s.io/v1`` AdmissionReview around a Pod or
a workload. The builders here make the shapes the tests share; a test passes only the fields it
depends on (uid, namespace, operation, oldObject, names) and leaves the rest out, so a review
carries no field a test did not ask for.

Container names are a ``str.format`` pattern given the container's index: ``"c{}"`` names them
``c0``, ``c1``, …; a pattern without ``{}`` (``"app"``) gives every container that name; ``None``
leaves the name out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

REVIEW_API_VERSION = "admission.k8s.io/v1"


def containers(*images: str, container_name: str | None = "c{}") -> list[dict[str, str]]:
    """One container per image, in order, named by ``container_name`` (see the module doc)."""
    if container_name is None:
        return [{"image": image} for image in images]
    return [
        {"name": container_name.format(index), "image": image} for index, image in enumerate(images)
    ]


def pod(
    *images: str, name: str | None = None, container_name: str | None = "c{}", **spec_fields: Any
) -> dict[str, Any]:
    """A ``v1`` Pod running ``images``.

    Args:
        images: one container each.
        name: ``metadata.name``; ``None`` leaves ``metadata`` out.
        container_name: the containers' name pattern (see the module doc).
        spec_fields: more pod spec fields, e.g. ``serviceAccountName="builder"``.
    """
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "Pod"}
    if name is not None:
        obj["metadata"] = {"name": name}
    obj["spec"] = {"containers": containers(*images, container_name=container_name), **spec_fields}
    return obj


def deployment(
    *images: str,
    name: str = "app",
    container_name: str | None = "c{}",
    labels: Mapping[str, str] | None = None,
    **spec_fields: Any,
) -> dict[str, Any]:
    """An ``apps/v1`` Deployment whose pod template runs ``images``.

    Args:
        images: one container each in the template.
        name: ``metadata.name``.
        container_name: the containers' name pattern (see the module doc).
        labels: when given, the template's labels and the selector that matches them, as a
            Deployment the API server would accept has; ``None`` leaves both out.
        spec_fields: more fields of the template's pod spec.
    """
    template: dict[str, Any] = {}
    spec: dict[str, Any] = {}
    if labels is not None:
        template["metadata"] = {"labels": dict(labels)}
        spec["selector"] = {"matchLabels": dict(labels)}
    template["spec"] = {
        "containers": containers(*images, container_name=container_name),
        **spec_fields,
    }
    spec["template"] = template
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name}, "spec": spec}


def admission_review(
    obj: Mapping[str, Any],
    *,
    uid: str = "u-1",
    operation: str = "CREATE",
    old: Mapping[str, Any] | None = None,
    namespace: str | None = None,
    user: str | None = None,
) -> dict[str, Any]:
    """An AdmissionReview asking about ``obj``.

    The request's ``kind`` (group, version, kind) is read from the object's ``apiVersion`` and
    ``kind``, so the two cannot disagree.

    Args:
        obj: the object under review (``request.object``).
        uid: ``request.uid``, which the answer must echo.
        operation: ``CREATE``, ``UPDATE``, ``DELETE`` or ``CONNECT``.
        old: ``request.oldObject``; ``None`` leaves it out.
        namespace: ``request.namespace``; ``None`` leaves it out.
        user: ``request.userInfo.username``; ``None`` leaves ``userInfo`` out.
    """
    group, _, version = str(obj["apiVersion"]).rpartition("/")
    request: dict[str, Any] = {
        "uid": uid,
        "kind": {"group": group, "version": version, "kind": obj["kind"]},
        "operation": operation,
    }
    if namespace is not None:
        request["namespace"] = namespace
    if user is not None:
        request["userInfo"] = {"username": user}
    request["object"] = obj
    if old is not None:
        request["oldObject"] = old
    return {"apiVersion": REVIEW_API_VERSION, "kind": "AdmissionReview", "request": request}


def pod_review(
    *images: str,
    uid: str = "u-1",
    operation: str = "CREATE",
    old: Sequence[str] | None = None,
    namespace: str | None = None,
    name: str | None = None,
    container_name: str | None = "c{}",
) -> dict[str, Any]:
    """An AdmissionReview of a Pod running ``images``.

    Args:
        images: the new Pod's images.
        uid: ``request.uid``.
        operation: the request's operation.
        old: the images of the Pod before an UPDATE (``request.oldObject``, named like the new
            one); ``None`` leaves ``oldObject`` out.
        namespace: ``request.namespace``; ``None`` leaves it out.
        name: the Pod's ``metadata.name``; ``None`` leaves ``metadata`` out.
        container_name: the containers' name pattern (see the module doc).
    """
    new = pod(*images, name=name, container_name=container_name)
    old_pod = None if old is None else pod(*old, name=name, container_name=container_name)
    return admission_review(new, uid=uid, operation=operation, old=old_pod, namespace=namespace)


def as_bytes(review: Mapping[str, Any]) -> bytes:
    """The review as the JSON body the API server posts."""
    return json.dumps(review).encode()
