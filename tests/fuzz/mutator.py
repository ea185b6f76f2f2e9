"""Seeds and a seeded, deterministic mutator of AdmissionReviews, for the HTTP fuzz test.

Every seed asks about a workload that runs at least one image from outside the one allowed
registry (``registry.k8s.io``), so kenner must deny it. ``mutate(seed_body, rng)`` applies one
to three mutations and returns the body to POST and the mutation names (for the report).
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tests.support.reviews import admission_review, containers

ALLOWED = "registry.k8s.io/pause:3.9"
UNSIGNED = "docker.io/library/nginx:1.27"

# kind -> (apiVersion, path of the pod spec)
KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "Pod": ("v1", ("spec",)),
    "Deployment": ("apps/v1", ("spec", "template", "spec")),
    "ReplicaSet": ("apps/v1", ("spec", "template", "spec")),
    "DaemonSet": ("apps/v1", ("spec", "template", "spec")),
    "StatefulSet": ("apps/v1", ("spec", "template", "spec")),
    "ReplicationController": ("v1", ("spec", "template", "spec")),
    "Job": ("batch/v1", ("spec", "template", "spec")),
    "CronJob": ("batch/v1", ("spec", "jobTemplate", "spec", "template", "spec")),
}
CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")


def workload(kind: str, images: list[str], volume_image: str | None = None) -> dict[str, Any]:
    api_version, spec_path = KINDS[kind]
    spec: dict[str, Any] = {"containers": containers(*images)}
    if volume_image is not None:
        spec["volumes"] = [{"name": "v", "image": {"reference": volume_image}}]
    obj: dict[str, Any] = {"apiVersion": api_version, "kind": kind, "metadata": {"name": "w"}}
    node = obj
    for key in spec_path[:-1]:
        node = node.setdefault(key, {})
    node[spec_path[-1]] = spec
    return obj


SEED_IMAGES: list[tuple[list[str], str | None]] = [
    ([UNSIGNED], None),
    ([ALLOWED, UNSIGNED], None),
    ([ALLOWED], UNSIGNED),  # the only unsigned image is an image volume (issue 11.4)
]


def seeds(connaisseur: Path | None) -> list[bytes]:
    """Reviews of every kind (CREATE and UPDATE), plus Connaisseur's real ones when present."""
    bodies = []
    for kind in KINDS:
        for variant, (images, volume) in enumerate(SEED_IMAGES):
            obj = workload(kind, images, volume)
            bodies.append(json.dumps(admission_review(obj, uid=f"{kind}-c{variant}")).encode())
            old = workload(kind, [ALLOWED])
            review = admission_review(obj, uid=f"{kind}-u{variant}", operation="UPDATE", old=old)
            bodies.append(json.dumps(review).encode())
    if connaisseur is not None:
        for path in sorted((connaisseur / "admission_reviews").glob("*.json")):
            bodies.append(path.read_bytes())
    return bodies


# --- mutations on the parsed review ---------------------------------------------------------

Json = Any
_STRANGE = [
    None,
    0,
    -1,
    1.5,
    2**70,
    True,
    "",
    "x",
    [],
    {},
    ["a"],
    {"a": 1},
    "\u202e\ud7ff\U0010ffff",
]
_OPERATIONS = ["CREATE", "UPDATE", "DELETE", "CONNECT", "create", "", None, 7, "PATCH", ["CREATE"]]


def _nodes(value: Json) -> Iterator[tuple[tuple[Any, ...], Json]]:
    """Every node with its path, depth first; iterative, since values may nest 1 000 deep."""
    stack: list[tuple[tuple[Any, ...], Json]] = [((), value)]
    while stack:
        path, node = stack.pop()
        yield path, node
        if isinstance(node, dict):
            stack.extend(((*path, key), item) for key, item in node.items())
        elif isinstance(node, list):
            stack.extend(((*path, index), item) for index, item in enumerate(node))


def _pick(doc: Json, rng: random.Random, want: Callable[[Json], bool]) -> tuple[Any, ...] | None:
    paths = [path for path, value in _nodes(doc) if path and want(value)]
    return rng.choice(paths) if paths else None


