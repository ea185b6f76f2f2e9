"""``kenner serve`` and ``kenner review`` as real processes, checking images on the real Notary.

The whole path: AdmissionReview over TLS → policy → notaryv1 validator → notary-server over
TLS (the test bed's CA given inline as ``cert:``) → JSON patch pinning the signed digest.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme

from tests.harness import TRUSTED_ROOT, Testbed
from tests.loopback.daemon import RunningDaemon, client_context, start_daemon
from tests.support.proofs import proof_in, without_proof
from tests.support.reviews import admission_review, deployment, pod_review

pytestmark = pytest.mark.testbed

REPO_ROOT = Path(__file__).resolve().parents[2]
UID = "e2e-uid"  # every review here carries it; the answers must echo it


def config_yaml(testbed: Testbed) -> str:
    """A kenner config whose only route to Notary is the test bed's ``kenner-test`` namespace."""
    config = {
        "validators": [
            {"name": "deny", "type": "static", "approve": False},
            {
                "name": "testbed",
                "type": "notaryv1",
                "host": testbed.notary_url,
                "cert": testbed.ca_pem,
                "trustRoots": [{"name": "default", "key": testbed.root_keys[TRUSTED_ROOT]}],
            },
        ],
        "policy": [
            {"pattern": "*:*", "validator": "deny"},
            {"pattern": f"{testbed.registry_host}/kenner-test/*:*", "validator": "testbed"},
        ],
    }
    # JSON is YAML; it keeps the multi-line PEMs intact without a YAML writer.
    return json.dumps(config, indent=2)


def single_pod_review(image: str) -> dict[str, Any]:
    return pod_review(image, uid=UID, namespace="default", name="app", container_name="app")


def deployment_review(images: list[str]) -> dict[str, Any]:
    return admission_review(deployment(*images), uid=UID, namespace="default")


def patch_of(response: dict[str, Any]) -> list[Mapping[str, Any]]:
    """The image operations of the patch (every allowed answer also writes the proof)."""
    assert response["patchType"] == "JSONPatch"
    patch: list[dict[str, Any]] = json.loads(base64.b64decode(response["patch"]))
    assert proof_in(patch) is not None
    return without_proof(patch)


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def config_file(testbed: Testbed, tmp_path: Path) -> Path:
    path = tmp_path / "kenner.yaml"
    path.write_text(config_yaml(testbed))
    return path


@pytest.fixture
def daemon(config_file: Path, ca: trustme.CA, tmp_path: Path) -> Iterator[RunningDaemon]:
    running = start_daemon(tmp_path, config_file, ca)
    yield running
    assert running.stop() == 0


async def post_review(
    daemon: RunningDaemon, ca: trustme.CA, review: dict[str, Any]
) -> dict[str, Any]:
    async with httpx.AsyncClient(verify=client_context(ca), timeout=30) as client:
        answer = await client.post(f"{daemon.url}/mutate", json=review)
    assert answer.status_code == 200, answer.text
    response: dict[str, Any] = answer.json()["response"]
    assert response["uid"] == UID
    return response


async def test_moved_tag_is_admitted_and_pinned_to_the_signed_digest(
    testbed: Testbed, daemon: RunningDaemon, ca: trustme.CA
) -> None:
    case = testbed.case("moved-tag/v1/trusted-root")
    assert case.digest is not None
    assert case.digest != case.registry_digest
    response = await post_review(daemon, ca, single_pod_review(case.image))
    assert response["allowed"] is True
    assert patch_of(response) == [
        {
            "op": "replace",
            "path": "/spec/containers/0/image",
            "value": f"{case.image}@{case.digest}",
        }
    ]
    assert case.registry_digest not in json.dumps(patch_of(response))


async def test_unsigned_image_is_denied_naming_image_and_reason(
    testbed: Testbed, daemon: RunningDaemon, ca: trustme.CA
) -> None:
    case = testbed.case("unsigned/v1/trusted-root")
    response = await post_review(daemon, ca, single_pod_review(case.image))
    assert response["allowed"] is False
    message = response["status"]["message"]
    assert case.image in message
    assert "no_trust_data" in message
    assert "patch" not in response


async def test_deployment_with_three_signed_images_gets_three_patch_operations(
    testbed: Testbed, daemon: RunningDaemon, ca: trustme.CA
) -> None:
    cases = [
        testbed.case(case_id)
        for case_id in (
            "signed/v1/trusted-root",
            "signed/v2/trusted-root",
            "multi-arch/v1/trusted-root",
        )
    ]
    response = await post_review(daemon, ca, deployment_review([case.image for case in cases]))
    assert response["allowed"] is True
    assert patch_of(response) == [
        {
            "op": "replace",
            "path": f"/spec/template/spec/containers/{index}/image",
            "value": f"{case.image}@{case.digest}",
        }
        for index, case in enumerate(cases)
    ]


def run_review(config_file: Path, review: dict[str, Any], tmp_path: Path) -> tuple[int, str]:
    review_file = tmp_path / "review.json"
    review_file.write_text(json.dumps(review))
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT / "daemon"))
    done = subprocess.run(
        [sys.executable, "-m", "kenner", "review", "--config", str(config_file), str(review_file)],
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )
    return done.returncode, done.stdout.decode()


def test_review_command_exits_0_when_allowed_and_1_when_denied(
    testbed: Testbed, config_file: Path, tmp_path: Path
) -> None:
    signed = testbed.case("signed/v1/trusted-root")
    code, output = run_review(config_file, single_pod_review(signed.image), tmp_path)
    assert code == 0, output
    allowed = json.loads(output)["response"]
    assert patch_of(allowed)[0]["value"] == f"{signed.image}@{signed.digest}"

    unsigned_tag = testbed.case("signed/unsigned-tag/trusted-root")
    code, output = run_review(config_file, single_pod_review(unsigned_tag.image), tmp_path)
    assert code == 1, output
    message = json.loads(output)["response"]["status"]["message"]
    assert unsigned_tag.image in message
    assert "tag_not_signed" in message
