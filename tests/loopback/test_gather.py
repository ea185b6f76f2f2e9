"""``kenner.app.gather``: the owner objects and the pull secrets of one request are read
concurrently, from a fake Kubernetes API over TLS (``tests.support.fake_kube``).

The API below answers the owner read only once a pull-secret read has arrived. Read one after
another (the owner first, as before ``kenner.app``), the owner read waits until
``kubernetes.apiSeconds`` ends it and approves nothing; read concurrently, both answer.
"""

from __future__ import annotations

from typing import Any

import trio

from kenner.admission.review import parse_review
from kenner.app.gather import gather
from kenner.app.needs import Needs, needs_of
from kenner.app.state import Snapshot
from kenner.kube.access import ClusterAccess
from kenner.kube.client import KubeClient
from kenner.oci.dockerconfig import RegistryLogin
from kenner.server.app import Receive, Scope, Send
from tests.loopback.servers import serve_https
from tests.support.cluster_config import cluster_cosign_config
from tests.support.fake_kube import FakeKubeApi, pull_secret
from tests.support.proofs import with_proof
from tests.support.reviews import admission_review, as_bytes, deployment

NAMESPACE = "team"
IMAGE = "registry.example/team/app@sha256:" + "1" * 64
RS_NAME, RS_UID = "web-5d9c", "6f1c2a4e-0000-4000-8000-000000000001"
RS_PATH = f"/apis/apps/v1/namespaces/{NAMESPACE}/replicasets/{RS_NAME}"
SECRET_PATH = f"/api/v1/namespaces/{NAMESPACE}/secrets/regcred"


class OwnerAfterSecret:
    """``api``, except that the owner read waits (up to 5 s) for a pull-secret read to begin."""

    def __init__(self, api: FakeKubeApi) -> None:
        self.api = api
        self.secret_asked = trio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == SECRET_PATH:
            self.secret_asked.set()
        if scope["type"] == "http" and scope["path"] == RS_PATH:
            with trio.move_on_after(5):
                await self.secret_asked.wait()
        await self.api(scope, receive, send)


def child_pod() -> dict[str, Any]:
    owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": RS_NAME, "uid": RS_UID}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"{RS_NAME}-x1", "ownerReferences": [owner]},
        "spec": {
            "containers": [{"name": "app", "image": IMAGE}],
            "imagePullSecrets": [{"name": "regcred"}],
        },
    }


async def test_owner_objects_and_pull_secrets_are_read_concurrently() -> None:
    config = cluster_cosign_config(keychain=True)
    api = FakeKubeApi()
    owner = deployment(IMAGE, name=RS_NAME)
    owner["kind"] = "ReplicaSet"
    owner["metadata"].update(namespace=NAMESPACE, uid=RS_UID)
    api.put(RS_PATH, with_proof(owner, "ReplicaSet", NAMESPACE, Snapshot(config, {}).prover))
    login = {"username": "team", "password": "team-pass"}
    api.put(SECRET_PATH, pull_secret("regcred", NAMESPACE, {"registry.example": login}))
    request = parse_review(as_bytes(admission_review(child_pod(), namespace=NAMESPACE)))
    async with serve_https(OwnerAfterSecret(api)) as server:
        access = ClusterAccess(server.base_url, ca_pem=server.ca_pem, token=api.token)
        async with KubeClient(access) as kube:
            snapshot = Snapshot(config, {}, kube=kube)
            needs = needs_of(request, snapshot)
            facts = await gather(request, snapshot, needs, deadline=trio.current_time() + 10)
    assert needs == Needs(owners=True, pull_secrets=True)
    assert facts.owner_images == {IMAGE}
    assert facts.pull_logins is not None
    found = facts.pull_logins.for_image("registry.example", "team/app")
    assert found == RegistryLogin("team", "team-pass")
