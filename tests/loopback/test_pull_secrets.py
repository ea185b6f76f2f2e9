"""``pod_pull_logins`` (cosign's ``auth.k8sKeychain``): which Secrets and ServiceAccounts kenner
reads, in which order their logins count, and what a failing read does.

The Kubernetes API is the small FAKE API of ``tests/support/fake_kube.py`` (no real API server
runs here), served over TLS on 127.0.0.1 and read with kenner's real ``KubeClient``. It answers
with the real JSON shapes of ServiceAccount and Secret objects, the API's 404 ``Status`` for a
missing object and, through ``tests/support/kube_forbidden.py``, its 403 ``Status`` for a read
RBAC does not allow.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio

from kenner.admission.review import AdmissionRequest, parse_review
from kenner.kube.access import ClusterAccess
from kenner.kube.client import KubeClient
from kenner.kube.pull_secrets import pod_pull_logins
from kenner.oci.dockerconfig import RegistryLogin, RegistryLogins
from tests.loopback.servers import serve_https
from tests.support.cluster_config import cluster_cosign_config
from tests.support.fake_kube import FakeKubeApi, pull_secret, service_account
from tests.support.kube_forbidden import ForbiddingKubeApi
from tests.support.reviews import admission_review, as_bytes, deployment, pod

NAMESPACE = "team"
SECRETS = f"/api/v1/namespaces/{NAMESPACE}/secrets"
ACCOUNTS = f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts"
IMAGE = ("reg.example", "team/app")


def _pull_secret(name: str, user: str, *registries: str) -> dict[str, Any]:
    auths = {registry: {"username": user, "password": f"{user}-pass"} for registry in registries}
    return pull_secret(name, NAMESPACE, auths)


def _service_account(name: str, *pull_secrets: str) -> dict[str, Any]:
    return service_account(name, NAMESPACE, list(pull_secrets))


def _request(kind: str, pod_spec: dict[str, Any], *, operation: str = "CREATE") -> AdmissionRequest:
    image = "reg.example/team/app:1"
    if kind == "Pod":
        obj = pod(image, name="app", container_name="app", **pod_spec)
    else:
        obj = deployment(image, container_name="app", labels={"app": "app"}, **pod_spec)
    uid = "c2d3e4f5-0000-4000-8000-000000000002"
    review = admission_review(obj, uid=uid, namespace=NAMESPACE, operation=operation, user="dev")
    return parse_review(as_bytes(review))


@asynccontextmanager
async def _kube(
    api: FakeKubeApi, *, forbidden: frozenset[str] = frozenset()
) -> AsyncIterator[KubeClient]:
    async with serve_https(ForbiddingKubeApi(api, set(forbidden))) as server:
        access = ClusterAccess(server.base_url, ca_pem=server.ca_pem, token=api.token)
        async with KubeClient(access) as kube:
            yield kube


async def _logins(
    api: FakeKubeApi,
    request: AdmissionRequest,
    *,
    keychain: bool = True,
    forbidden: frozenset[str] = frozenset(),
) -> RegistryLogins | None:
    config = cluster_cosign_config(keychain=keychain)
    async with _kube(api, forbidden=forbidden) as kube:
        deadline = trio.current_time() + config.deadlines.request_s
        return await pod_pull_logins(request, kube, config, deadline=deadline)


def _read(api: FakeKubeApi) -> Counter[str]:
    """How often each path was read."""
    return Counter(path for path, _ in api.requests)


def _logged(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "kenner.kube.pull_secrets"]


async def test_the_service_accounts_secrets_serve_a_pod_without_its_own() -> None:
    api = FakeKubeApi()
    api.put(f"{ACCOUNTS}/builder", _service_account("builder", "gone", "builder-cred"))
    api.put(f"{SECRETS}/builder-cred", _pull_secret("builder-cred", "builder", "reg.example"))

    logins = await _logins(api, _request("Pod", {"serviceAccountName": "builder"}))

    assert logins is not None
    assert logins.for_image(*IMAGE) == RegistryLogin("builder", "builder-pass")
    # The account's missing secret is skipped like a pod's own.
    assert _read(api) == Counter(
        [f"{ACCOUNTS}/builder", f"{SECRETS}/builder-cred", f"{SECRETS}/gone"]
    )
    assert {authorization for _, authorization in api.requests} == {f"Bearer {api.token}"}


async def test_the_pods_secrets_come_first_then_the_accounts_each_read_once() -> None:
    api = FakeKubeApi()
    api.put(f"{ACCOUNTS}/default", _service_account("default", "shared", "account-cred"))
    api.put(f"{SECRETS}/pod-cred", _pull_secret("pod-cred", "pod", "reg.example"))
    api.put(f"{SECRETS}/shared", _pull_secret("shared", "shared", "mirror.example"))
    account_secret = _pull_secret("account-cred", "account", "reg.example", "other.example")
    api.put(f"{SECRETS}/account-cred", account_secret)
    # No serviceAccountName: the pod runs as "default".
    pod_spec = {"imagePullSecrets": [{"name": "pod-cred"}, {"name": "shared"}]}

    logins = await _logins(api, _request("Pod", pod_spec))

    assert logins is not None
    # Equal keys: the pod's secret wins; the account adds the registries only it covers.
    assert logins.for_image(*IMAGE) == RegistryLogin("pod", "pod-pass")
    assert logins.for_image("other.example", "x") == RegistryLogin("account", "account-pass")
    assert logins.for_image("mirror.example", "x") == RegistryLogin("shared", "shared-pass")
    assert _read(api) == Counter(
        [
            f"{ACCOUNTS}/default",
            f"{SECRETS}/pod-cred",
            f"{SECRETS}/shared",
            f"{SECRETS}/account-cred",
        ]
    )


async def test_a_missing_service_account_leaves_the_pods_own_secrets(
    caplog: pytest.LogCaptureFixture,
) -> None:
    api = FakeKubeApi()
    api.put(f"{SECRETS}/pod-cred", _pull_secret("pod-cred", "pod", "reg.example"))
    pod_spec = {"serviceAccountName": "ghost", "imagePullSecrets": [{"name": "pod-cred"}]}

    with caplog.at_level(logging.INFO, logger="kenner.kube.pull_secrets"):
        logins = await _logins(api, _request("Pod", pod_spec))

    assert logins is not None
    assert logins.by_prefix == {"reg.example": RegistryLogin("pod", "pod-pass")}
    assert _read(api) == Counter([f"{ACCOUNTS}/ghost", f"{SECRETS}/pod-cred"])
    (record,) = _logged(caplog)
    assert record.levelno == logging.INFO
    assert record.getMessage() == "service account not found; its pull secrets are not used"
    assert record.__dict__["fields"]["serviceAccount"] == f"{ACCOUNTS}/ghost"


async def test_an_unreadable_service_account_is_skipped_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    api = FakeKubeApi()
    api.put(f"{ACCOUNTS}/builder", _service_account("builder", "builder-cred"))
    api.put(f"{SECRETS}/builder-cred", _pull_secret("builder-cred", "builder", "reg.example"))
    api.put(f"{SECRETS}/pod-cred", _pull_secret("pod-cred", "pod", "other.example"))
    pod_spec = {"serviceAccountName": "builder", "imagePullSecrets": [{"name": "pod-cred"}]}

    with caplog.at_level(logging.WARNING, logger="kenner.kube.pull_secrets"):
        logins = await _logins(
            api, _request("Pod", pod_spec), forbidden=frozenset({f"{ACCOUNTS}/builder"})
        )

    # Without the account its secrets are unknown: only the pod's own login is left.
    assert logins is not None
    assert logins.by_prefix == {"other.example": RegistryLogin("pod", "pod-pass")}
    assert _read(api) == Counter([f"{ACCOUNTS}/builder", f"{SECRETS}/pod-cred"])
    (record,) = _logged(caplog)
    assert record.levelno == logging.WARNING
    assert record.getMessage() == "service account pull secrets not used"
    fields = record.__dict__["fields"]
    assert fields["serviceAccount"] == f"{ACCOUNTS}/builder"
    assert fields["reason"].startswith(f"Kubernetes API {ACCOUNTS}/builder: serviceaccounts")
    assert 'cannot get resource "serviceaccounts"' in fields["reason"]
    assert fields["reason"].endswith("(HTTP 403)")


async def test_a_deployment_templates_service_account() -> None:
    api = FakeKubeApi()
    api.put(f"{ACCOUNTS}/builder", _service_account("builder", "builder-cred"))
    api.put(f"{SECRETS}/builder-cred", _pull_secret("builder-cred", "builder", "reg.example"))
    # The deprecated field names the account when serviceAccountName is absent.
    request = _request("Deployment", {"serviceAccount": "builder"})

    logins = await _logins(api, request)

    assert logins is not None
    assert logins.for_image(*IMAGE) == RegistryLogin("builder", "builder-pass")
    assert _read(api) == Counter([f"{ACCOUNTS}/builder", f"{SECRETS}/builder-cred"])


async def test_nothing_is_read_without_a_keychain_validator_or_a_validated_operation() -> None:
    api = FakeKubeApi()
    api.put(f"{ACCOUNTS}/default", _service_account("default", "pod-cred"))
    api.put(f"{SECRETS}/pod-cred", _pull_secret("pod-cred", "pod", "reg.example"))
    pod_spec = {"imagePullSecrets": [{"name": "pod-cred"}]}

    assert await _logins(api, _request("Pod", pod_spec), keychain=False) is None
    assert await _logins(api, _request("Pod", pod_spec, operation="DELETE")) is None
    assert api.requests == []
