"""Put RBAC in front of the FAKE Kubernetes API (``tests.support.fake_kube``): reads of chosen
paths are answered with the 403 ``Status`` object a real API server sends when kenner's
ServiceAccount lacks ``get`` on that resource; every other request goes to the fake API.
"""

from __future__ import annotations

import json

from kenner.server.app import Receive, Scope, Send
from tests.support.fake_kube import FakeKubeApi

KENNER_USER = "system:serviceaccount:kenner:kenner"


class ForbiddingKubeApi:
    """``api`` with ``forbidden`` paths (``/api/v1/namespaces/<ns>/<resource>/<name>``) denied."""

    def __init__(self, api: FakeKubeApi, forbidden: set[str]) -> None:
        self.api = api
        self.forbidden = forbidden

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.forbidden:
            await self.api(scope, receive, send)
            return
        authorization = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1") or None
        self.api.requests.append((scope["path"], authorization))
        *_, namespace, resource, name = scope["path"].split("/")
        message = (
            f'{resource} "{name}" is forbidden: User "{KENNER_USER}" cannot get resource '
            f'"{resource}" in API group "" in the namespace "{namespace}"'
        )
        status = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": "Forbidden",
            "details": {"name": name, "kind": resource},
            "code": 403,
        }
        body = json.dumps(status).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 403, "headers": headers})
        await send({"type": "http.response.body", "body": body})
