"""The AdmissionReview codec: bytes in, a typed request out; a typed answer in, bytes out.

Rules, in the order they are applied to a request body:

1. The body must be a JSON object with ``kind: AdmissionReview`` and an ``apiVersion`` of
   ``admission.k8s.io/v1`` or ``admission.k8s.io/v1beta1`` (the answer echoes it).
2. It must carry a ``request`` object with a ``uid``: without one there is nobody to answer,
   so these are protocol errors (``ReviewError``, HTTP 400), never decisions.
3. Everything else that is odd about the request (no ``kind``, no ``object``, an object that is
   not a mapping) is left for the decision core, which denies it with a message: a request we
   can answer is always answered, and never allowed by accident.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import orjson

from kenner.errors import KennerError

SUPPORTED_API_VERSIONS = ("admission.k8s.io/v1", "admission.k8s.io/v1beta1")

JsonObject = Mapping[str, Any]


class ReviewError(KennerError, ValueError):
    """The body is not an AdmissionReview kenner can answer (the server replies HTTP 400)."""


@attrs.frozen
class AdmissionRequest:
    """The parts of ``AdmissionReview.request`` the decision core reads."""

    api_version: str  # of the envelope, echoed in the response
    uid: str
    kind: str  # request.kind.kind, e.g. "Deployment"; "" when absent
    group_version: str  # request.kind as "group/version" ("v1" for the core group)
    sub_resource: str  # e.g. "ephemeralcontainers"; "" when absent
    operation: str
    namespace: str
    name: str  # metadata.name, else metadata.generateName, else request.name
    user: str
    object: JsonObject | None
    old_object: JsonObject | None


@attrs.frozen
class AdmissionResponse:
    """kenner's answer to one request."""

    allowed: bool
    message: str = ""
    warnings: tuple[str, ...] = ()
    patch: Sequence[JsonObject] = ()


def parse_review(body: bytes) -> AdmissionRequest:
    """Parse an AdmissionReview request body.

    Raises:
        ReviewError: the body is not JSON, not an AdmissionReview, or has no answerable request.
    """
    if not body.strip():
        raise ReviewError("empty body: expected an AdmissionReview JSON object")
    try:
        # orjson: strict RFC 8259 (no NaN, no lone surrogates, UTF-8 only), nesting capped
        # at 1024 levels where the standard library hits RecursionError, and several times
        # faster on every request.
        review = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise ReviewError(f"body is not valid JSON: {error}") from None
    if not isinstance(review, dict):
        raise ReviewError(f"expected an AdmissionReview JSON object, got {_json_type(review)}")
    if review.get("kind") != "AdmissionReview":
        raise ReviewError(f"expected kind 'AdmissionReview', got {review.get('kind')!r}")
    api_version = review.get("apiVersion")
    if api_version not in SUPPORTED_API_VERSIONS:
        raise ReviewError(
            f"unsupported AdmissionReview apiVersion {api_version!r} "
            f"(supported: {', '.join(SUPPORTED_API_VERSIONS)})"
        )
    request = review.get("request")
    if not isinstance(request, dict):
        raise ReviewError("AdmissionReview has no request object")
    uid = request.get("uid")
    if not isinstance(uid, str) or not uid:
        raise ReviewError("AdmissionReview request has no uid")

    kind = _mapping(request.get("kind"))
    group, version = _text(kind.get("group")), _text(kind.get("version"))
    new = _object_or_none(request.get("object"))
    old = _object_or_none(request.get("oldObject"))
    user_info = _mapping(request.get("userInfo"))
    return AdmissionRequest(
        api_version=api_version,
        uid=uid,
        kind=_text(kind.get("kind")),
        group_version=f"{group}/{version}" if group else version,
        sub_resource=_text(request.get("subResource")),
        operation=_text(request.get("operation")),
        namespace=_text(request.get("namespace")),
        name=_object_name(new) or _text(request.get("name")),
        user=_text(user_info.get("username")),
        object=new,
        old_object=old,
    )


def render_response(request_api_version: str, uid: str, response: AdmissionResponse) -> bytes:
    """Serialise the AdmissionReview answer the API server expects."""
    body: dict[str, Any] = {
        "uid": uid,
        "allowed": response.allowed,
        "status": {"code": 202 if response.allowed else 403},
    }
    if response.message:
        body["status"]["message"] = response.message
    if response.warnings:
        body["warnings"] = list(response.warnings)
    if response.patch:
        encoded = orjson.dumps(list(response.patch))
        body["patchType"] = "JSONPatch"
        body["patch"] = base64.b64encode(encoded).decode("ascii")
    review = {"apiVersion": request_api_version, "kind": "AdmissionReview", "response": body}
    return orjson.dumps(review)


def _object_or_none(value: object) -> JsonObject | None:
    # Connaisseur's captured v1beta1 reviews carry oldObject as {} or even the string "None";
    # both mean "no object".
    if isinstance(value, dict) and value:
        return value
    return None


def _object_name(obj: JsonObject | None) -> str:
    if obj is None or not isinstance(obj.get("metadata"), dict):
        return ""
    metadata = obj["metadata"]
    return _text(metadata.get("name")) or _text(metadata.get("generateName"))


def _mapping(value: object) -> JsonObject:
    return value if isinstance(value, dict) else {}


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    return {list: "an array", str: "a string", bool: "a boolean"}.get(type(value), "a number")
