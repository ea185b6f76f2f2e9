"""Find every container image of a workload object, with the JSON pointer to its field.

Each workload kind keeps its pod spec at a fixed place; kenner knows these kinds and API
versions and refuses the rest (the webhook should never send them, so a surprise is a reason
to deny, not to guess). Within a pod spec, ``containers``, ``initContainers`` and
``ephemeralContainers`` are read in that order.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from kenner.errors import KennerError

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


class WorkloadError(KennerError, ValueError):
    """The object is not a workload kenner can read; the message says what is missing."""


@attrs.frozen
class ImageSite:
    """One ``image`` field of one container."""

    pointer: str  # JSON pointer, e.g. "/spec/template/spec/containers/0/image"
    container: str  # the container's name ("" if it has none)
    image: str  # the reference exactly as written


def is_workload_kind(kind: str) -> bool:
    """Whether kenner reads images from objects of this kind."""
    return kind in WORKLOAD_KINDS


def extract_images(kind: str, obj: Mapping[str, Any]) -> tuple[ImageSite, ...]:
    """Every image of ``obj`` (of the given kind) with its JSON pointer.

    Raises:
        WorkloadError: unknown kind or apiVersion, missing pod spec, no containers, or a
            container without a string image.
    """
    if kind not in WORKLOAD_KINDS:
        raise WorkloadError(f"kind {kind or '(none)'!r} is not a workload kind kenner validates")
    api_versions, spec_path = WORKLOAD_KINDS[kind]
    api_version = obj.get("apiVersion")
    if api_version not in api_versions:
        raise WorkloadError(
            f"{kind} apiVersion {api_version!r} is not supported "
            f"(supported: {', '.join(sorted(api_versions))})"
        )
    spec: object = obj
    for key in spec_path:
        spec = spec.get(key) if isinstance(spec, Mapping) else None
    spec_pointer = "/" + "/".join(spec_path)
    if not isinstance(spec, Mapping):
        raise WorkloadError(f"{kind} has no pod spec at {spec_pointer}")

    sites: list[ImageSite] = []
    for list_name in CONTAINER_LISTS:
        containers = spec.get(list_name)
        if containers is None:
            continue
        list_pointer = f"{spec_pointer}/{list_name}"
        if not isinstance(containers, list):
            raise WorkloadError(f"{kind} {list_pointer} is not a list")
        for index, container in enumerate(containers):
            pointer = f"{list_pointer}/{index}"
            if not isinstance(container, Mapping):
                raise WorkloadError(f"{kind} {pointer} is not a container object")
            image = container.get("image")
            name = container.get("name")
            if not isinstance(image, str) or not image:
                raise WorkloadError(f"{kind} container at {pointer} has no image")
            sites.append(
                ImageSite(f"{pointer}/image", name if isinstance(name, str) else "", image)
            )
    if not spec.get("containers"):  # missing or empty (any other non-list was refused above)
        raise WorkloadError(f"{kind} has no containers at {spec_pointer}/containers")
    return tuple(sites)


def marked_for_deletion(obj: Mapping[str, Any]) -> bool:
    """Whether the object carries ``metadata.deletionTimestamp`` (it is being finalised)."""
    metadata = obj.get("metadata")
    return isinstance(metadata, Mapping) and bool(metadata.get("deletionTimestamp"))
