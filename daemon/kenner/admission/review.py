"""The AdmissionReview codec: bytes in, a typed request out; a typed answer in, bytes out.

Rules, in the order they are applied to a request body:

1. The body must be one JSON document (strict RFC 8259, UTF-8) with no object holding the
   same key twice (the API server and kenner might read different values), nested at most
   ``MAX_DEPTH`` levels deep.
2. It must be a JSON object with ``kind: AdmissionReview`` and an ``apiVersion`` of
   ``admission.k8s.io/v1`` or ``admission.k8s.io/v1beta1`` (the answer echoes it).
3. It must carry a ``request`` object with a ``uid`` and an ``operation`` that is exactly
   ``CREATE``, ``UPDATE``, ``DELETE`` or ``CONNECT``: without them there is nobody to answer
   or nothing to decide, so these are protocol errors (``ReviewError``, HTTP 400).
4. Every other field kenner reads must have its JSON type when present (``null`` counts as
   absent): a string where a string is expected, an object where an object is. A wrong type
   is a protocol error naming the field (``request.kind.kind``, ``request.object.metadata``).
   ``object`` and ``oldObject`` may be absent, ``null`` or ``{}`` (no object); ``oldObject``
   may also be the string ``"None"`` (Connaisseur's captured reviews carry it).
5. Everything else that is odd about a well-typed request (no ``kind``, no ``object``, an
   unknown kind) is left for the decision core, which denies it with a message: a request we
   can answer is always answered, and never allowed by accident.

Messages quote input only through ``kenner.quoting.quote``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import orjson

from kenner.errors import KennerError
from kenner.quoting import clip, json_type, quote

SUPPORTED_API_VERSIONS = ("admission.k8s.io/v1", "admission.k8s.io/v1beta1")
OPERATIONS = ("CREATE", "UPDATE", "DELETE", "CONNECT")
# orjson.dumps (the duplicate-key check below) refuses deeper documents; no Kubernetes
# object comes near it (a Pod is about 10 levels deep).
MAX_DEPTH = 254

JsonObject = Mapping[str, Any]

# The string fields kenner reads, per object of the review.
_REQUEST_TEXTS = ("subResource", "namespace", "name")
_KIND_TEXTS = ("group", "version", "kind")
_USER_TEXTS = ("username",)
_OBJECT_TEXTS = ("apiVersion", "kind")
_METADATA_TEXTS = ("name", "generateName", "namespace", "uid", "deletionTimestamp")


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
    operation: str  # one of OPERATIONS
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
        ReviewError: the body is not JSON, not an AdmissionReview, has no answerable request,
            or a field kenner reads has the wrong JSON type.
    """
    review = load_json(body)
    if not isinstance(review, dict):
        raise ReviewError(f"expected an AdmissionReview JSON object, got {json_type(review)}")
    if review.get("kind") != "AdmissionReview":
        raise ReviewError(f"expected kind 'AdmissionReview', got {quote(review.get('kind'))}")
    api_version = review.get("apiVersion")
    if not isinstance(api_version, str) or api_version not in SUPPORTED_API_VERSIONS:
        raise ReviewError(
            f"unsupported AdmissionReview apiVersion {quote(api_version)} "
            f"(supported: {', '.join(SUPPORTED_API_VERSIONS)})"
        )
    request = review.get("request")
    if request is None:
        raise ReviewError("AdmissionReview has no request object")
    if not isinstance(request, dict):
        raise ReviewError(f"request must be an object, got {json_type(request)}")
    uid = request.get("uid")
    if uid is None or uid == "":
        raise ReviewError("AdmissionReview request has no uid")
    if not isinstance(uid, str):
        raise ReviewError(f"request.uid must be a string, got {json_type(uid)}")
    operation = request.get("operation")
    if not isinstance(operation, str) or operation not in OPERATIONS:
        raise ReviewError(
            f"request.operation must be one of {', '.join(OPERATIONS)}, got {quote(operation)}"
        )

    # One call per object checks every string field kenner reads: this runs per request.
    sub_resource, namespace, name = _texts(request, _REQUEST_TEXTS, "request")
    kind = _mapping(request, "kind", "request")
    group, version, kind_name = _texts(kind, _KIND_TEXTS, "request.kind")
    (user,) = _texts(_mapping(request, "userInfo", "request"), _USER_TEXTS, "request.userInfo")
    new = _object(request, "object")
    old = _object(request, "oldObject")
    return AdmissionRequest(
        api_version=api_version,
        uid=uid,
        kind=kind_name,
        group_version=f"{group}/{version}" if group else version,
        sub_resource=sub_resource,
        operation=operation,
        namespace=namespace,
        name=_object_name(new) or name,
        user=user,
        object=new,
        old_object=old,
    )