def _set(doc: Json, path: tuple[Any, ...], value: Json) -> None:
    node = doc
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value


def _get(doc: Json, path: tuple[Any, ...]) -> Json:
    for step in path:
        doc = doc[step]
    return doc


def _request(doc: Json) -> dict[str, Any] | None:
    request = doc.get("request") if isinstance(doc, dict) else None
    return request if isinstance(request, dict) else None


def _pod_specs(doc: Json) -> list[dict[str, Any]]:
    """The pod specs of ``object`` and ``oldObject``, where each object's own kind keeps it."""
    request = _request(doc)
    found: list[dict[str, Any]] = []
    for key in ("object", "oldObject"):
        obj = request.get(key) if request else None
        kind = obj.get("kind") if isinstance(obj, dict) else None
        if not isinstance(kind, str) or kind not in KINDS:
            continue
        node = obj
        for step in KINDS[kind][1]:
            node = node.get(step) if isinstance(node, dict) else None
        if isinstance(node, dict) and all(node is not spec for spec in found):
            found.append(node)
    return found


def m_drop(doc: Json, rng: random.Random) -> None:
    path = _pick(doc, rng, lambda value: True)
    if path is not None:
        parent = _get(doc, path[:-1])
        del parent[path[-1]]


def m_retype(doc: Json, rng: random.Random) -> None:
    path = _pick(doc, rng, lambda value: True)
    if path is not None:
        _set(doc, path, copy.deepcopy(rng.choice(_STRANGE)))  # never share a mutable value


def m_huge_string(doc: Json, rng: random.Random) -> None:
    path = _pick(doc, rng, lambda value: isinstance(value, str))
    if path is not None:
        _set(doc, path, rng.choice("xé/:@") * rng.choice([300, 5000, 200_000]))


def m_deep(doc: Json, rng: random.Random) -> None:
    path = _pick(doc, rng, lambda value: True)
    if path is not None:
        depth = rng.choice([10, 300, 900])  # deeper ones: r_deep (json.dumps recursion)
        nested: Json = UNSIGNED
        for _ in range(depth):
            nested = [nested] if rng.random() < 0.5 else {"kind": nested}
        _set(doc, path, nested)


def m_unicode(doc: Json, rng: random.Random) -> None:
    path = _pick(doc, rng, lambda value: isinstance(value, str))
    if path is not None:
        value = _get(doc, path)
        position = rng.randrange(len(value) + 1)
        odd = rng.choice(["\ud800", "\u0000", "\u212a", "\u0130", "\ufeff", " ", "\n", "é"])
        _set(doc, path, value[:position] + odd + value[position:])


def m_number(doc: Json, rng: random.Random) -> None:
    path = _pick(doc, rng, lambda value: isinstance(value, str))
    if path is not None:
        _set(doc, path, rng.choice([0, 1e308, -(2**63), 10**40, 0.1]))


def m_operation(doc: Json, rng: random.Random) -> None:
    request = _request(doc)
    if request is not None:
        request["operation"] = copy.deepcopy(rng.choice(_OPERATIONS))


def m_kind(doc: Json, rng: random.Random) -> None:
    request = _request(doc)
    if request is not None and isinstance(request.get("kind"), dict):
        request["kind"]["kind"] = rng.choice([*KINDS, "Service", "", None, "pod"])


def m_extra_container(doc: Json, rng: random.Random) -> None:
    for spec in _pod_specs(doc)[:1]:
        listed = spec.setdefault(rng.choice(CONTAINER_LISTS), [])
        if isinstance(listed, list):
            listed.append({"name": f"extra{rng.randrange(9)}", "image": UNSIGNED})


def m_extra_volume(doc: Json, rng: random.Random) -> None:
    for spec in _pod_specs(doc)[:1]:
        volumes = spec.setdefault("volumes", [])
        if isinstance(volumes, list):
            volumes.append({"name": "iv", "image": {"reference": UNSIGNED, "pullPolicy": "Always"}})


