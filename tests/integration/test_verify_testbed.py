"""``kenner verify`` as a real process against the real Notary v1 test bed (tests/harness).

It must say what ``kenner serve`` decides for the same images (tests/integration/
test_notaryv1_e2e.py): the signed digest of a signed tag (not the registry's, for a moved
tag), and the denial reason codes of unsigned images and tags. The same for Cosign: images
signed here with a fresh key, stored in the test bed's registry. With ``cache.redis`` (a real
redis-server) it never connects to Redis: it writes no shared verdict or rollback version.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kenner.app.verify import REDIS_NOTE
from tests.harness import Testbed, TestbedUnavailable
from tests.harness.redis import RedisServer, start_redis
from tests.harness.services import StateLayout
from tests.integration.test_notaryv1_e2e import config_yaml
from tests.support.cosign_signing import new_key, public_pem
from tests.support.registry_storage import RegistryStorage
from tests.support.signed_images import OwnImages

pytestmark = pytest.mark.testbed

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def config_file(testbed: Testbed, tmp_path: Path) -> Path:
    path = tmp_path / "kenner.yaml"
    path.write_text(config_yaml(testbed))
    return path


def run_verify(*args: str) -> tuple[int, str, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT / "daemon"))
    done = subprocess.run(
        [sys.executable, "-m", "kenner", "verify", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


def verify_json(config_file: Path, *images: str) -> tuple[int, dict[str, Any]]:
    code, out, err = run_verify("--config", str(config_file), "--output", "json", *images)
    assert code in (0, 1), err
    report: dict[str, Any] = json.loads(out)
    return code, report


def test_signed_images_report_the_signed_digest(testbed: Testbed, config_file: Path) -> None:
    signed = testbed.case("signed/v1/trusted-root")
    moved = testbed.case("moved-tag/v1/trusted-root")
    assert moved.digest != moved.registry_digest
    code, report = verify_json(config_file, signed.image, moved.image)
    assert code == 0
    assert report["admitted"] is True
    for case, image in zip((signed, moved), report["images"], strict=True):
        assert image["image"] == case.image
        assert image["rule"] == f"{testbed.registry_host}/kenner-test/*:*"
        assert (image["validator"], image["validatorType"]) == ("testbed", "notaryv1")
        assert (image["verdict"], image["admitted"]) == ("allow", True)
        assert image["digest"] == case.digest
    assert moved.registry_digest not in json.dumps(report)


def test_unsigned_images_are_denied_with_the_reason(testbed: Testbed, config_file: Path) -> None:
    signed = testbed.case("signed/v1/trusted-root")
    unsigned = testbed.case("unsigned/v1/trusted-root")
    unsigned_tag = testbed.case("signed/unsigned-tag/trusted-root")
    code, report = verify_json(config_file, unsigned.image, signed.image, unsigned_tag.image)
    assert code == 1
    denied, allowed, tag_denied = report["images"]
    assert (denied["verdict"], denied["admitted"], denied["digest"]) == ("deny", False, None)
    assert "no_trust_data" in denied["reason"]
    assert allowed["digest"] == signed.digest
    assert "tag_not_signed" in tag_denied["reason"]


def test_the_text_report_names_rule_validator_digest_and_why(
    testbed: Testbed, config_file: Path
) -> None:
    signed = testbed.case("signed/v1/trusted-root")
    code, out, _ = run_verify("--config", str(config_file), signed.image, "nginx:1.27")
    assert code == 1
    assert f"{signed.image}: admitted" in out
    assert "  validator: testbed (notaryv1)" in out
    assert f"  digest:    {signed.digest}" in out
    assert "docker.io/library/nginx:1.27" in out
    assert "denied by static validator 'deny'" in out
    assert out.rstrip().endswith("1 of 2 images admitted")


def test_cosign_signed_and_unsigned_images(testbed: Testbed, tmp_path: Path) -> None:
    key = new_key("ecdsa")
    storage = RegistryStorage(StateLayout(testbed.state_dir).registry_data)
    images = OwnImages(storage, testbed.registry_host, "kenner-test/verify-cosign")
    signed = images.image("signed", b'{"verify": 1}')
    images.sign(signed, key)
    images.image("unsigned", b'{"verify": 2}')
    validator = {
        "name": "sigs",
        "type": "cosign",
        "cert": testbed.ca_pem,
        "trustRoots": [{"name": "default", "key": public_pem(key)}],
    }
    rule = {"pattern": "*:*", "validator": "sigs", "with": {"verifyInTransparencyLog": False}}
    config = tmp_path / "cosign.yaml"
    config.write_text(json.dumps({"validators": [validator], "policy": [rule]}))
    code, report = verify_json(config, images.ref("signed"), images.ref("unsigned"))
    assert code == 1
    allowed, denied = report["images"]
    assert (allowed["validator"], allowed["validatorType"]) == ("sigs", "cosign")
    assert (allowed["verdict"], allowed["digest"]) == ("allow", signed)
    assert (denied["verdict"], denied["admitted"]) == ("deny", False)
    assert "no cosign signature" in denied["reason"]


def connections_received(redis: RedisServer) -> int:
    info = redis.command(b"INFO", b"stats")
    assert info is not None
    found = re.search(rb"total_connections_received:(\d+)", info)
    assert found is not None
    return int(found.group(1))


def test_verify_never_touches_the_shared_redis(testbed: Testbed, tmp_path: Path) -> None:
    try:
        redis = start_redis(tmp_path / "redis")
    except TestbedUnavailable as unavailable:
        pytest.skip(f"redis-server unavailable: {unavailable}")
    try:
        key = tmp_path / "hmac.key"
        key.write_bytes(secrets.token_bytes(32))
        document = json.loads(config_yaml(testbed))
        document["cache"] = {"redis": {"url": redis.url, "hmacKeyFile": str(key)}}
        config = tmp_path / "redis.yaml"
        config.write_text(json.dumps(document))
        signed = testbed.case("signed/v1/trusted-root")
        before = connections_received(redis)
        code, report = verify_json(config, signed.image)
        # Only the INFO that reads the count connected: verify never did.
        assert connections_received(redis) == before + 1
        assert redis.command(b"DBSIZE") == b":0\r\n"
    finally:
        redis.stop()
    assert code == 0
    assert report["images"][0]["digest"] == signed.digest
    assert report["notes"] == [REDIS_NOTE]
