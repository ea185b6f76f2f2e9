"""Which receivers hear about a decision, and the exact request each one gets (pure).

- A request that was denied, or that detection mode admitted although an image failed, goes
  to the ``rejectRequest`` receivers; any other decision about images goes to ``admitRequest``.
  Requests kenner does not validate (DELETE, objects being deleted, pods-only mode for other
  kinds) raise no alert.
- The messages are Connaisseur's, so receivers filtering on them keep working.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Literal

import attrs

from kenner.admission.decision import Decision
from kenner.admission.review import AdmissionRequest
from kenner.config.alert_templates import AlertValues, Template, images_text, render_payload
from kenner.config.model import AlertingConfig, AlertReceiver

Event = Literal["admit", "reject"]
ADMITTED_MESSAGE = "CONNAISSEUR admitted a request"
REJECTED_PREFIX = "CONNAISSEUR rejected a request: "
DETECTED_PREFIX = "CONNAISSEUR would have rejected a request (detection mode): "
_DENIAL_PREFIX = "kenner denied the request: "


@attrs.frozen
class PreparedAlert:
    """One rendered alert, ready to POST.

    ``receiver`` names it in logs and metrics without its URL or headers (they may hold
    tokens): ``<event>-<index>-<template>``, e.g. ``reject-0-slack``.
    """

    receiver: str
    event: Event
    must_succeed: bool  # failIfAlertSendingFails: awaited, and its failure denies
    url: str = attrs.field(repr=False)
    headers: tuple[tuple[str, str], ...] = attrs.field(repr=False)
    body: bytes


def alert_event(decision: Decision) -> Event | None:
    """The receivers a decision goes to, or None when it raises no alert."""
    denied_images = any(outcome.verdict == "deny" for outcome in decision.outcomes)
    if not decision.response.allowed or denied_images:
        return "reject"
    if decision.outcomes:
        return "admit"
    return None


def alert_message(event: Event, decision: Decision) -> str:
    """Connaisseur's wording, with kenner's reasons for a rejection."""
    if event == "admit":
        return ADMITTED_MESSAGE
    if decision.response.allowed:  # detection mode let failing images through
        reasons = [
            f"image {o.image!r}: {o.reason}" for o in decision.outcomes if o.verdict == "deny"
        ]
        return DETECTED_PREFIX + "; ".join(reasons)
    return REJECTED_PREFIX + decision.response.message.removeprefix(_DENIAL_PREFIX)


def timestamp_text(now: datetime.datetime) -> str:
    """RFC 3339 in UTC with milliseconds: ``2024-05-01T12:00:00.123Z``."""
    utc = now.astimezone(datetime.UTC)
    return utc.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def prepare_alerts(
    request: AdmissionRequest,
    decision: Decision,
    alerting: AlertingConfig,
    *,
    template: Callable[[str], Template],
    pod_id: str,
    now: datetime.datetime,
) -> tuple[PreparedAlert, ...]:
    """Render the alerts for one decision (none when it raises no alert or has no receivers).

    ``template`` returns the loaded template of a name (the caller caches them).

    Raises:
        TemplateError: a template cannot be loaded or rendered (it was checked when the
            configuration was loaded, so the file changed since).
    """
    event = alert_event(decision)
    if event is None:
        return ()
    receivers = alerting.admit_request if event == "admit" else alerting.reject_request
    if not receivers.receivers:
        return ()
    message = alert_message(event, decision)
    prepared = []
    for index, receiver in enumerate(receivers.receivers):
        values = AlertValues(
            alert_message=message,
            priority=receiver.priority,
            connaisseur_pod_id=pod_id,
            cluster=alerting.cluster_identifier,
            namespace=request.namespace,
            timestamp=timestamp_text(now),
            request_id=request.uid,
            images=images_text([outcome.image for outcome in decision.outcomes]),
        )
        body = render_payload(template(receiver.template), values, receiver.payload_fields)
        if body is None:
            continue  # an empty template: this receiver wants no alert
        prepared.append(
            PreparedAlert(
                receiver=f"{event}-{index}-{receiver.template}",
                event=event,
                must_succeed=receiver.fail_if_alert_sending_fails,
                url=receiver.receiver_url,
                headers=request_headers(receiver),
                body=body,
            )
        )
    return tuple(prepared)


def request_headers(receiver: AlertReceiver) -> tuple[tuple[str, str], ...]:
    """``Content-Type: application/json`` unless a custom header replaces it, then the rest."""
    custom = [
        tuple(part.strip() for part in line.split(":", 1)) for line in receiver.custom_headers
    ]
    names = {name.lower() for name, _ in custom}
    default = [] if "content-type" in names else [("Content-Type", "application/json")]
    return tuple((name, value) for name, value in [*default, *custom])
