"""``auth.k8sKeychain``: the admitted object's imagePullSecrets and its ServiceAccount's, read
from a FAKE Kubernetes API over TLS (``tests/support/fake_kube.py``: the real JSON shapes of
Secret and ServiceAccount objects, 404 and 403 ``Status`` answers), unlock a real
docker-registry with htpasswd authentication.

Whole admission requests go through ``decide_request`` with one snapshot, so the validator's
caches and single flights are shared between requests as in the daemon.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio
import yaml

from kenner.admission.decision import Decision
from kenner.admission.review import parse_review
from kenner.app.pipeline import decide_request
from kenner.app.state import Snapshot
from kenner.config.load import load_config
from kenner.kube.access import ClusterAccess
from kenner.kube.client import KubeClient
from kenner.validators.build import build_validators, open_runtime
from tests.harness.auth_registry import AuthRegistry
from tests.loopback.servers import serve_https
from tests.support.auth_registries import auth_registry_or_skip, htpasswd_or_skip, own_images
from tests.support.cosign_signing import new_key, public_pem
from tests.support.fake_kube import FakeKubeApi, pull_secret, service_account
from tests.support.kube_forbidden import ForbiddingKubeApi
from tests.support.proofs import without_proof
from tests.support.reviews import admission_review, as_bytes, deployment, pod

pytestmark = pytest.mark.testbed

NAMESPACE = "team"
SECRETS = f"/api/v1/namespaces/{NAMESPACE}/secrets"
ACCOUNTS = f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts"


def _pull_secret(name: str, auths: dict[str, dict[str, str]]) -> dict[str, Any]:
    return pull_secret(name, NAMESPACE, auths)


def _review(
    kind: str, image: str, pull_secrets: list[str], service_account: str | None = None
) -> bytes:
    spec_fields: dict[str, Any] = {}
    if pull_secrets:
        spec_fields["imagePullSecrets"] = [{"name": name} for name in pull_secrets]
    if service_account is not None:
        spec_fields["serviceAccountName"] = service_account
    workload = pod if kind == "Pod" else deployment
    obj = workload(image, name="app", container_name="app", **spec_fields)
    uid = "b1c2d3e4-0000-4000-8000-000000000001"
    return as_bytes(admission_review(obj, uid=uid, namespace=NAMESPACE, user="dev"))


@attrs.frozen
class Cluster:
    api: FakeKubeApi
    forbidden: set[str]  # API paths answered with 403, as if RBAC did not allow them
    registry: AuthRegistry
    snapshot: Snapshot

    async def decide(
        self, kind: str, image: str, pull_secrets: list[str], service_account: str | None = None
    ) -> Decision:
        request = parse_review(_review(kind, image, pull_secrets, service_account))
        deadline = trio.current_time() + self.snapshot.config.deadlines.request_s
        return await decide_request(request, self.snapshot, deadline=deadline)


@asynccontextmanager
async def _cluster(tmp_path: Path, key_pem: str) -> AsyncIterator[Cluster]:
    auth = htpasswd_or_skip(tmp_path / "registry", {"team": "team-pass"})
    api = FakeKubeApi()
    forbidden: set[str] = set()
    with auth_registry_or_skip(tmp_path / "registry", auth) as registry:
        validator = {
            "name": "cosign",
            "type": "cosign",
            "trustRoots": [{"name": "default", "key": key_pem}],
            "registryCerts": {registry.host: registry.ca_pem},
            "auth": {"k8sKeychain": True},
        }
        rule = {"pattern": "*:*", "validator": "cosign", "with": {"verifyInTransparencyLog": False}}
        document = {
            "validators": [validator],
            "policy": [rule],
            "kubernetes": {"enabled": True, "apiSeconds": 2},
        }
        config = load_config(yaml.safe_dump(document))
        served = ForbiddingKubeApi(api, forbidden)
        async with serve_https(served) as server, open_runtime() as runtime:
            access = ClusterAccess(server.base_url, ca_pem=server.ca_pem, token=api.token)
            async with KubeClient(access) as kube:
                snapshot = Snapshot(config, build_validators(config, runtime), kube=kube)
                yield Cluster(api, forbidden, registry, snapshot)


async def test_the_pods_pull_secrets_unlock_the_registry(tmp_path: Path) -> None:
    key = new_key()
    async with _cluster(tmp_path, public_pem(key)) as cluster:
        images = own_images(cluster.registry, "team/app")
        digest = images.signed_image("v1", key)
        host = cluster.registry.host
        cluster.api.put(
            f"{SECRETS}/stale", _pull_secret("stale", {host: {"username": "team", "password": "x"}})
        )
        cluster.api.put(
            f"{SECRETS}/regcred",
            _pull_secret("regcred", {host: {"username": "team", "password": "team-pass"}}),
        )

        # A wrong login first: its (cached) failure must not be served to the right login.
        denied = await cluster.decide("Pod", images.ref("v1"), ["stale"])
        assert not denied.response.allowed
        assert "the server refused our basic authorization" in denied.response.message

        # The missing secret is skipped, as the kubelet does; regcred carries the login.
        allowed = await cluster.decide("Pod", images.ref("v1"), ["missing", "regcred"])
        assert allowed.response.allowed, allowed.response.message
        pins = without_proof(allowed.response.patch)
        assert [op["value"] for op in pins] == [f"{images.ref('v1')}@{digest}"]
        read = [path for path, _ in cluster.api.requests]
        assert f"{SECRETS}/missing" in read
        assert f"{SECRETS}/regcred" in read

        deployment = await cluster.decide("Deployment", images.ref("v1"), ["regcred"])
        assert deployment.response.allowed, deployment.response.message

        anonymous = await cluster.decide("Pod", images.ref("v1"), [])
        assert not anonymous.response.allowed
        assert host in anonymous.response.message
        assert "asks for basic credentials; none are configured" in anonymous.response.message


async def test_the_service_accounts_pull_secrets_unlock_the_registry(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    key = new_key()
    async with _cluster(tmp_path, public_pem(key)) as cluster:
        images = own_images(cluster.registry, "team/app")
        images.signed_image("v1", key)
        host = cluster.registry.host
        right = {host: {"username": "team", "password": "team-pass"}}
        cluster.api.put(f"{SECRETS}/regcred", _pull_secret("regcred", right))
        stale = {host: {"username": "team", "password": "x"}}
        cluster.api.put(f"{SECRETS}/stale", _pull_secret("stale", stale))
        cluster.api.put(f"{ACCOUNTS}/builder", service_account("builder", NAMESPACE, ["regcred"]))

        # A workload template names no secret; the account it runs as carries the login.
        deployment = await cluster.decide("Deployment", images.ref("v1"), [], "builder")
        assert deployment.response.allowed, deployment.response.message
        assert f"{ACCOUNTS}/builder" in [path for path, _ in cluster.api.requests]

        # The pod's own secret comes first: its stale login answers for the registry.
        pod_first = await cluster.decide("Pod", images.ref("v1"), ["stale"], "builder")
        assert not pod_first.response.allowed
        assert "the server refused our basic authorization" in pod_first.response.message

        # Without read access to the account its login is unknown: the registry's refusal
        # denies, and the log says which account could not be read and why.
        cluster.forbidden.add(f"{ACCOUNTS}/builder")
        with caplog.at_level(logging.WARNING, logger="kenner.kube.pull_secrets"):
            denied = await cluster.decide("Deployment", images.ref("v1"), [], "builder")
        assert not denied.response.allowed
        assert host in denied.response.message
        assert "asks for basic credentials; none are configured" in denied.response.message
        (warning,) = [r for r in caplog.records if r.name == "kenner.kube.pull_secrets"]
        assert warning.getMessage() == "service account pull secrets not used"
        assert warning.__dict__["fields"]["serviceAccount"] == f"{ACCOUNTS}/builder"
        assert "(HTTP 403)" in warning.__dict__["fields"]["reason"]
