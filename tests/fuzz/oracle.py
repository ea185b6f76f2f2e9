"""The fuzz test's own judgement of an answer, independent of kenner's code.

``why_allow_is_wrong(body)`` says why ``allowed: true`` would be wrong for the request in
``body``, or None when it can be right, under the fuzz configuration (one registry approved,
everything else unmatched; child approval, unchanged approval, podsOnly and detection mode off).
It parses the body keeping every member of a repeated key, and is conservative: each repeated
value must be acceptable.

Allowed is acceptable only when
* every ``request.operation`` is exactly ``DELETE`` or ``CONNECT`` (they carry no new image), or
* every operation is ``UPDATE``, the object carries ``metadata.deletionTimestamp``, and its
  images all appear in ``oldObject`` (finalizer removal changes no image), or
* every operation is ``CREATE`` or ``UPDATE``, the request kind is a workload kind, and every
  image in the object's pod spec (containers, initContainers, ephemeralContainers, image
  volumes; at the pod-spec path of the request's kind and of the object's own ``kind``) is a
  string naming ``registry.k8s.io``, with no wrong-typed list, container or image on the way.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from tests.fuzz.mutator import CONTAINER_LISTS, KINDS


class Members(list[tuple[str, Any]]):
    """A JSON object with every member kept, repeated names included."""


def _parse(body: bytes) -> Any:
    # kenner's parser (orjson) accepts 1 024 levels; the standard library stops near 1 000 minus
    # the caller's stack, so the oracle raises the limit to read whatever kenner may read.
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 5000))
    try:
        return json.loads(body, object_pairs_hook=Members)
    finally:
        sys.setrecursionlimit(limit)


def _all(node: Any, key: str) -> list[Any]:
    return [value for name, value in node if name == key] if isinstance(node, Members) else []


class Malformed(Exception):
    """A place where an image could be is not what Kubernetes would send."""


def _images(obj: Any, request_kinds: list[str]) -> list[tuple[str, str]]:
    """Every image of ``obj`` where a pod spec is for the request's kind or the object's own
    ``kind`` (the API server makes them agree; a review where they differ is judged by both),
    with the kind of place it is in."""
    kinds = {*request_kinds, *(kind for kind in _all(obj, "kind") if isinstance(kind, str))}
    images: list[tuple[str, str]] = []
    for spec_path in {KINDS[kind][1] for kind in kinds if kind in KINDS}:
        specs = [obj]
        for step in spec_path:
            specs = [child for spec in specs for child in _all(spec, step)]
        for spec in specs:
            for list_name in CONTAINER_LISTS:
                for listed in _all(spec, list_name):
                    images += [(image, "container") for image in _container_images(listed)]
            for volumes in _all(spec, "volumes"):
                images += [(image, "image volume") for image in _volume_images(volumes)]
    return images


def _container_images(listed: Any) -> list[str]:
    if listed is None:
        return []
    if not isinstance(listed, list):
        raise Malformed("container list")
    found = []
    for container in listed:
        if not isinstance(container, Members):
            raise Malformed("container")
        for image in _all(container, "image"):
            if not isinstance(image, str):
                raise Malformed("image")
            found.append(image)
    return found


def _volume_images(volumes: Any) -> list[str]:
    if volumes is None:
        return []
    if not isinstance(volumes, list):
        raise Malformed("volumes")
    found = []
    for volume in volumes:
        if not isinstance(volume, Members):
            raise Malformed("volume")
        for image in _all(volume, "image"):
            if image is None:
                continue  # null is absent, as when Kubernetes decodes it: no image source
            references = _all(image, "reference")
            if not isinstance(image, Members) or not all(isinstance(r, str) for r in references):
                raise Malformed("image volume")
            found += references
    return found


def _allowed_image(image: str) -> bool:
    return image.lower().startswith("registry.k8s.io/")


def _deleting(obj: Any) -> bool:
    return any(
        bool(stamp) for meta in _all(obj, "metadata") for stamp in _all(meta, "deletionTimestamp")
    )


def _short(value: Any) -> str:
    # Values may nest thousands deep: never repr() a whole one.
    if isinstance(value, str | int | float | bool) or value is None:
        return repr(value)[:60]
    return "an object" if isinstance(value, Members) else "a list"


def _why_not(request: Any) -> str | None:
    """Why allowing ``request`` would be wrong, or None when an allow can be right."""
    operations = _all(request, "operation")
    if not operations:
        return "no operation"
    if all(op in ("DELETE", "CONNECT") for op in operations):
        return None
    if not all(op in ("CREATE", "UPDATE") for op in operations):
        return "operation " + ", ".join(map(_short, operations))
    kinds = [kind for rk in _all(request, "kind") for kind in _all(rk, "kind")]
    if not kinds or not all(isinstance(kind, str) and kind in KINDS for kind in kinds):
        return "kind " + ", ".join(map(_short, kinds))
    objects = _all(request, "object")
    if not objects:
        return "no object"
    try:
        for obj in objects:
            images = _images(obj, kinds)
            updating = all(op == "UPDATE" for op in operations)
            olds = _all(request, "oldObject")
            if updating and _deleting(obj) and _unchanged_images(images, olds, kinds):
                continue
            unsigned = [(image, place) for image, place in images if not _allowed_image(image)]
            if unsigned:
                deleting = "being deleted, " if _deleting(obj) else ""
                image, place = unsigned[0]
                return f"{deleting}unsigned {place} image {image!r}"[:120]
    except Malformed as error:
        return f"malformed {error}"
    return None


def _unchanged_images(images: list[tuple[str, str]], olds: list[Any], kinds: list[str]) -> bool:
    """Whether every image of the object being deleted is also in ``oldObject``. An
    ``oldObject`` whose images cannot be read proves nothing: the object is then judged on
    its own images, as kenner validates them in full."""
    try:
        old = {image for old in olds for image, _ in _images(old, kinds)}
    except Malformed:
        return False
    return {image for image, _ in images} <= old


def why_allow_is_wrong(body: bytes) -> str | None:
    """Why ``allowed: true`` would be wrong for ``body``, or None when it can be right."""
    try:
        review = _parse(body)
    except (ValueError, RecursionError):
        return "not a JSON review"
    requests = _all(review, "request")
    if not requests:
        return "no request"
    return next((why for why in map(_why_not, requests) if why is not None), None)
