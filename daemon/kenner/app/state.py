"""What the running daemon knows: the current configuration snapshot and its readiness.

Rules: a request reads one ``Snapshot`` from start to end, never the daemon's current one
again, so a reload in its middle changes nothing it sees. The ``DaemonState`` is the one
mutable object the server, the signal handler and the watchdog share; only the event loop's
tasks touch it. This module sits in the ``app`` layer so that the pipeline can read a
snapshot without importing ``kenner.server``.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Mapping

import attrs

from kenner.admission.policy import PolicyIndex
from kenner.admission.proof import ProofKey, Prover
from kenner.alerting.sender import AlertDispatcher
from kenner.config.model import Config
from kenner.kube.client import KubeClient
from kenner.metrics import Metrics
from kenner.validators.driver import Driven


@attrs.frozen
class Snapshot:
    """A configuration with the validators built from it.

    A reload builds a new snapshot and swaps one reference; requests in flight keep the
    snapshot they started with. The daemon's ``validators`` is a ``BuiltValidators``, which
    records what each validator was built from: the next reload keeps (shares with this
    snapshot) every validator whose inputs did not change, with its caches.
    """

    config: Config
    validators: Mapping[str, Driven]
    policy: PolicyIndex = attrs.field(
        default=attrs.Factory(lambda self: PolicyIndex(self.config.policy), takes_self=True)
    )
    kube: KubeClient | None = None  # the Kubernetes API, when kubernetes.enabled
    # Proofs under this snapshot's policy hash (computed once here) and key.
    prover: Prover = attrs.field(
        default=attrs.Factory(lambda self: _prover(self.config), takes_self=True)
    )


@functools.cache
def process_proof_key() -> ProofKey:
    """The random proof key of this process, used while no ``proof.keyFile`` is configured."""
    return ProofKey.random()


def _prover(config: Config) -> Prover:
    key_file = config.proof.key_file
    key = process_proof_key() if key_file is None else ProofKey(key_file.secret)
    return Prover.for_config(config, key)


@attrs.define
class Condition:
    """One readiness condition: whether it holds, why, and since when (Unix time)."""

    ok: bool
    detail: str
    since: float


@attrs.define
class DaemonState:
    """Mutable, shared by the web app, the signal handler and (later) the watchdog."""

    snapshot: Snapshot
    conditions: dict[str, Condition] = attrs.Factory(dict)
    metrics: Metrics = attrs.Factory(Metrics)  # this daemon's own registry
    alerts: AlertDispatcher | None = None  # set while the alert sender runs

    def __attrs_post_init__(self) -> None:
        self.metrics.watch_daemon(
            conditions=lambda: {name: c.ok for name, c in self.conditions.items()},
            validators=lambda: self.snapshot.validators,
        )

    @property
    def ready(self) -> bool:
        """Ready when every readiness condition holds."""
        return all(condition.ok for condition in self.conditions.values())

    def set_condition(self, name: str, ok: bool, detail: str, now: float) -> bool:
        """Record a condition; returns True when its state changed (callers log changes)."""
        current = self.conditions.get(name)
        if current is not None and current.ok == ok:
            current.detail = detail
            return False
        self.conditions[name] = Condition(ok, detail, now)
        return True

    def readiness_report(self) -> Mapping[str, object]:
        """The JSON body of ``/ready``."""
        return {
            "ready": self.ready,
            "conditions": {
                name: {"ok": c.ok, "detail": c.detail, "since": _iso(c.since)}
                for name, c in sorted(self.conditions.items())
            },
        }


def _iso(unix_time: float) -> str:
    moment = datetime.datetime.fromtimestamp(unix_time, datetime.UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
