"""The watchdog: is kenner really protecting the cluster? Readiness says so, honestly.

Every ``watchdog.intervalSeconds`` (default 5) it checks, concurrently and each under its own
deadline, and records one readiness condition per check in ``DaemonState``:

- ``webhook`` (when ``kubernetes.enabled``): the MutatingWebhookConfiguration exists, points at
  this kenner and carries the CA of the certificate kenner serves. While it does not, and only
  within the bootstrap window after kenner started, a Running sentinel pod with the expected
  label stands in for it (installation order: kenner must be ready before its webhook exists).
  Every time the sentinel is honoured it is logged. An unreachable API means not ready.
- ``notary:<validator>`` (unless ``watchdog.notaryHealth`` is off): each notaryv1 validator's
  Notary answers ``/_notary_server/health`` with 200 within ``deadlines.fetchSeconds``.

A condition's change is logged once, when it happens, and sent to systemd as ``STATUS=``. The
settings are read from the current snapshot on every tick, so a reload takes effect at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, NoReturn

import attrs
import trio

from kenner.app.state import DaemonState
from kenner.config.model import Config, NotaryV1ValidatorConfig
from kenner.kube.client import KubeClient, KubeError, KubeNotFound, KubeUnavailable
from kenner.kube.webhook import WebhookTarget, webhook_problem
from kenner.net.errors import FetchError
from kenner.net.http import Fetchers
from kenner.sdnotify import Notifier

log = logging.getLogger(__name__)

WEBHOOK = "webhook"
NOTARY_PREFIX = "notary:"
HEALTH_PATH = "/_notary_server/health"
MAX_HEALTH_BYTES = 64 * 1024
WEBHOOK_API = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"

Result = tuple[bool, str]


@attrs.frozen
class Probes:
    """What the watchdog reads: the API (None when disabled), the certificate kenner serves
    (asked for on every tick, as renewals and reloads change it; ``serve`` re-reads the file
    only when its ``os.stat`` changes) and the connection pools for Notary."""

    kube: KubeClient | None
    serving_cert: Callable[[], bytes]
    fetchers: Fetchers


async def run_watchdog(
    state: DaemonState,
    probes: Probes,
    notifier: Notifier,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> NoReturn:
    """Check every interval until cancelled; ``started`` once the first round is recorded."""
    started_at = trio.current_time()
    await check_once(state, probes, notifier, trio.current_time() - started_at)
    task_status.started()
    while True:
        await trio.sleep(state.snapshot.config.watchdog.interval_s)
        await check_once(state, probes, notifier, trio.current_time() - started_at)


async def check_once(
    state: DaemonState, probes: Probes, notifier: Notifier, uptime_s: float
) -> None:
    """Run every check once, concurrently, and record the results."""
    config = state.snapshot.config
    results: dict[str, Result] = {}

    async def record(name: str, check: Callable[..., Awaitable[Result]], *args: Any) -> None:
        results[name] = await check(*args)

    async with trio.open_nursery() as nursery:
        if probes.kube is not None and config.kubernetes.enabled:
            nursery.start_soon(
                record, WEBHOOK, _webhook, probes.kube, config, probes.serving_cert, uptime_s
            )
        if config.watchdog.notary_health:
            for validator in config.validators:
                if isinstance(validator, NotaryV1ValidatorConfig):
                    name = NOTARY_PREFIX + validator.name
                    nursery.start_soon(record, name, _notary, probes.fetchers, validator, config)
    _record(state, notifier, results)


def _record(state: DaemonState, notifier: Notifier, results: Mapping[str, Result]) -> None:
    now = time.time()
    changed = False
    for name in [n for n in state.conditions if _owned(n) and n not in results]:
        del state.conditions[name]  # a validator removed by a reload, or a check turned off
        log.info("readiness condition dropped", extra={"fields": {"condition": name}})
        changed = True
    for name, (ok, detail) in sorted(results.items()):
        if state.set_condition(name, ok, detail, now):
            changed = True
            fields = {"condition": name, "ok": ok, "detail": detail, "ready": state.ready}
            level = logging.INFO if ok else logging.WARNING
            log.log(level, "readiness condition changed", extra={"fields": fields})
    if changed:
        notifier.send(f"STATUS={readiness_summary(state)}")


def _owned(name: str) -> bool:
    return name == WEBHOOK or name.startswith(NOTARY_PREFIX)


def readiness_summary(state: DaemonState) -> str:
    """One line for ``systemctl status``: ``ready`` or what is failing."""
    failing = [f"{name}: {c.detail}" for name, c in sorted(state.conditions.items()) if not c.ok]
    return "ready" if not failing else "not ready: " + "; ".join(failing)


async def _get(kube: KubeClient, path: str, deadline_s: float) -> Mapping[str, Any] | KubeError:
    """The object at ``path``, or the error (a missed deadline is ``KubeUnavailable``)."""
    with trio.move_on_after(deadline_s):
        try:
            return await kube.get_object(path)
        except KubeError as error:
            return error
    return KubeUnavailable(path, f"no answer within {deadline_s:g} s")


async def _webhook(
    kube: KubeClient, config: Config, serving_cert: Callable[[], bytes], uptime_s: float
) -> Result:
    settings = config.kubernetes
    name = settings.webhook.name
    target = WebhookTarget(settings.namespace, settings.webhook.service, settings.webhook.url)
    found = await _get(kube, f"{WEBHOOK_API}/{name}", settings.api_s)
    if isinstance(found, KubeNotFound):
        reason = f"MutatingWebhookConfiguration {name!r} does not exist"
    elif isinstance(found, KubeError):
        reason = str(found)
    else:
        try:
            problem = webhook_problem(found, target, serving_cert())
        except (OSError, ValueError) as error:
            problem = f"kenner's serving certificate cannot be read: {error}"
        if problem is None:
            return True, f"MutatingWebhookConfiguration {name!r} points at {target.describe()}"
        reason = f"MutatingWebhookConfiguration {name!r}: {problem}"
    sentinel = settings.sentinel
    if uptime_s > sentinel.window_s:
        return False, f"{reason} (bootstrap window of {sentinel.window_s:g} s is over)"
    path = f"/api/v1/namespaces/{settings.namespace}/pods/{sentinel.name}"
    pod = await _get(kube, path, settings.api_s)
    if isinstance(pod, KubeError):
        return False, f"{reason}; bootstrap sentinel: {pod}"
    refusal = _sentinel_refusal(pod, sentinel.label)
    if refusal is not None:
        return False, f"{reason}; bootstrap sentinel pod {sentinel.name!r} {refusal}"
    left_s = sentinel.window_s - uptime_s
    log.warning(
        "bootstrap sentinel honoured: ready without the webhook",
        extra={"fields": {"pod": f"{settings.namespace}/{sentinel.name}", "window_left_s": left_s}},
    )
    return True, f"{reason}; bootstrap sentinel pod {sentinel.name!r} is running (installing)"


def _sentinel_refusal(pod: Mapping[str, Any], label: str) -> str | None:
    """Why the sentinel pod does not count, or None when it does."""
    key, _, value = label.partition("=")
    metadata = pod.get("metadata")
    metadata = metadata if isinstance(metadata, Mapping) else {}
    labels = metadata.get("labels")
    if not isinstance(labels, Mapping) or labels.get(key) != value:
        return f"lacks the label {label}"
    if metadata.get("deletionTimestamp"):
        return "is being deleted"
    status = pod.get("status")
    phase = status.get("phase") if isinstance(status, Mapping) else None
    if phase != "Running":
        return f"is not Running (phase {phase!r})"
    return None


async def _notary(fetchers: Fetchers, validator: NotaryV1ValidatorConfig, config: Config) -> Result:
    url = validator.host + HEALTH_PATH
    deadline_s = config.deadlines.fetch_s
    with trio.move_on_after(deadline_s):
        try:
            await fetchers.for_ca_bundle(validator.cert).get(url, max_bytes=MAX_HEALTH_BYTES)
        except FetchError as error:
            return False, f"Notary health check failed: {error}"
        return True, f"Notary {validator.host} is healthy"
    return False, f"Notary {validator.host} did not answer {HEALTH_PATH} within {deadline_s:g} s"
