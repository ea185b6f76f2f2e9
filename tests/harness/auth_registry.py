"""A real docker-registry on 127.0.0.1 that requires authentication, with a CA of its own.

Started per test, independent of the Notary test bed: its own state dir with its own CA (so a
test can also prove per-registry CAs), filesystem storage that tests fill byte-exactly with
``tests.support.registry_storage.RegistryStorage``, and an ``auth:`` section in its config:

* :func:`htpasswd_auth`: basic authentication against a bcrypt htpasswd file written with
  Debian's ``htpasswd`` (apache2-utils, installed with apt-get when root);
* :func:`token_auth`: the Docker token flow; the registry trusts JWTs whose signing
  certificate chains to ``rootcertbundle`` (see ``tests.support.token_server``).

The process is spawned and stopped by recorded PID (``tests.harness.processes``).
"""

from __future__ import annotations

import json
import secrets
import urllib.error
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs

from tests.harness import commands, processes, web
from tests.harness.packages import ensure_packages
from tests.harness.pki import write_ca, write_leaf
from tests.harness.processes import Service

_READY_SECONDS = 30.0
_PROBE_SECONDS = 1.0
REGISTRY_PACKAGES = {"docker-registry": ("docker-registry",)}
HTPASSWD_PACKAGES = {"apache2-utils": ("htpasswd",)}


@attrs.frozen
class AuthRegistry:
    """A running registry requiring authentication."""

    host: str  # 127.0.0.1:PORT
    ca_pem: str  # its own CA: what a client must trust to reach it
    storage_root: Path  # storage.filesystem.rootdirectory
    service: Service

    @property
    def url(self) -> str:
        return f"https://{self.host}"


def htpasswd_auth(state_dir: Path, users: Mapping[str, str]) -> dict[str, Any]:
    """The ``auth:`` section for basic authentication of ``users`` (name -> password).

    Raises:
        TestbedUnavailable: ``htpasswd`` is missing and cannot be installed (not root).
        HarnessError: ``htpasswd`` failed.
    """
    ensure_packages(HTPASSWD_PACKAGES)
    path = state_dir / "htpasswd"
    state_dir.mkdir(parents=True, exist_ok=True)
    log = state_dir / "htpasswd.log"
    for index, (user, password) in enumerate(users.items()):
        # -B: bcrypt, the only hash distribution accepts; -i: password on stdin, not in argv.
        create = ["-c"] if index == 0 else []
        commands.run(
            ["htpasswd", "-B", "-i", *create, str(path), user], log, stdin=password.encode()
        )
    return {"htpasswd": {"realm": "kenner-test", "path": str(path)}}


def token_auth(realm: str, service: str, issuer: str, root_cert_bundle: Path) -> dict[str, Any]:
    """The ``auth:`` section for the token flow with the given token server."""
    return {
        "token": {
            "realm": realm,
            "service": service,
            "issuer": issuer,
            "rootcertbundle": str(root_cert_bundle),
        }
    }


@contextmanager
def running_auth_registry(state_dir: Path, auth: Mapping[str, Any]) -> Iterator[AuthRegistry]:
    """A registry with the given ``auth:`` section for the duration of the block.

    Raises:
        TestbedUnavailable: docker-registry is missing and cannot be installed.
        HarnessError: it did not start (the message has its log tail).
    """
    ensure_packages(REGISTRY_PACKAGES)
    registry = _prepare(state_dir, auth)
    processes.spawn(registry.service)
    try:
        processes.wait_ready(registry.service, lambda: _challenges(registry), _READY_SECONDS)
        yield registry
    finally:
        processes.stop(registry.service)


def _prepare(state_dir: Path, auth: Mapping[str, Any]) -> AuthRegistry:
    pki, config_dir, storage = state_dir / "pki", state_dir / "config", state_dir / "data"
    for folder in (pki, config_dir, storage):
        folder.mkdir(parents=True, exist_ok=True)
    ca, ca_key = write_ca(pki, f"kenner auth registry CA {state_dir.name}")
    leaf = write_leaf(pki, "registry", ca, ca_key)
    host = f"127.0.0.1:{web.free_port()}"
    config = {
        "version": "0.1",
        "log": {"level": "info"},
        "storage": {
            "filesystem": {"rootdirectory": str(storage)},
            "maintenance": {"uploadpurging": {"enabled": False}},
        },
        "http": {
            "addr": host,
            "secret": secrets.token_hex(16),
            "tls": {"certificate": str(leaf.cert), "key": str(leaf.key)},
        },
        "auth": dict(auth),
    }
    config_file = config_dir / "registry.json"  # JSON is YAML: no YAML writer needed
    config_file.write_text(json.dumps(config, indent=2) + "\n")
    service = Service("registry", "docker-registry", ("serve", str(config_file)), state_dir)
    return AuthRegistry(host, ca.cert.read_text(), storage, service)


def _challenges(registry: AuthRegistry) -> bool:
    # Ready when /v2/ answers with an authentication challenge (an open registry says 200).
    try:
        answer = web.get(f"{registry.url}/v2/", _ca_file(registry), seconds=_PROBE_SECONDS)
    except (OSError, urllib.error.URLError):
        return False
    return answer.status == 401 and "www-authenticate" in answer.headers


def _ca_file(registry: AuthRegistry) -> Path:
    return registry.service.state_dir / "pki" / "ca.crt"
