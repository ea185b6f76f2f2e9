"""A small OCI 1.1 referrers API in front of a registry, for tests (an ASGI app).

``GET /v2/<name>/referrers/<digest>`` is answered from the front's own store: an OCI image
index of the referrers recorded for that digest, ``artifactType`` filtering (with
``OCI-Filters-Applied``) and ``Link`` pagination as the distribution spec 1.1 describes them.
A manifest ``PUT`` with a ``subject`` that passes through is recorded and answered with
``OCI-Subject`` (so a pusher knows it need not maintain the referrers tag schema), the way a
registry with the API behaves. Every other request goes to ``upstream`` (the real
docker-registry, which has no referrers API), or, without one, is answered from the front's
in-memory ``manifests`` and ``blobs`` (loopback tests with no test bed).

Knobs for hostile registries: ``api`` (False: the referrers path is the upstream's, which
docker-registry answers with 404, or without one a 404 as a registry without the API answers),
``filtering`` (False: the filter is ignored), ``link`` (rewrites each ``Link`` target),
``statuses`` (per path, or ``path?query``), ``bodies`` (a 200 with these bytes) and ``delays``
per path. Serve it with
``tests.loopback.servers.serve_https``.
"""

from __future__ import annotations

import json
import re
import ssl
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, quote

import attrs
import httpx
import trio

from kenner.oci.manifest import OCI_INDEX, OCI_MANIFEST, digest_of
from kenner.server.app import Receive, Scope, Send, answer_lifespan

_REFERRERS = re.compile(r"/v2/(?P<name>.+)/referrers/(?P<digest>[^/]+)")
_CONTENT = re.compile(r"/v2/(?P<name>.+)/(?P<kind>manifests|blobs)/(?P<reference>[^/]+)")
_FORWARDED = ("accept", "authorization", "content-type", "content-length")
_RETURNED = (
    "content-type",
    "docker-content-digest",
    "location",
    "www-authenticate",
    "range",
    "docker-upload-uuid",
)


def index_entry(manifest: bytes) -> dict[str, Any]:
    """The referrers list entry for a referrer manifest, as the spec has it written: its
    ``artifactType`` (else its config's media type) and its annotations."""
    document = json.loads(manifest)
    entry: dict[str, Any] = {
        "mediaType": document.get("mediaType", OCI_MANIFEST),
        "digest": digest_of(manifest),
        "size": len(manifest),
    }
    artifact_type = document.get("artifactType") or document.get("config", {}).get("mediaType")
    if artifact_type:
        entry["artifactType"] = artifact_type
    if document.get("annotations"):
        entry["annotations"] = document["annotations"]
    return entry


