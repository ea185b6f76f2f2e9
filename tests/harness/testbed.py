"""Start, describe, reuse and stop a complete test bed in one state dir."""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import attrs
import cattrs

from tests.harness import build, services, web
from tests.harness.errors import HarnessError
from tests.harness.model import Case
from tests.harness.notary import NotaryClient
from tests.harness.oci import ImageLayout
from tests.harness.packages import ensure_packages
from tests.harness.registry import PushFormat, Registry, Served
from tests.harness.scenarios import REPO_PREFIX
from tests.harness.services import Ports, StateLayout

_MARKER = ".kenner-testbed"
_converter = cattrs.Converter()
_converter.register_unstructure_hook(Path, str)
_converter.register_structure_hook(Path, lambda value, _: Path(value))


@attrs.frozen
class Testbed:
    """A running test bed: real notary-server + notary-signer + registry on 127.0.0.1.

    Attributes:
        state_dir: Everything lives here (configs, PKI, logs, PIDs, trust dir, registry data).
        notary_url / notary_health_url: notary-server base URL and its health endpoint.
        registry_url / registry_host: ``https://127.0.0.1:PORT`` and ``127.0.0.1:PORT``.
        ca_cert_path / ca_pem: The CA every service certificate chains to.
        root_keys: Root public keys (PEM) by label: root-main, root-other, root-rotated.
        guns: Scenario name -> Notary GUN.
        cases: Every case with its expected outcome (empty for a services-only test bed).
    """

    __test__ = False  # a value, not a pytest test class

    state_dir: Path
    notary_url: str
    notary_health_url: str
    registry_url: str
    registry_host: str
    ca_cert_path: Path
    ca_pem: str
    root_keys: Mapping[str, str]
    guns: Mapping[str, str]
    cases: tuple[Case, ...]

    @property
    def _layout(self) -> StateLayout:
        return StateLayout(self.state_dir)

    @property
    def _notary(self) -> NotaryClient:
        return NotaryClient(
            self._layout.trust_dir, self.notary_url, self.ca_cert_path, _build_log(self._layout)
        )

    @property
    def _registry(self) -> Registry:
        layout = self._layout
        return Registry(self.registry_host, self.ca_cert_path, layout.certs_d, _build_log(layout))

    def case(self, case_id: str) -> Case:
        """The case with this id (see ``CASE_IDS``)."""
        for case in self.cases:
            if case.id == case_id:
                return case
        raise KeyError(f"no test bed case {case_id!r} in {self.state_dir}")

    def pids(self) -> dict[str, int]:
        """Service name -> PID of this test bed's running services."""
        return services.running_pids(self._layout)

    def is_healthy(self) -> bool:
        """All three services run and notary-server and the registry answer 200."""
        return (
            len(self.pids()) == len(services.STOP_ORDER)
            and web.is_ok(self.notary_health_url, self.ca_cert_path)
            and web.is_ok(f"{self.registry_url}/v2/", self.ca_cert_path)
        )

    def notary_cmd(self, *args: str, stdin: bytes = b"") -> str:
        """Run the real notary client with this test bed's trust dir, server and passphrases."""
        return self._notary.run(*args, stdin=stdin)

    def push_image(self, name: str, scenario: str, tag: str, fmt: PushFormat = "v2s2") -> Served:
        """Build image ``name`` (deterministic) and push it to ``kenner-test/<scenario>:tag``."""
        layout = ImageLayout(self._layout.oci_layout)
        layout.add_image(name)
        return self._registry.push(layout, name, f"{REPO_PREFIX}/{scenario}", tag, fmt)

    def sign_tag(
        self, gun: str, tag: str, digest: str, size: int, roles: Sequence[str] = ()
    ) -> None:
        """Sign ``tag`` = (sha256 digest, size) in ``gun`` (``addhash`` + publish), like
        ``docker push`` with content trust; ``roles`` signs into delegations instead."""
        self._notary.add_hash(gun, tag, digest, size, roles, publish=True)

    def stop_notary_server(self) -> int | None:
        """Stop notary-server by PID (for "Notary down" tests); returns the stopped PID.

        Storage is in memory: once stopped, every GUN's trust data is gone for good, even after
        :meth:`start_notary_server`. Disruptive tests use a test bed of their own.
        """
        return services.stop_one(self._layout, services.SERVER)

    def start_notary_server(self) -> None:
        """Start notary-server again on the same port and wait until it is healthy."""
        services.start_notary_server(self._layout, services.read_ports(self._layout))

    def stop(self) -> dict[str, int]:
        """Stop every service by recorded PID (TERM, then KILL); returns name -> PID."""
        return services.stop_all(self._layout)

    def to_json(self) -> dict[str, object]:
        document: dict[str, object] = _converter.unstructure(self)
        return document


