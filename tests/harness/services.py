"""The three real services: notary-signer, notary-server and docker-registry on 127.0.0.1.

notary-server keeps its server-managed timestamp/snapshot keys in notary-signer and talks to it
over gRPC with mutual TLS (``trust_service.type = remote``, ``key_algorithm = ecdsa``). Both use
memory storage: Debian's binaries have no SQLite driver, so trust data lives only as long as the
notary-server process does.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import attrs

from tests.harness import processes, web
from tests.harness.errors import HarnessError
from tests.harness.pki import TlsFiles, write_ca, write_leaf
from tests.harness.processes import Service

_READY_SECONDS = 30.0

SIGNER = "notary-signer"
SERVER = "notary-server"
REGISTRY = "registry"
#: Stop order: the server first (it holds connections to the signer), the signer last.
STOP_ORDER = (SERVER, REGISTRY, SIGNER)


@attrs.frozen
class StateLayout:
    """Where everything lives inside a state dir."""

    root: Path

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def ca_cert(self) -> Path:
        return self.pki / "ca.crt"

    @property
    def certs_d(self) -> Path:
        """CA directory in docker ``certs.d`` style, for ``skopeo --dest-cert-dir``."""
        return self.pki / "certs.d"

    @property
    def config(self) -> Path:
        return self.root / "config"

    @property
    def trust_dir(self) -> Path:
        return self.root / "trust"

    @property
    def keys(self) -> Path:
        return self.root / "keys"

    @property
    def oci_layout(self) -> Path:
        return self.root / "oci" / "layout"

    @property
    def registry_data(self) -> Path:
        return self.root / "data" / "registry"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def testbed_json(self) -> Path:
        return self.root / "testbed.json"

    def leaf(self, name: str) -> TlsFiles:
        return TlsFiles(cert=self.pki / f"{name}.crt", key=self.pki / f"{name}.key")


@attrs.frozen
class Ports:
    registry: int
    notary: int
    signer: int


def service_table(layout: StateLayout) -> dict[str, Service]:
    """How each service is run for this state dir (configs written by :func:`write_configs`)."""
    config = layout.config
    return {
        SIGNER: Service(
            SIGNER, "notary-signer", ("-config", str(config / "notary-signer.json")), layout.root
        ),
        REGISTRY: Service(
            REGISTRY,
            "docker-registry",
            ("serve", str(config / "registry.json")),
            layout.root,
        ),
        SERVER: Service(
            SERVER, "notary-server", ("-config", str(config / "notary-server.json")), layout.root
        ),
    }


def make_pki(layout: StateLayout) -> None:
    """CA plus one leaf per service; the CA is also copied into ``certs.d`` for skopeo."""
    layout.pki.mkdir(parents=True, exist_ok=True)
    ca, ca_key = write_ca(layout.pki, f"kenner test bed CA {layout.root.name}")
    for name in (SIGNER, SERVER, REGISTRY):
        write_leaf(layout.pki, name, ca, ca_key)
    layout.certs_d.mkdir(exist_ok=True)
    (layout.certs_d / "ca.crt").write_bytes(ca.cert.read_bytes())


def pick_ports() -> Ports:
    """Three distinct free loopback ports."""
    chosen: list[int] = []
    while len(chosen) < 3:
        port = web.free_port()
        if port not in chosen:
            chosen.append(port)
    return Ports(registry=chosen[0], notary=chosen[1], signer=chosen[2])


def write_configs(layout: StateLayout, ports: Ports) -> None:
    """Write the three service configs for the given ports."""
    layout.config.mkdir(parents=True, exist_ok=True)
    layout.registry_data.mkdir(parents=True, exist_ok=True)
    ca = str(layout.ca_cert)
    signer_tls, server_tls, registry_tls = (layout.leaf(n) for n in (SIGNER, SERVER, REGISTRY))
    signer = {
        "server": {
            "grpc_addr": f"127.0.0.1:{ports.signer}",
            "tls_cert_file": str(signer_tls.cert),
            "tls_key_file": str(signer_tls.key),
            "client_ca_file": ca,  # makes the signer require a client certificate
        },
        "logging": {"level": "info"},
        "storage": {"backend": "memory"},
    }
    server = {
        "server": {
            "http_addr": f"127.0.0.1:{ports.notary}",
            "tls_cert_file": str(server_tls.cert),
            "tls_key_file": str(server_tls.key),
        },
        "trust_service": {
            "type": "remote",
            "hostname": "127.0.0.1",
            "port": str(ports.signer),
            "key_algorithm": "ecdsa",
            "tls_ca_file": ca,
            "tls_client_cert": str(server_tls.cert),
            "tls_client_key": str(server_tls.key),
        },
        "logging": {"level": "info"},
        "storage": {"backend": "memory"},
    }
    # The registry reads YAML; JSON is YAML, so no YAML writer is needed.
    registry = {
        "version": "0.1",
        "log": {"level": "info"},
        "storage": {
            "filesystem": {"rootdirectory": str(layout.registry_data)},
            "delete": {"enabled": True},
            "maintenance": {"uploadpurging": {"enabled": False}},
        },
        "http": {
            "addr": f"127.0.0.1:{ports.registry}",
            "secret": secrets.token_hex(16),
            "tls": {"certificate": str(registry_tls.cert), "key": str(registry_tls.key)},
        },
    }
    for name, document in (
        ("notary-signer.json", signer),
        ("notary-server.json", server),
        ("registry.json", registry),
    ):
        (layout.config / name).write_text(json.dumps(document, indent=2) + "\n")


def read_ports(layout: StateLayout) -> Ports:
    """The ports recorded in the configs of an existing state dir."""

    def port_of(address: str) -> int:
        return int(address.rsplit(":", 1)[1])

    server = json.loads((layout.config / "notary-server.json").read_text())
    registry = json.loads((layout.config / "registry.json").read_text())
    return Ports(
        registry=port_of(registry["http"]["addr"]),
        notary=port_of(server["server"]["http_addr"]),
        signer=int(server["trust_service"]["port"]),
    )


def notary_health_url(ports: Ports) -> str:
    return f"https://127.0.0.1:{ports.notary}/_notary_server/health"


def registry_health_url(ports: Ports) -> str:
    return f"https://127.0.0.1:{ports.registry}/v2/"


def signer_ready(layout: StateLayout, ports: Ports) -> bool:
    client = layout.leaf(SERVER)
    return web.mtls_handshake_ok(ports.signer, layout.ca_cert, client.cert, client.key)


def start_signer(layout: StateLayout, ports: Ports) -> None:
    service = service_table(layout)[SIGNER]
    processes.spawn(service)
    processes.wait_ready(service, lambda: signer_ready(layout, ports), _READY_SECONDS)


def start_registry(layout: StateLayout, ports: Ports) -> None:
    service = service_table(layout)[REGISTRY]
    processes.spawn(service)
    url = registry_health_url(ports)
    processes.wait_ready(service, lambda: web.is_ok(url, layout.ca_cert), _READY_SECONDS)


def start_notary_server(layout: StateLayout, ports: Ports) -> None:
    """Start notary-server and wait for its health endpoint.

    Its health answer (``{}``) does not prove the signer works until its first periodic check,
    which is why the signer is probed separately with an mTLS handshake before this.
    """
    service = service_table(layout)[SERVER]
    if processes.running_pid(service) is not None:
        raise HarnessError(f"notary-server of {layout.root} is already running")
    processes.spawn(service)
    url = notary_health_url(ports)
    processes.wait_ready(service, lambda: web.is_ok(url, layout.ca_cert), _READY_SECONDS)


def start_all(layout: StateLayout, ports: Ports) -> None:
    """Start signer, registry and server; the caller stops everything if this raises."""
    start_signer(layout, ports)
    start_registry(layout, ports)
    start_notary_server(layout, ports)


def stop_all(layout: StateLayout) -> dict[str, int]:
    """Stop every service of the state dir by recorded PID; return name -> stopped PID."""
    table = service_table(layout)
    stopped: dict[str, int] = {}
    for name in STOP_ORDER:
        pid = processes.stop(table[name])
        if pid is not None:
            stopped[name] = pid
    return stopped


def stop_one(layout: StateLayout, name: str) -> int | None:
    """Stop one service of the state dir by recorded PID; return the PID if one was stopped."""
    return processes.stop(service_table(layout)[name])


def running_pids(layout: StateLayout) -> dict[str, int]:
    """name -> PID of the services of this state dir that are running now."""
    pids: dict[str, int] = {}
    for name, service in service_table(layout).items():
        pid = processes.running_pid(service)
        if pid is not None:
            pids[name] = pid
    return pids
