"""A small FAKE Kubernetes API server for tests (no real API server can run here).

It is an ASGI app meant for ``tests.loopback.servers.serve_https`` on 127.0.0.1. It serves the
real JSON shapes of the API for the few reads kenner makes: ``GET`` of single objects by their
REST path (``/api/v1/namespaces/<ns>/pods/<name>``,
``/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/<name>``, ...), answers
a missing object with the API's 404 ``Status`` object and a missing or wrong bearer token with
its 401 ``Status``. Tests put and delete objects in ``objects`` (keyed by path) while it runs.
The object builders below produce the shapes a real cluster returns (trimmed of fields kenner
never reads).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import yaml

from kenner.server.app import Message, Receive, Scope, Send, answer_lifespan

WEBHOOKS = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"


class FakeKubeApi:
    """Serves ``objects`` by path; every request is recorded with its Authorization header."""

    def __init__(self, token: str = "test-token") -> None:
        self.token = token
        self.objects: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str | None]] = []  # (path, authorization)

    def put(self, path: str, obj: dict[str, Any]) -> None:
        """Create or replace the object at ``path``."""
        self.objects[path] = obj

    def delete(self, path: str) -> None:
        """Remove the object at ``path``."""
        self.objects.pop(path, None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await answer_lifespan(receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        path = scope["path"]
        authorization = headers.get("authorization")
        self.requests.append((path, authorization))
        if authorization != f"Bearer {self.token}":
            await _send_json(send, 401, _status(401, "Unauthorized", "Unauthorized"))
        elif scope["method"] != "GET":
            await _send_json(send, 405, _status(405, "MethodNotAllowed", "method not allowed"))
        elif path in self.objects:
            await _send_json(send, 200, self.objects[path])
        else:
            name = path.rsplit("/", 1)[-1]
            resource = path.rsplit("/", 2)[-2]
            message = f'{resource} "{name}" not found'
            await _send_json(send, 404, _status(404, "NotFound", message))


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


async def _send_json(send: Send, status: int, body: object) -> None:
    data = json.dumps(body).encode()
    start: Message = {
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(data))],
    }
    await send(start)
    await send({"type": "http.response.body", "body": data})


def webhook_configuration(
    name: str, ca_pem: bytes, *, service: tuple[str, str] | None = None, url: str | None = None
) -> dict[str, Any]:
    """A MutatingWebhookConfiguration as the API returns it; ``service`` is (namespace, name)."""
    client: dict[str, Any] = {"caBundle": base64.b64encode(ca_pem).decode()}
    if url is not None:
        client["url"] = url
    else:
        namespace, service_name = service or ("kenner", "kenner")
        client["service"] = {
            "namespace": namespace,
            "name": service_name,
            "path": "/mutate",
            "port": 443,
        }
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {
            "name": name,
            "uid": "5b1c6f63-6a0e-4a4e-9d57-0f1c6f3c2f11",
            "resourceVersion": "1043",
            "generation": 1,
            "creationTimestamp": "2026-01-01T00:00:00Z",
        },
        "webhooks": [
            {
                "name": "kenner.kenner.dev",
                "clientConfig": client,
                "rules": [
                    {
                        "apiGroups": ["*"],
                        "apiVersions": ["*"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": ["pods", "deployments", "replicasets"],
                        "scope": "*",
                    }
                ],
                "failurePolicy": "Fail",
                "matchPolicy": "Equivalent",
                "namespaceSelector": {},
                "objectSelector": {},
                "sideEffects": "None",
                "timeoutSeconds": 10,
                "admissionReviewVersions": ["v1"],
                "reinvocationPolicy": "Never",
            }
        ],
    }


def pod(
    name: str, namespace: str, *, labels: dict[str, str], phase: str = "Running"
) -> dict[str, Any]:
    """A Pod as the API returns it, with the given labels and ``status.phase``."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": "0d3c5c2e-2f1b-4bb3-9d0e-6c1f3a9f2a10",
            "resourceVersion": "2071",
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "labels": labels,
        },
        "spec": {
            "containers": [{"name": "sentinel", "image": "registry.k8s.io/pause:3.10"}],
            "restartPolicy": "Never",
        },
        "status": {"phase": phase, "podIP": "10.244.0.7", "qosClass": "BestEffort"},
    }


def pull_secret(name: str, namespace: str, auths: dict[str, dict[str, str]]) -> dict[str, Any]:
    """A ``kubernetes.io/dockerconfigjson`` Secret as the API returns it; ``auths`` maps a
    registry to its ``username``/``password`` entry."""
    config = base64.b64encode(json.dumps({"auths": auths}).encode()).decode()
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": "6f1d2c3b-0a9e-4d8c-b7a6-5e4f3d2c1b0a",
            "resourceVersion": "4711",
            "creationTimestamp": "2026-01-01T00:00:00Z",
        },
        "type": "kubernetes.io/dockerconfigjson",
        "data": {".dockerconfigjson": config},
    }


def service_account(name: str, namespace: str, pull_secrets: list[str]) -> dict[str, Any]:
    """A ServiceAccount as the API returns it (no token secrets: projected tokens since 1.24)."""
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
            "resourceVersion": "4712",
            "creationTimestamp": "2026-01-01T00:00:00Z",
        },
        "imagePullSecrets": [{"name": secret} for secret in pull_secrets],
    }


def write_kubeconfig(folder: Path, server: str, ca_pem: str, token: str) -> Path:
    """A kubeconfig (CA inline as ``certificate-authority-data``) pointing at ``server``."""
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "fake",
        "clusters": [
            {
                "name": "fake-cluster",
                "cluster": {
                    "server": server,
                    "certificate-authority-data": base64.b64encode(ca_pem.encode()).decode(),
                },
            }
        ],
        "users": [{"name": "kenner", "user": {"token": token}}],
        "contexts": [
            {
                "name": "fake",
                "context": {"cluster": "fake-cluster", "user": "kenner", "namespace": "kenner"},
            }
        ],
    }
    path = folder / "kubeconfig"
    path.write_text(yaml.safe_dump(doc))
    return path
