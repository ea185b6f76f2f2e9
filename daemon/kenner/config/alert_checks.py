"""Checks of the ``alerting:`` section: receivers, URLs, headers, and each template rendered.

Templates are loaded and rendered with sample values here, so a missing or broken template
is refused when the configuration is loaded (and on reload), not when the first alert is due.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from urllib.parse import urlsplit

from kenner.config.alert_templates import TemplateError, load_template
from kenner.config.model import AlertingConfig, AlertReceiver
from kenner.config.source import KeyPath

Report = Callable[[KeyPath, str], None]

# RFC 9110 token characters: what an HTTP header name may consist of.
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
EVENTS = ("admitRequest", "rejectRequest")


def check_alerting(alerting: AlertingConfig, report: Report) -> None:
    """Report every problem of ``alerting`` at its kenner-layout key path."""
    if alerting.send_timeout_s <= 0:
        report(("alerting", "sendTimeoutSeconds"), "must be greater than 0")
    if not alerting.cluster_identifier:
        report(("alerting", "clusterIdentifier"), "must not be empty")
    for event, receivers in zip(
        EVENTS, (alerting.admit_request.receivers, alerting.reject_request.receivers), strict=True
    ):
        for index, receiver in enumerate(receivers):
            path: KeyPath = ("alerting", event, "receivers", index)
            _check_receiver(receiver, path, alerting.template_dir, report)


def _check_receiver(
    receiver: AlertReceiver, path: KeyPath, template_dir: str | None, report: Report
) -> None:
    try:
        load_template(receiver.template, template_dir).check()
    except TemplateError as error:
        report((*path, "template"), str(error))
    url_problem = receiver_url_problem(receiver.receiver_url)
    if url_problem:
        report((*path, "receiverUrl"), url_problem)
    if receiver.priority < 0:
        report((*path, "priority"), f"must not be negative, got {receiver.priority}")
    for index, header in enumerate(receiver.custom_headers):
        problem = header_problem(header)
        if problem:
            report((*path, "customHeaders", index), problem)
    try:
        json.dumps(receiver.payload_fields)
    except (TypeError, ValueError) as error:
        report((*path, "payloadFields"), f"must be plain JSON values ({error})")


def receiver_url_problem(url: str) -> str | None:
    """Why ``url`` cannot receive alerts, or None. The URL itself is not repeated: webhook
    URLs often carry a token in their path."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a malformed port
    except ValueError as error:
        return f"not a valid URL: {error}"
    if parts.scheme not in ("http", "https"):
        return "must be an http:// or https:// URL"
    if not parts.hostname:
        return "must name a host"
    return None


def header_problem(header: str) -> str | None:
    """Why ``header`` is not a ``Name: value`` line, or None. The value is never repeated."""
    name, colon, value = header.partition(":")
    if not colon:
        return "must be 'Name: value'"
    if not _HEADER_NAME.fullmatch(name.strip()) or name != name.strip():
        return f"header name {name.strip()!r} is not a valid HTTP header name"
    if any(char in value for char in "\r\n\0"):
        return f"the value of header {name!r} contains a line break or NUL"
    if not value.isascii():  # the HTTP client sends header values as ASCII, else it raises
        return f"the value of header {name!r} must be ASCII only"
    return None
