"""Give test objects the ``kenner.dev/proof`` kenner would have written when admitting them."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from kenner.admission.proof import ANNOTATION, ANNOTATION_POINTER, ProofKey, Prover
from kenner.admission.workload import extract_images
from kenner.config.model import Config

KEY = ProofKey(b"k" * 32)


def prover(config: Config, key: ProofKey = KEY) -> Prover:
    return Prover.for_config(config, key)


def with_proof(
    obj: Mapping[str, Any], kind: str, namespace: str, by: Prover, value: object = None
) -> dict[str, Any]:
    """A copy of ``obj`` carrying ``by``'s proof over its images (or ``value`` as given)."""
    proven: dict[str, Any] = copy.deepcopy(dict(obj))
    if value is None:
        pairs = [(site.pointer, site.image) for site in extract_images(kind, proven)]
        value = by.seal(namespace, pairs)
    annotations = proven.setdefault("metadata", {}).setdefault("annotations", {})
    annotations[ANNOTATION] = value
    return proven


def _proof_value(op: Mapping[str, Any]) -> object:
    """The proof an operation writes (one of the three forms ``proof_patch`` makes), or None."""
    path, value = op.get("path"), op.get("value")
    if path == ANNOTATION_POINTER:
        return value
    if path == "/metadata" and isinstance(value, Mapping) and set(value) == {"annotations"}:
        path, value = "/metadata/annotations", value["annotations"]
    if path == "/metadata/annotations" and isinstance(value, Mapping):
        return value.get(ANNOTATION) if set(value) == {ANNOTATION} else None
    return None


def proof_in(ops: Iterable[Mapping[str, Any]]) -> str | None:
    """The proof value a patch writes, if any."""
    values = [str(_proof_value(op)) for op in ops if _proof_value(op) is not None]
    assert len(values) <= 1, values
    return values[0] if values else None


def without_proof(ops: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The patch's other (image) operations."""
    return [op for op in ops if _proof_value(op) is None]
