"""The AdmissionReview codec: requests in, responses out, protocol errors named."""

from __future__ import annotations

import base64
import json

import pytest

from kenner.admission.review import (
    MAX_DEPTH,
    AdmissionResponse,
    ReviewError,
    load_json,
    parse_review,
    render_response,
)
from tests.shared import connaisseur_fixtures


def _review(**request: object) -> bytes:
    body = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty body"),
        (b"{", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        # Nesting the standard library's decoder would meet with RecursionError (an HTTP 500).
        (b'{"request": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "not valid JSON"),
        (b'{"kind": NaN}', "not valid JSON"),
        (b'{"kind": "\\ud800"}', "not valid JSON"),  # a lone surrogate is no character
        (b"null", "got null"),
        (b"[]", "got an array"),
        (b'{"error": "this will fail"}', "expected kind 'AdmissionReview'"),
        (
            b'{"kind": "AdmissionReview", "apiVersion": "v9"}',
            "unsupported AdmissionReview apiVersion",
        ),
        (b'{"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1"}', "has no request"),
        (_review(operation="CREATE"), "has no uid"),
        (_review(uid=""), "has no uid"),
    ],
)
def test_protocol_errors_are_named(body: bytes, message: str) -> None:
    with pytest.raises(ReviewError, match=message):
        parse_review(body)


def test_parses_the_fields_the_core_reads() -> None:
    request = parse_review(
        _review(
            uid="u-1",
            kind={"group": "apps", "version": "v1", "kind": "Deployment"},
            operation="UPDATE",
            namespace="ns",
            userInfo={"username": "alice"},
            object={"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}},
            oldObject="None",
        )
    )
    assert (request.uid, request.kind, request.group_version) == ("u-1", "Deployment", "apps/v1")
    assert (request.operation, request.namespace, request.name, request.user) == (
        "UPDATE",
        "ns",
        "web",
        "alice",
    )
    assert request.object is not None
    assert request.old_object is None  # the string "None" of Connaisseur's captures


def test_generate_name_stands_in_for_a_missing_name() -> None:
    request = parse_review(
        _review(
            uid="u",
            operation="CREATE",
            object={"metadata": {"generateName": "web-"}},
            kind={"version": "v1"},
        )
    )
    assert request.name == "web-"
    assert request.group_version == "v1"


def test_response_echoes_api_version_and_uid_and_encodes_the_patch() -> None:
    patch = (
        {"op": "replace", "path": "/spec/containers/0/image", "value": "x@sha256:" + "a" * 64},
    )
    body = json.loads(
        render_response(
            "admission.k8s.io/v1beta1", "u-2", AdmissionResponse(True, warnings=("w",), patch=patch)
        )
    )
    assert body["apiVersion"] == "admission.k8s.io/v1beta1"
    assert body["kind"] == "AdmissionReview"
    response = body["response"]
    assert response["uid"] == "u-2"
    assert response["allowed"] is True
    assert response["status"] == {"code": 202}
    assert response["warnings"] == ["w"]
    assert response["patchType"] == "JSONPatch"
    assert json.loads(base64.b64decode(response["patch"])) == list(patch)


def test_denial_carries_code_403_and_message_and_no_patch() -> None:
    body = json.loads(render_response("admission.k8s.io/v1", "u", AdmissionResponse(False, "no")))
    assert body["response"]["status"] == {"code": 403, "message": "no"}
    assert "patch" not in body["response"]


def test_every_fixture_review_parses_or_fails_with_a_review_error() -> None:
    folder = connaisseur_fixtures() / "admission_reviews"
    outcomes = {}
    for path in sorted(folder.glob("*.json")):
        try:
            outcomes[path.name] = parse_review(path.read_bytes()).uid
        except ReviewError as error:
            outcomes[path.name] = f"error: {error}"
    assert outcomes["02_pod.json"] == "0c3331b6-1812-11ea-b3fc-02897404852e"
    assert outcomes["25_null_request.json"].startswith("error: expected an AdmissionReview")
    assert outcomes["ad_request_err.json"].startswith("error: expected kind")
    assert outcomes["ad_request_invalid.json"] == "error: AdmissionReview request has no uid"
    assert (
        outcomes["21_broken_admission_request.json"] == "error: AdmissionReview request has no uid"
    )


def test_nesting_up_to_the_limit_parses_and_one_more_level_is_refused() -> None:
    def nested(depth: int) -> bytes:
        # The envelope object is the first level; the annotation value adds the rest.
        inner = b"[" * (depth - 1) + b"]" * (depth - 1)
        return b'{"kind": "AdmissionReview", "x": ' + inner + b"}"

    with pytest.raises(ReviewError, match="apiVersion"):  # parsed: only the envelope is wrong
        parse_review(nested(MAX_DEPTH))
    with pytest.raises(ReviewError, match=f"nested more than {MAX_DEPTH} levels deep"):
        parse_review(nested(MAX_DEPTH + 1))


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": 1, "a": 1}',
        b'{"a": {"b": ":", "b": ":"}}',
        b'[{"k\\u003a": 1, "k:": 2}, {"x": 1, "x": 2}]',
        b'{"a": "\\u003a", "a": "x"}',
    ],
)
def test_duplicate_keys_are_found_whatever_the_colons(body: bytes) -> None:
    with pytest.raises(ReviewError, match="twice"):
        load_json(body)


@pytest.mark.parametrize(
    "body", [b'{"a": ":", "b": "\\u003a"}', b'{"k\\u003a": 1, "k": 2}', b'[{"a": 1}, {"a": 1}]']
)
def test_keys_that_only_look_alike_are_not_duplicates(body: bytes) -> None:
    assert load_json(body) == json.loads(body)
