"""The fuzz test's own judgement of an answer, independent of kenner's code.

``allow_is_acceptable(body)`` says whether ``allowed: true`` could be right for the request in
``body`` under the fuzz configuration (one registry approved, everything else unmatched, child
approval, unchanged approval, podsOnly and detection mode off). It parses the body keeping every
member of a repeated key, and is conservative: each repeated value must be acceptable.

Allowed is acceptable only when
* every ``request.operation`` is exactly ``DELETE`` or ``CONNECT`` (they carry no new image), or
* every operation is ``UPDATE``, the object carries ``metadata.deletionTimestamp``, and its
  images all appear in ``oldObject`` (finalizer removal changes no image), or
* every operation is ``CREATE`` or ``UPDATE``, the request kind is a workload kind, and every
  image at any pod-spec place of the object (containers, initContainers, ephemeralContainers,
  image volumes, for the pod-spec path of every workload kind) is a string naming
  ``registry.k8s.io``, with no wrong-typed list, container or image on the way.
"""

from __future__ import annotations

import json
from typing import Any

from tests.fuzz.mutator import CONTAINER_LISTS, KINDS


class Members(list[tuple[str, Any]]):
    """A JSON object with every member kept, repeated names included."""


def _parse(body: bytes) -> Any:
    return json.loads(body, object_pairs_hook=Members)


def _all(node: Any, key: str) -> list[Any]:
    return [value for name, value in node if name == key] if isinstance(node, Members) else []


class Malformed(Exception):
    """A place where an image could be is not what Kubernetes would send."""


def _images(obj: Any) -> list[str]:
    images: list[str] = []
    for _, spec_path in KINDS.values():
        specs = [obj]
        for step in spec_path:
            specs = [child for spec in specs for child in _all(spec, step)]
        for spec in specs:
            for list_name in CONTAINER_LISTS:
                for listed in _all(spec, list_name):
                    images += _container_images(listed)
            for volumes in _all(spec, "volumes"):
                images += _volume_images(volumes)
    return images


def _container_images(listed: Any) -> list[str]:
    if listed is None:
        return []
    if not isinstance(listed, list):
        raise Malformed
    found = []
    for container in listed:
        if not isinstance(container, Members):
            raise Malformed
        for image in _all(container, "image"):
            if not isinstance(image, str):
                raise Malformed
            found.append(image)
    return found


def _volume_images(volumes: Any) -> list[str]:
    if volumes is None:
        return []
    if not isinstance(volumes, list):
        raise Malformed
    found = []
    for volume in volumes:
        if not isinstance(volume, Members):
            raise Malformed
        for image in _all(volume, "image"):
            references = _all(image, "reference")
            if not isinstance(image, Members) or not all(isinstance(r, str) for r in references):
                raise Malformed
            found += references
    return found


def _allowed_image(image: str) -> bool:
    return image.lower().startswith("registry.k8s.io/")


def _deleting(obj: Any) -> bool:
    return any(
        bool(stamp) for meta in _all(obj, "metadata") for stamp in _all(meta, "deletionTimestamp")
    )


def _request_acceptable(request: Any) -> bool:
    operations = _all(request, "operation")
    if not operations:
        return False
    if all(op in ("DELETE", "CONNECT") for op in operations):
        return True
    if not all(op in ("CREATE", "UPDATE") for op in operations):
        return False
    kinds = [kind for rk in _all(request, "kind") for kind in _all(rk, "kind")]
    objects = _all(request, "object")
    if not kinds or not all(kind in KINDS for kind in kinds) or not objects:
        return False
    try:
        for obj in objects:
            images = _images(obj)
            if all(op == "UPDATE" for op in operations) and _deleting(obj):
                old = {image for old in _all(request, "oldObject") for image in _images(old)}
                if set(images) <= old:
                    continue
            if not all(_allowed_image(image) for image in images):
                return False
    except Malformed:
        return False
    return True


def allow_is_acceptable(body: bytes) -> bool:
    try:
        review = _parse(body)
    except (ValueError, RecursionError):
        return False
    requests = _all(review, "request")
    return bool(requests) and all(_request_acceptable(request) for request in requests)