def _build_log(layout: StateLayout) -> Path:
    return layout.logs / "build.log"


def load_testbed(state_dir: Path) -> Testbed | None:
    """The test bed described in ``state_dir`` if it is complete and healthy, else None."""
    layout = StateLayout(state_dir.resolve())
    if not (layout.root / _MARKER).exists() or not layout.testbed_json.exists():
        return None
    testbed = _converter.structure(json.loads(layout.testbed_json.read_text()), Testbed)
    return testbed if testbed.is_healthy() else None


def start_testbed(state_dir: Path, with_scenarios: bool = True) -> Testbed:
    """Start a test bed in ``state_dir`` (created if needed), or return the one running there
    (as it is, whatever ``with_scenarios`` says).

    With ``with_scenarios=False`` only the services start (about a second): for tests that
    stop notary-server or otherwise disturb it. A stale state dir of ours is wiped and rebuilt;
    if start-up fails half-way, everything started is stopped before the error propagates.

    Raises:
        TestbedUnavailable: the packages are missing and cannot be installed here.
        HarnessError: a service or tool failed, or ``state_dir`` holds foreign files.
    """
    ensure_packages()
    layout = StateLayout(state_dir.resolve())
    running = load_testbed(layout.root)
    if running is not None:
        return running
    _prepare_state_dir(layout)
    try:
        testbed = _start(layout, with_scenarios)
    except BaseException:
        services.stop_all(layout)
        raise
    layout.testbed_json.write_text(json.dumps(testbed.to_json(), indent=2) + "\n")
    return testbed


@contextlib.contextmanager
def running_testbed(state_dir: Path, with_scenarios: bool = True) -> Iterator[Testbed]:
    """:func:`start_testbed` for a ``with`` block; stops the services on exit."""
    testbed = start_testbed(state_dir, with_scenarios)
    try:
        yield testbed
    finally:
        testbed.stop()


def _prepare_state_dir(layout: StateLayout) -> None:
    root = layout.root
    root.mkdir(parents=True, exist_ok=True)
    marker = root / _MARKER
    if marker.exists():
        services.stop_all(layout)  # stale or half-started: stop leftovers, then start afresh
        for entry in root.iterdir():
            if entry != marker:
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    elif any(root.iterdir()):
        raise HarnessError(f"{root} is not empty and is not a test bed state dir (no {_MARKER})")
    marker.write_text("kenner test bed state dir (tests/harness)\n")
    layout.logs.mkdir()


def _start(layout: StateLayout, with_scenarios: bool) -> Testbed:
    services.make_pki(layout)
    ports: Ports = services.pick_ports()
    services.write_configs(layout, ports)
    services.start_all(layout, ports)
    roots = build.make_root_keys(layout.keys)
    registry_host = f"127.0.0.1:{ports.registry}"
    notary_url = f"https://127.0.0.1:{ports.notary}"
    root_pems = {label: key.public_pem for label, key in roots.items()}
    cases: tuple[Case, ...] = ()
    guns: dict[str, str] = {}
    if with_scenarios:
        registry = Registry(registry_host, layout.ca_cert, layout.certs_d, _build_log(layout))
        notary = NotaryClient(layout.trust_dir, notary_url, layout.ca_cert, _build_log(layout))
        notary.write_config()
        builder = build.ScenarioBuilder(
            registry,
            notary,
            ImageLayout(layout.oci_layout),
            roots,
            build.make_delegation_keys(layout.keys),
        )
        served = builder.build_all()
        cases = build.resolve_cases(registry_host, served, root_pems)
        guns = {case.scenario: case.gun for case in cases}
    else:
        NotaryClient(
            layout.trust_dir, notary_url, layout.ca_cert, _build_log(layout)
        ).write_config()
    return Testbed(
        state_dir=layout.root,
        notary_url=notary_url,
        notary_health_url=services.notary_health_url(ports),
        registry_url=f"https://{registry_host}",
        registry_host=registry_host,
        ca_cert_path=layout.ca_cert,
        ca_pem=layout.ca_cert.read_text(),
        root_keys=root_pems,
        guns=guns,
        cases=cases,
    )


def stop_state_dir(state_dir: Path) -> dict[str, int]:
    """Stop whatever services of ours run for ``state_dir`` (no testbed.json needed)."""
    layout = StateLayout(state_dir.resolve())
    if not (layout.root / _MARKER).exists():
        raise HarnessError(f"{layout.root} is not a test bed state dir (no {_MARKER})")
    return services.stop_all(layout)