def load_json(body: bytes) -> Any:
    """The JSON document in ``body``.

    Raises:
        ReviewError: not one strict JSON document, nested deeper than ``MAX_DEPTH``, or an
            object with a duplicate key.
    """
    if not body.strip():
        raise ReviewError("empty body: expected an AdmissionReview JSON object")
    try:
        # orjson: strict RFC 8259 (no NaN, no lone surrogates, UTF-8 only), nesting capped
        # at 1024 levels where the standard library hits RecursionError, and several times
        # faster on every request.
        document = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise ReviewError(f"body is not valid JSON: {clip(str(error))}") from None
    _refuse_duplicate_keys(body, document)
    return document


def _refuse_duplicate_keys(body: bytes, document: Any) -> None:
    """Raise ReviewError when an object of ``body`` has a key twice (orjson keeps the last).

    Cheap test, exact when ``body`` has no ``\\u003a`` escape: every key-value pair has one
    structural ":", and a string's ":" characters are the same bytes in ``body`` and in
    orjson's rendering of what it kept; so the counts of ":" differ exactly when a pair was
    dropped. A body with a ``\\u003`` escape takes the slow, exact way (the standard library
    reporting every object's pairs), as does one whose counts differ, to name the key.
    """
    try:
        rendered = orjson.dumps(document)
    except orjson.JSONEncodeError:  # orjson renders at most MAX_DEPTH levels
        raise ReviewError(f"body is nested more than {MAX_DEPTH} levels deep") from None
    if body.count(b":") == rendered.count(b":") and b"\\u003" not in body:
        return
    try:
        json.loads(body, object_pairs_hook=_unique_pairs)
    except ReviewError:
        raise
    except (ValueError, RecursionError) as error:  # e.g. an integer of 5000 digits
        raise ReviewError(f"body is not valid JSON: {clip(str(error))}") from None


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ReviewError(f"body has an object with the key {quote(key)} twice")
            seen.add(key)
    return obj


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


def _object(request: JsonObject, key: str) -> JsonObject | None:
    """``request.object`` or ``request.oldObject``, its metadata checked; None for no object."""
    value = request.get(key)
    if value is None or (key == "oldObject" and value == "None"):
        return None
    where = f"request.{key}"
    if not isinstance(value, dict):
        raise ReviewError(f"{where} must be an object, got {json_type(value)}")
    if not value:  # Connaisseur's captured reviews carry {} for "no object"
        return None
    _texts(value, _OBJECT_TEXTS, where)
    metadata = value.get("metadata")
    if metadata is not None:
        if not isinstance(metadata, dict):
            raise ReviewError(f"{where}.metadata must be an object, got {json_type(metadata)}")
        _texts(metadata, _METADATA_TEXTS, f"{where}.metadata")
    return value


def _object_name(obj: JsonObject | None) -> str:
    metadata = obj.get("metadata") if obj is not None else None
    if not metadata:
        return ""
    return str(metadata.get("name") or metadata.get("generateName") or "")


def _mapping(parent: JsonObject, key: str, where: str) -> JsonObject:
    """``parent[key]`` if it is an object, {} if absent or null; else a ReviewError."""
    value = parent.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ReviewError(f"{where}.{key} must be an object, got {json_type(value)}")
    return value


def _texts(parent: JsonObject, keys: tuple[str, ...], where: str) -> list[str]:
    """Each ``parent[key]`` if it is a string, "" if absent or null; else a ReviewError."""
    texts = []
    for key in keys:
        value = parent.get(key)
        if value is None:
            value = ""
        elif not isinstance(value, str):
            raise ReviewError(f"{where}.{key} must be a string, got {json_type(value)}")
        texts.append(value)
    return texts
