"""JSON patch pointers: every pin lands exactly on the image field it names (RFC 6901/6902).

A test-side resolver implements RFC 6901 from the RFC (``~1`` is ``/``, ``~0`` is ``~``, array
indexes are decimal) and applies kenner's ``replace`` operations to the reviewed object. For
workloads of every kind, with keys full of ``/`` and ``~`` around the image fields, the patched
object must equal the original with exactly the image fields replaced, and reading the images
again must find the pinned references where the originals were.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kenner.admission.image import ImageRefError, parse_image
from kenner.admission.patch import pin_images
from kenner.admission.workload import WORKLOAD_KINDS, extract_images

DIGEST = "sha256:" + "5" * 64


def _unescape(token: str) -> str:
    # RFC 6901 section 4: first "~1" -> "/", then "~0" -> "~" (so "~01" is "~1", not "/").
    return token.replace("~1", "/").replace("~0", "~")


def _tokens(pointer: str) -> list[str]:
    assert pointer.startswith("/"), f"{pointer!r} is not an absolute JSON pointer"
    return [_unescape(token) for token in pointer[1:].split("/")]


def _step(node: Any, token: str) -> Any:
    if isinstance(node, list):
        assert token.isdigit(), token
        assert token == "0" or not token.startswith("0"), token
        return node[int(token)]
    assert isinstance(node, dict), token
    assert token in node, f"no member {token!r}"
    return node[token]


def resolve(document: Any, pointer: str) -> Any:
    node = document
    for token in _tokens(pointer):
        node = _step(node, token)
    return node


def apply_replace(document: Any, operation: dict[str, Any]) -> None:
    """RFC 6902 ``replace``: the target must exist; its value is replaced."""
    assert operation["op"] == "replace"
    *parents, last = _tokens(operation["path"])
    parent = document
    for token in parents:
        parent = _step(parent, token)
    _step(parent, last)  # must exist
    if isinstance(parent, list):
        parent[int(last)] = operation["value"]
    else:
        parent[last] = operation["value"]


_awkward_key = st.text(alphabet="ab/~01 .", min_size=1, max_size=6)
_junk = st.dictionaries(_awkward_key, st.text(max_size=5) | st.integers(), max_size=3)
_image = st.sampled_from(
    [
        "nginx",
        "nginx:1.27",
        "registry.k8s.io/pause:3.9",
        f"quay.io/a/b@{DIGEST}",
        "localhost:5000/x",
    ]
)


@st.composite
def _containers(draw: st.DrawFn, min_size: int) -> list[dict[str, Any]]:
    return [
        {"name": draw(_awkward_key), "image": draw(_image), **draw(_junk)}
        for _ in range(draw(st.integers(min_size, 3)))
    ]


@st.composite
def _workload(draw: st.DrawFn) -> tuple[str, dict[str, Any], list[tuple[str, ...]]]:
    kind = draw(st.sampled_from(sorted(WORKLOAD_KINDS)))
    api_versions, spec_path = WORKLOAD_KINDS[kind]
    spec: dict[str, Any] = {"containers": draw(_containers(1)), **draw(_junk)}
    expected: list[tuple[str, ...]] = []
    for list_name in ("initContainers", "ephemeralContainers"):
        if draw(st.booleans()):
            spec[list_name] = draw(_containers(0))
    if draw(st.booleans()):  # image volumes (Kubernetes 1.31+) are images too (issue 11.4)
        spec["volumes"] = [
            {"name": draw(_awkward_key), "image": {"reference": draw(_image)}}
            for _ in range(draw(st.integers(1, 2)))
        ]
    for list_name in ("containers", "initContainers", "ephemeralContainers"):
        for index in range(len(spec.get(list_name, []))):
            expected.append((*spec_path, list_name, str(index), "image"))
    for index in range(len(spec.get("volumes", []))):
        expected.append((*spec_path, "volumes", str(index), "image", "reference"))
    obj: dict[str, Any] = {
        "apiVersion": draw(st.sampled_from(sorted(api_versions))),
        "kind": kind,
        "metadata": {"name": "w", "annotations": draw(_junk)},
    }
    node = obj
    for key in spec_path[:-1]:
        node = node.setdefault(key, draw(_junk))
    node[spec_path[-1]] = spec
    return kind, obj, expected


def _pointer(tokens: tuple[str, ...]) -> str:
    return "".join("/" + token.replace("~", "~0").replace("/", "~1") for token in tokens)


@settings(max_examples=300)
@given(_workload())
def test_every_pointer_names_the_image_it_reports_and_every_image_is_found(workload) -> None:
    kind, obj, expected = workload
    sites = extract_images(kind, obj)
    for site in sites:
        assert resolve(obj, site.pointer) == site.image
    found = {site.pointer for site in sites}
    assert {_pointer(tokens) for tokens in expected} <= found


@settings(max_examples=300)
@given(_workload())
def test_applying_the_pin_patch_replaces_exactly_the_image_fields(workload) -> None:
    kind, obj, _ = workload
    original = copy.deepcopy(obj)
    sites = extract_images(kind, obj)
    pins = []
    for site in sites:
        try:
            pins.append((site, parse_image(site.image).with_digest(DIGEST)))
        except ImageRefError:
            continue
    patch = pin_images(pins)
    assert obj == original  # building the patch changes nothing
    patched = copy.deepcopy(obj)
    for operation in patch:
        apply_replace(patched, operation)

    expected = copy.deepcopy(original)
    for site, ref in pins:
        apply_replace(expected, {"op": "replace", "path": site.pointer, "value": str(ref)})
    assert patched == expected
    assert len(patch) == sum(1 for site, ref in pins if site.image != str(ref))
    # Reading the patched object again finds the pinned references at the same places.
    pinned = {site.pointer: str(ref) for site, ref in pins}
    for site in extract_images(kind, patched):
        if site.pointer in pinned:
            assert site.image == pinned[site.pointer]
            assert parse_image(site.image).digest == DIGEST
