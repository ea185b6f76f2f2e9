"""The webhook ASGI app in-process (httpx's ASGI transport): routes, status codes, bodies."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator

import httpx
import pytest
import trio

from kenner.app.state import DaemonState, Snapshot
from kenner.config.model import Config, Deadlines, Rule, ServerConfig, StaticValidatorConfig
from kenner.server.app import WebhookApp
from kenner.validators.driver import Driver
from kenner.validators.static import StaticValidator
from tests.support.proofs import proof_in, without_proof
from tests.support.reviews import pod_review
from tests.support.validators import SlowValidator

ALLOW = StaticValidatorConfig("allow", True)
CONFIG = Config(
    validators=(ALLOW,),
    policy=(Rule("registry.k8s.io/*:*", "allow"),),
    server=ServerConfig(max_body_bytes=4096),
)


def _review(image: str) -> dict[str, object]:
    return pod_review(image, uid="u-1", container_name="c")


@pytest.fixture
def state() -> DaemonState:
    state = DaemonState(Snapshot(CONFIG, {"allow": Driver(StaticValidator(ALLOW))}))
    state.set_condition("serving", True, "test", 0.0)
    return state


@pytest.fixture
async def client(state: DaemonState) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=WebhookApp(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://kenner") as client:
        yield client


async def test_allowed_review(client: httpx.AsyncClient) -> None:
    response = await client.post("/mutate", json=_review("registry.k8s.io/pause:3.9"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()["response"]
    patch = json.loads(base64.b64decode(body.pop("patch")))
    assert body == {
        "uid": "u-1",
        "allowed": True,
        "status": {"code": 202},
        "patchType": "JSONPatch",
    }
    # Nothing to pin; the patch only writes kenner's proof (issue 11).
    assert without_proof(patch) == []
    assert proof_in(patch) is not None


async def test_denied_review_names_image_and_reason(client: httpx.AsyncClient) -> None:
    response = await client.post("/mutate", json=_review("nginx"))
    assert response.status_code == 200
    body = response.json()["response"]
    assert body["allowed"] is False
    assert body["status"]["message"] == (
        "kenner denied the request: image 'docker.io/library/nginx:latest': "
        "no rule of the image policy matches it"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{", "body is not valid JSON"),
        (b"null", "expected an AdmissionReview JSON object, got null"),
        (b"{}", "expected kind 'AdmissionReview'"),
        (b"", "empty body"),
    ],
)
async def test_malformed_bodies_get_400_with_the_reason(
    client: httpx.AsyncClient, content: bytes, message: str
) -> None:
    response = await client.post(
        "/mutate", content=content, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert message in response.text


async def test_body_over_the_cap_gets_413(client: httpx.AsyncClient) -> None:
    review = _review("registry.k8s.io/pause:3.9")
    review["padding"] = "x" * 5000
    response = await client.post("/mutate", json=review)
    assert response.status_code == 413
    assert "exceeds 4096 bytes" in response.text


async def test_wrong_content_type_and_method(client: httpx.AsyncClient) -> None:
    response = await client.post("/mutate", content=json.dumps(_review("x")))
    assert response.status_code == 415
    response = await client.get("/mutate")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert (await client.get("/nope")).status_code == 404


async def test_health_and_readiness(client: httpx.AsyncClient, state: DaemonState) -> None:
    assert (await client.get("/health")).json() == {"status": "ok"}
    ready = await client.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["conditions"]["serving"]["ok"] is True
    state.set_condition("serving", False, "shutting down", 1.0)
    not_ready = await client.get("/ready")
    assert not_ready.status_code == 503
    assert not_ready.json() == {
        "ready": False,
        "conditions": {
            "serving": {"ok": False, "detail": "shutting down", "since": "1970-01-01T00:00:01Z"}
        },
    }


async def test_an_image_not_validated_by_the_deadline_is_denied() -> None:
    slow = SlowValidator("slow", delay_s=30.0)
    config = Config(
        validators=(), policy=(Rule("*:*", "slow"),), deadlines=Deadlines(request_s=0.2)
    )
    transport = httpx.ASGITransport(app=WebhookApp(DaemonState(Snapshot(config, {"slow": slow}))))
    async with httpx.AsyncClient(transport=transport, base_url="http://kenner") as client:
        with trio.fail_after(5):
            response = await client.post("/mutate", json=_review("nginx"))
    assert response.status_code == 200
    body = response.json()["response"]
    assert body["allowed"] is False
    assert body["status"]["message"] == (
        "kenner denied the request: image 'docker.io/library/nginx:latest': "
        "validation did not finish before the request deadline"
    )


async def test_a_bug_while_answering_denies_instead_of_a_500(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 11 point 12: an unexpected exception in the admission path reached hypercorn as
    HTTP 500, which a webhook with ``failurePolicy: Ignore`` turns into an admission. It is
    now a denial of that request, with the traceback in the log. (No real input triggers a
    bug any more, so one is put in by hand.)"""

    def broken_plan(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("a bug in planning")

    monkeypatch.setattr("kenner.app.verdicts.plan_request", broken_plan)
    response = await client.post("/mutate", json=_review("registry.k8s.io/pause:3.9"))
    assert response.status_code == 200
    body = response.json()["response"]
    assert body["uid"] == "u-1"
    assert body["allowed"] is False
    assert (
        body["status"]["message"] == "kenner denied the request: internal error (logged by kenner)"
    )
    [record] = [r for r in caplog.records if r.exc_info is not None]
    assert record.exc_info is not None
    assert record.exc_info[0] is ZeroDivisionError
