"""GET single objects from the Kubernetes API over httpx (trio), with typed errors.

The caller owns every deadline (``trio.move_on_after`` around a call); the httpx timeout is only
a backstop against a peer that stalls forever. Failures leave as ``KubeError`` subclasses that
name the API path and the reason, never as httpx or ssl exceptions, so callers can treat them
as values: the watchdog turns them into "not ready", child approval into "validate in full".
The client is built by ``kenner.net.clients`` with the ``KUBE_API`` policy: https only,
redirects not followed.

Only canonical paths are sent (``/seg/seg/...``, each segment of letters, digits, ``.``, ``_``
and ``-``, none ``.`` or ``..``): httpx would resolve a ``..`` before sending, and an escaped
``%2F`` or ``%2e%2e`` is for the API server to decode, so either could reach another object.
Callers build paths with ``kenner.admission.kube_names.object_path``, which checks the names
first; this check is the backstop that refuses anything else without a request.

The bearer token file is read again whenever its modification time or size changes: the
kubelet rotates projected service account tokens in place.
"""

from __future__ import annotations

import json
import os
import re
import ssl
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import httpx

from kenner.errors import KennerError
from kenner.kube.access import ClusterAccess, KubeAccessError
from kenner.net.clients import (
    KUBE_API,
    CaBundleError,
    build_client,
    describe_failure,
    tls_context,
)
from kenner.net.closing import AsyncClosing

MAX_OBJECT_BYTES = 8 * 1024 * 1024
_CANONICAL_PATH = re.compile(r"(?:/[A-Za-z0-9._-]+)+")


class KubeError(KennerError):
    """An API call failed: ``path`` names the object, ``reason`` says why."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"Kubernetes API {path}: {reason}")


class KubeNotFound(KubeError):
    """The API answered 404: the object does not exist."""


class KubeForbidden(KubeError):
    """The API answered 401 or 403: kenner's credentials do not allow this read."""


class KubeBadPath(KubeError):
    """The path is not canonical (see the module docstring); nothing was sent."""


class KubeUnavailable(KubeError):
    """No usable answer: connection, TLS, an unexpected status or a body that is not an object."""


@attrs.define
class _TokenFile:
    path: str
    _stamp: tuple[int, int] | None = None
    _token: str = attrs.field(default="", repr=False)

    def current(self) -> str:
        try:
            info = os.stat(self.path)
            stamp = (info.st_mtime_ns, info.st_size)
            if stamp != self._stamp:
                self._token = Path(self.path).read_text("utf-8").strip()
                self._stamp = stamp
        except (OSError, UnicodeDecodeError) as error:
            # Keep using the last token: a rotation in progress must not break calls.
            if not self._token:
                raise KubeUnavailable("(token)", f"cannot read {self.path}: {error}") from None
        return self._token


class KubeClient(AsyncClosing):
    """Reads objects from one API server. Close it with ``aclose`` (or ``async with``)."""

    def __init__(
        self, access: ClusterAccess, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        """A client for ``access``.

        Raises:
            KubeAccessError: the CA bundle or the client certificate cannot be loaded.
        """
        self.access = access
        self._token_file = _TokenFile(access.token_file) if access.token_file else None
        self._client = build_client(
            KUBE_API,
            tls=_tls(access),
            transport=transport,
            base_url=access.server,
            headers={"Accept": "application/json"},
        )

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    async def get_object(self, path: str) -> Mapping[str, Any]:
        """GET ``path`` (e.g. ``/api/v1/namespaces/ns/pods/name``) and return the JSON object.

        Raises:
            KubeNotFound: HTTP 404.
            KubeForbidden: HTTP 401 or 403.
            KubeUnavailable: anything else that is not a 200 with a JSON object.
            KubeBadPath: ``path`` is not canonical (nothing is sent).
        """
        _check_path(path)
        headers = {}
        token = self._token_file.current() if self._token_file else self.access.token
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            response = await self._client.get(path, headers=headers)
        except httpx.LocalProtocolError:
            # h11 quotes the offending header value, which may be the token: drop it.
            raise KubeUnavailable(path, "the request could not be sent (invalid header)") from None
        except Exception as error:  # httpx's stack raises more than httpx.HTTPError: all are
            # "no usable answer"; callers then validate in full or deny, they never allow.
            raise KubeUnavailable(path, describe_failure(error)) from error
        if response.status_code == 404:
            raise KubeNotFound(path, "not found (HTTP 404)")
        if response.status_code in (401, 403):
            raise KubeForbidden(path, f"{_status_message(response)} (HTTP {response.status_code})")
        if response.status_code != 200:
            raise KubeUnavailable(path, f"unexpected HTTP status {response.status_code}")
        if len(response.content) > MAX_OBJECT_BYTES:
            raise KubeUnavailable(path, f"the object exceeds {MAX_OBJECT_BYTES} bytes")
        try:
            body = json.loads(response.content)
        except ValueError:
            raise KubeUnavailable(path, "the answer is not JSON") from None
        if not isinstance(body, dict):
            raise KubeUnavailable(path, "the answer is not a JSON object")
        return body


def _check_path(path: str) -> None:
    if _CANONICAL_PATH.fullmatch(path) is None or any(
        segment in (".", "..") for segment in path.split("/")
    ):
        shown = repr(path[:200]) + ("..." if len(path) > 200 else "")
        raise KubeBadPath(shown, "not a canonical API path; nothing was sent")


def _tls(access: ClusterAccess) -> ssl.SSLContext:
    try:
        context = tls_context(access.ca_pem)
    except CaBundleError as error:
        raise KubeAccessError(f"{access.source}: {error}") from None
    if access.client_cert_pem and access.client_key_pem:
        _load_client_certificate(context, access)
    return context


def _load_client_certificate(context: ssl.SSLContext, access: ClusterAccess) -> None:
    # ssl loads certificates only from files: a private directory that is removed at once.
    assert access.client_cert_pem is not None
    assert access.client_key_pem is not None
    with tempfile.TemporaryDirectory(prefix="kenner-kube-") as folder:
        cert, key = Path(folder) / "client.crt", Path(folder) / "client.key"
        cert.write_text(access.client_cert_pem)
        key.touch(mode=0o600)
        key.write_text(access.client_key_pem)
        try:
            context.load_cert_chain(cert, key)
        except (ssl.SSLError, OSError) as error:
            message = f"{access.source}: the client certificate and key cannot be loaded: {error}"
            raise KubeAccessError(message) from None


def _status_message(response: httpx.Response) -> str:
    """The ``message`` of a Kubernetes ``Status`` body, or a generic word."""
    try:
        status = json.loads(response.content)
    except ValueError:
        return "not authorised"
    message = status.get("message") if isinstance(status, dict) else None
    return str(message)[:300] if message else "not authorised"