def m_many_containers(doc: Json, rng: random.Random) -> None:
    for spec in _pod_specs(doc)[:1]:
        count = rng.choice([50, 2000])
        spec["containers"] = containers(*([ALLOWED] * count + [UNSIGNED]))


def m_move_image(doc: Json, rng: random.Random) -> None:
    for spec in _pod_specs(doc)[:1]:
        listed = spec.get("containers")
        if isinstance(listed, list) and listed and isinstance(listed[0], dict):
            image = listed[0].pop("image", UNSIGNED)
            target = rng.choice(["initContainers", "ephemeralContainers", "volumes"])
            entry = (
                {"name": "m", "image": {"reference": image}}
                if target == "volumes"
                else {"name": "m", "image": image}
            )
            existing = spec.setdefault(target, [])
            if isinstance(existing, list):
                existing.append(entry)
            listed[0]["image"] = ALLOWED


def m_deleting(doc: Json, rng: random.Random) -> None:
    request = _request(doc)
    obj = request.get("object") if request else None
    if isinstance(obj, dict):
        metadata = obj.setdefault("metadata", {})
        if isinstance(metadata, dict):
            metadata["deletionTimestamp"] = "2026-01-01T00:00:00Z"
        if request is not None and rng.random() < 0.5:
            request["operation"] = rng.choice(["UPDATE", "CREATE"])


def m_swap_objects(doc: Json, rng: random.Random) -> None:
    request = _request(doc)
    if request is not None:
        request["object"], request["oldObject"] = request.get("oldObject"), request.get("object")


STRUCTURED = [
    m_drop,
    m_retype,
    m_huge_string,
    m_deep,
    m_unicode,
    m_number,
    m_operation,
    m_kind,
    m_extra_container,
    m_extra_volume,
    m_many_containers,
    m_move_image,
    m_deleting,
    m_swap_objects,
]

# --- mutations of the raw text ---------------------------------------------------------------


def r_duplicate_key(body: bytes, rng: random.Random) -> bytes:
    """Insert a second member with a name the review already uses, before the first one."""
    key = rng.choice([b"operation", b"image", b"kind", b"object", b"containers", b"request"])
    marker = b'"' + key + b'":'
    at = body.find(marker)
    if at < 0:
        return body
    value = rng.choice([b'"DELETE"', json.dumps(UNSIGNED).encode(), b"null", b"[]", b"{}"])
    return body[:at] + marker + value + b"," + body[at:]


def r_truncate(body: bytes, rng: random.Random) -> bytes:
    return body[: rng.randrange(len(body) + 1)]


def r_bytes(body: bytes, rng: random.Random) -> bytes:
    at = rng.randrange(len(body) + 1)
    return (
        body[:at]
        + rng.choice([b"\xff", b"\xed\xa0\x80", b"\x00", b"\\", b'"', b"\xc3"])
        + body[at:]
    )


def r_deep(body: bytes, rng: random.Random) -> bytes:
    """A member nested thousands of levels deep (past orjson's 1024 and Python's recursion)."""
    at = body.find(b'"kind":')
    if at < 0:
        return body
    depth = rng.choice([1000, 1030, 5000, 100_000])
    return body[:at] + b'"kind":' + b"[" * depth + b"1" + b"]" * depth + b"," + body[at:]


RAW = [r_duplicate_key, r_truncate, r_bytes, r_deep]


def mutate(seed: bytes, rng: random.Random) -> tuple[bytes, list[str]]:
    """One to three mutations of ``seed`` (structured ones first, then at most one raw one)."""
    names: list[str] = []
    doc = json.loads(seed)
    for _ in range(rng.randint(1, 3)):
        mutation = rng.choice(STRUCTURED)
        mutation(doc, rng)
        names.append(mutation.__name__)
    try:
        body = json.dumps(doc, ensure_ascii=rng.random() < 0.5).encode("utf-8", "surrogatepass")
    except (RecursionError, ValueError):
        body = seed
        names.append("unserialisable")
    if rng.random() < 0.3:
        raw = rng.choice(RAW)
        body = raw(body, rng)
        names.append(raw.__name__)
    return body, names
