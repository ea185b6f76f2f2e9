"""Find every image of a workload object, with the JSON pointer to its field.

Each workload kind keeps its pod spec at a fixed place; kenner knows these kinds and API
versions and refuses the rest (the webhook should never send them, so a surprise is a reason
to deny, not to guess). Within a pod spec, the ``image`` of every entry of ``containers``,
``initContainers`` and ``ephemeralContainers``, then the ``image.reference`` of every image
volume (``volumes[].image``, Kubernetes 1.31+) are read, in that order: an image volume is
an image like any other, validated and pinned the same way.

Two kinds of failure:

- ``WorkloadError`` (the request is denied): a well-typed object kenner cannot validate,
  e.g. an unknown kind, no pod spec, no containers, a container or image volume with no
  (or an empty) image, or more images than the caller's cap (``TooManyImages``).
- ``ObjectShapeError`` (a ``ReviewError``: HTTP 400): a field on the way has the wrong JSON
  type (containers as a string, a container that is not an object, an image as a number).
  ``null`` counts as absent.

The cap is checked by counting entries before any ``ImageSite`` is made.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from kenner.admission.review import ReviewError
from kenner.errors import KennerError
from kenner.quoting import json_type, quote

# kind -> (accepted apiVersions, path of the pod spec as JSON keys)
WORKLOAD_KINDS: Mapping[str, tuple[frozenset[str], tuple[str, ...]]] = {
    "Pod": (frozenset({"v1"}), ("spec",)),
    "Deployment": (
        frozenset({"apps/v1", "apps/v1beta1", "apps/v1beta2", "extensions/v1beta1"}),
        ("spec", "template", "spec"),
    ),
    "ReplicaSet": (
        frozenset({"apps/v1", "apps/v1beta2", "extensions/v1beta1"}),
        ("spec", "template", "spec"),
    ),
    "DaemonSet": (
        frozenset({"apps/v1", "apps/v1beta2", "extensions/v1beta1"}),
        ("spec", "template", "spec"),
    ),
    "StatefulSet": (
        frozenset({"apps/v1", "apps/v1beta1", "apps/v1beta2"}),
        ("spec", "template", "spec"),
    ),
    "ReplicationController": (frozenset({"v1"}), ("spec", "template", "spec")),
    "Job": (frozenset({"batch/v1"}), ("spec", "template", "spec")),
    "CronJob": (
        frozenset({"batch/v1", "batch/v1beta1"}),
        ("spec", "jobTemplate", "spec", "template", "spec"),
    ),
}

CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")
_IMAGE_LISTS = (*CONTAINER_LISTS, "volumes")


class WorkloadError(KennerError, ValueError):
    """The object is not a workload kenner can read; the message says what is missing."""


class TooManyImages(WorkloadError):
    """The object has more images than the caller allows; the message names both numbers."""


class ObjectShapeError(ReviewError):
    """A field of the object has the wrong JSON type: the review is malformed (HTTP 400)."""


@attrs.frozen
class ImageSite:
    """One image field: a container's ``image`` or an image volume's ``image.reference``."""

    pointer: str  # JSON pointer, e.g. "/spec/template/spec/containers/0/image"
    container: str  # the container's or the image volume's name ("" if it has none)
    image: str  # the reference exactly as written


def is_workload_kind(kind: str) -> bool:
    """Whether kenner reads images from objects of this kind."""
    return kind in WORKLOAD_KINDS


def extract_images(
    kind: str, obj: Mapping[str, Any], *, max_images: int | None = None
) -> tuple[ImageSite, ...]:
    """Every image of ``obj`` (of the given kind) with its JSON pointer.

    Raises:
        WorkloadError: unknown kind or apiVersion, missing pod spec, no containers, or a
            container (image volume) without an image (reference).
        TooManyImages: more than ``max_images`` images (when given).
        ObjectShapeError: a field on the way to an image has the wrong JSON type.
    """
    if kind not in WORKLOAD_KINDS:
        raise WorkloadError(
            f"kind {quote(kind or '(none)')} is not a workload kind kenner validates"
        )
    api_versions, spec_path = WORKLOAD_KINDS[kind]
    api_version = obj.get("apiVersion")
    if not isinstance(api_version, str) or api_version not in api_versions:
        raise WorkloadError(
            f"{kind} apiVersion {quote(api_version)} is not supported "
            f"(supported: {', '.join(sorted(api_versions))})"
        )
    spec: Any = obj  # a Mapping, then a dict at every step (checked below)
    pointer = ""
    for key in spec_path:
        spec = spec.get(key)
        pointer += f"/{key}"
        if spec is None:
            raise WorkloadError(f"{kind} has no pod spec at {'/' + '/'.join(spec_path)}")
        if not isinstance(spec, dict):
            raise _shape(kind, pointer, "an object", spec)

    # Plain isinstance checks inline: this runs for every admission request.
    lists: list[tuple[str, list[Any]]] = []
    count = 0
    for list_name in CONTAINER_LISTS:
        containers = spec.get(list_name)
        if containers is not None:
            if not isinstance(containers, list):
                raise _shape(kind, f"{pointer}/{list_name}", "an array", containers)
            lists.append((list_name, containers))
            count += len(containers)
    volumes = spec.get("volumes")
    image_volumes: list[tuple[int, dict[str, Any]]] = []
    if volumes is not None:
        if not isinstance(volumes, list):
            raise _shape(kind, f"{pointer}/volumes", "an array", volumes)
        for index, volume in enumerate(volumes):
            if not isinstance(volume, dict):
                raise _shape(kind, f"{pointer}/volumes/{index}", "a volume object", volume)
            source = volume.get("image")
            if source is not None:
                if not isinstance(source, dict):
                    raise _shape(kind, f"{pointer}/volumes/{index}/image", "an object", source)
                image_volumes.append((index, volume))
        count += len(image_volumes)
    if max_images is not None and count > max_images:
        raise TooManyImages(
            f"{kind} has {count} images, more than the {max_images} kenner accepts in one "
            "request (server.maxImagesPerRequest)"
        )

    sites: list[ImageSite] = []
    for list_name, containers in lists:
        for index, container in enumerate(containers):
            if not isinstance(container, dict):
                at = f"{pointer}/{list_name}/{index}"
                raise _shape(kind, at, "a container object", container)
            image = container.get("image")
            name = container.get("name")
            if not isinstance(image, str) or not image or not isinstance(name, str | None):
                at = f"{pointer}/{list_name}/{index}"
                _check_string(kind, f"{at}/name", name)
                _check_string(kind, f"{at}/image", image)
                raise WorkloadError(f"{kind} container at {at} has no image")
            sites.append(ImageSite(f"{pointer}/{list_name}/{index}/image", name or "", image))
    for index, volume in image_volumes:
        at = f"{pointer}/volumes/{index}"
        reference = volume["image"].get("reference")
        name = volume.get("name")
        _check_string(kind, f"{at}/name", name)
        _check_string(kind, f"{at}/image/reference", reference)
        if not reference:
            raise WorkloadError(f"{kind} image volume at {at} has no image reference")
        sites.append(ImageSite(f"{at}/image/reference", name or "", reference))
    if not spec.get("containers"):  # missing or empty (any other non-list was refused above)
        raise WorkloadError(f"{kind} has no containers at {pointer}/containers")
    return tuple(sites)


def _check_string(kind: str, pointer: str, value: object) -> None:
    if value is not None and not isinstance(value, str):
        raise _shape(kind, pointer, "a string", value)


def _shape(kind: str, pointer: str, what: str, value: object) -> ObjectShapeError:
    return ObjectShapeError(f"{kind} {pointer} must be {what}, got {json_type(value)}")


def image_fields_bound(kind: str, obj: Mapping[str, Any] | None) -> int:
    """At least the number of images ``extract_images`` would find: the length of every
    container list and of ``volumes``, without reading an entry (0 without a pod spec).

    Cheap enough for every request: it tells how much planning work a request is.
    """
    spec: object = obj
    for key in WORKLOAD_KINDS[kind][1] if kind in WORKLOAD_KINDS else ():
        spec = spec.get(key) if isinstance(spec, dict) else None
    if not isinstance(spec, dict):
        return 0
    count = 0
    for key in _IMAGE_LISTS:
        value = spec.get(key)
        if isinstance(value, list):
            count += len(value)
    return count


def marked_for_deletion(obj: Mapping[str, Any]) -> bool:
    """Whether the object carries ``metadata.deletionTimestamp`` (it is being finalised)."""
    metadata = obj.get("metadata")
    return isinstance(metadata, Mapping) and bool(metadata.get("deletionTimestamp"))