@attrs.define
class ReferrersFront:
    """The front; see the module docstring.

    Attributes:
        referrers: the index entries per (repository, subject digest), in push order.
        manifests: without ``upstream``: manifest bytes per (repository, tag or digest).
        blobs: without ``upstream``: blob bytes per digest (tests may store wrong bytes).
        requests: ``METHOD path?query`` of every request received, oldest first.
    """

    upstream: str | None = None
    upstream_ca_pem: str | None = None
    page_size: int = 100
    api: bool = True
    filtering: bool = True
    link: Callable[[str], str] | None = None
    statuses: dict[str, int] = attrs.Factory(dict)
    bodies: dict[str, bytes] = attrs.Factory(dict)
    delays: dict[str, float] = attrs.Factory(dict)
    referrers: dict[tuple[str, str], list[dict[str, Any]]] = attrs.Factory(dict)
    manifests: dict[tuple[str, str], bytes] = attrs.Factory(dict)
    blobs: dict[str, bytes] = attrs.Factory(dict)
    requests: list[str] = attrs.Factory(list)
    _client: httpx.AsyncClient | None = None

    def attach(self, repository: str, manifest: bytes) -> dict[str, Any]:
        """Record (and, without upstream, store) a referrer manifest; its index entry."""
        subject = json.loads(manifest)["subject"]["digest"]
        entry = index_entry(manifest)
        self.referrers.setdefault((repository, subject), []).append(entry)
        self.manifests[(repository, entry["digest"])] = manifest
        return entry

    def put_manifest(self, repository: str, data: bytes, tag: str | None = None) -> str:
        """Serve ``data`` (without upstream) by its digest and ``tag``; its digest."""
        digest = digest_of(data)
        self.manifests[(repository, digest)] = data
        if tag is not None:
            self.manifests[(repository, tag)] = data
        return digest

    def put_blob(self, data: bytes) -> str:
        digest = digest_of(data)
        self.blobs[digest] = data
        return digest

    def count(self, fragment: str) -> int:
        """How many requests had ``fragment`` in their method, path or query."""
        return sum(1 for request in self.requests if fragment in request)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await answer_lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        body = bytearray()
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        method, path = scope["method"], scope["path"]
        query = scope["query_string"].decode("latin-1")
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        self.requests.append(f"{method} {path}?{query}" if query else f"{method} {path}")
        await trio.sleep(self.delays.get(path, 0.0))
        status, answer_headers, answer = await self._answer(method, path, query, headers, body)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(k.encode(), v.encode()) for k, v in answer_headers],
            }
        )
        await send({"type": "http.response.body", "body": answer})

    async def _answer(
        self, method: str, path: str, query: str, headers: dict[str, str], body: bytearray
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        status = self.statuses.get(path) or self.statuses.get(f"{path}?{query}")
        if status is not None:
            return status, [], b'{"errors":[{"code":"SCRIPTED"}]}'
        if path in self.bodies:
            return 200, [("content-type", OCI_INDEX)], self.bodies[path]
        referrers = _REFERRERS.fullmatch(path)
        if referrers is not None and method == "GET":
            if not self.api and self.upstream is not None:  # the registry's own answer
                return await self._forward(self.upstream, method, path, query, headers, b"")
            if not self.api:
                return 404, [("content-type", "text/plain")], b"404 page not found\n"
            return self._list(referrers["name"], referrers["digest"], path, query)
        if self.upstream is None:
            return self._local(method, path)
        return await self._forward(self.upstream, method, path, query, headers, bytes(body))

    def _list(
        self, name: str, digest: str, path: str, query: str
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        params = parse_qs(query)
        entries = self.referrers.get((name, digest), [])
        headers = [("content-type", OCI_INDEX)]
        wanted = params.get("artifactType", [None])[0]
        if wanted is not None and self.filtering:
            entries = [entry for entry in entries if entry.get("artifactType") == wanted]
            headers.append(("oci-filters-applied", "artifactType"))
        start = int(params.get("page", ["0"])[0]) * self.page_size
        page = entries[start : start + self.page_size]
        if start + self.page_size < len(entries):
            following = f"page={start // self.page_size + 1}"
            if wanted is not None:
                following = f"artifactType={quote(wanted, safe='')}&{following}"
            target = f"{path}?{following}"
            if self.link is not None:
                target = self.link(target)
            headers.append(("link", f'<{target}>; rel="next"'))
        document = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": page}
        return 200, headers, json.dumps(document).encode()

    def _local(self, method: str, path: str) -> tuple[int, list[tuple[str, str]], bytes]:
        match = _CONTENT.fullmatch(path)
        if match is None or method != "GET":
            return 404, [], b'{"errors":[{"code":"UNSUPPORTED"}]}'
        if match["kind"] == "blobs":
            blob = self.blobs.get(match["reference"])
            if blob is None:
                return 404, [], b'{"errors":[{"code":"BLOB_UNKNOWN"}]}'
            return 200, [("content-type", "application/octet-stream")], blob
        manifest = self.manifests.get((match["name"], match["reference"]))
        if manifest is None:
            return 404, [], b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}'
        try:
            media_type = json.loads(manifest).get("mediaType", OCI_MANIFEST)
        except ValueError:  # a test serving garbage on purpose
            media_type = OCI_MANIFEST
        return 200, [("content-type", str(media_type))], manifest

    async def _forward(
        self,
        upstream: str,
        method: str,
        path: str,
        query: str,
        headers: dict[str, str],
        body: bytes,
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        if self._client is None:
            context = ssl.create_default_context(cadata=self.upstream_ca_pem)
            self._client = httpx.AsyncClient(verify=context, trust_env=False)
        url = f"{upstream}{path}" + (f"?{query}" if query else "")
        sent = {k: v for k, v in headers.items() if k in _FORWARDED}
        reply = await self._client.request(method, url, headers=sent, content=body)
        # Upload locations name the upstream: made relative, the client keeps talking to us.
        answer = [
            (k, v.removeprefix(upstream) if k == "location" else v)
            for k, v in reply.headers.items()
            if k in _RETURNED
        ]
        pushed = _CONTENT.fullmatch(path)
        if (
            method == "PUT"
            and reply.status_code == 201
            and pushed
            and pushed["kind"] == "manifests"
        ):
            subject = json.loads(body).get("subject")
            if isinstance(subject, dict):  # a registry with the API records it, and says so
                key = (pushed["name"], subject["digest"])
                self.referrers.setdefault(key, []).append(index_entry(body))
                answer.append(("oci-subject", subject["digest"]))
        return reply.status_code, answer, reply.content
