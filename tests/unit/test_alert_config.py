"""The ``alerting:`` section in kenner's and Connaisseur's v2/v3 layouts, with located errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from kenner.config.errors import ConfigError
from kenner.config.load import load_config

BASE = """\
validators: [{name: allow, type: static, approve: true}]
policy: [{pattern: "*:*", validator: allow}]
"""


def _problems(text: str) -> list[tuple[str, int | None, str]]:
    with pytest.raises(ConfigError) as info:
        load_config(text)
    return [(p.path, p.line, p.message) for p in info.value.problems]


def test_kenner_layout() -> None:
    config = load_config(
        BASE
        + """\
server: {metricsListen: "127.0.0.1:9090"}
log: {accessLog: true}
alerting:
  clusterIdentifier: prod-eu
  sendTimeoutSeconds: 2
  rejectRequest:
    receivers:
      - template: opsgenie
        receiverUrl: https://api.eu.opsgenie.com/v2/alerts
        priority: 1
        customHeaders: ["Authorization: GenieKey abc"]
        payloadFields: {tags: [rejected]}
        failIfAlertSendingFails: true
"""
    )
    (receiver,) = config.alerting.reject_request.receivers
    assert config.alerting.cluster_identifier == "prod-eu"
    assert config.alerting.send_timeout_s == 2.0
    assert receiver.payload_fields == {"tags": ["rejected"]}
    assert receiver.fail_if_alert_sending_fails
    assert config.server.metrics_listen == "127.0.0.1:9090"
    assert config.log.access_log
    assert "abc" not in repr(config)  # header values and URLs stay out of reprs and logs


def test_connaisseur_v2_snake_case_alerting() -> None:
    config = load_config(
        BASE
        + """\
detectionMode: false
alerting:
  cluster_identifier: minikube
  admit_request:
    templates:
      - template: slack
        receiver_url: https://hooks.slack.com/services/123
        fail_if_alert_sending_fails: true
"""
    )
    (receiver,) = config.alerting.admit_request.receivers
    assert config.alerting.cluster_identifier == "minikube"
    assert receiver.template == "slack"
    assert receiver.priority == 3
    assert receiver.fail_if_alert_sending_fails


def test_connaisseur_v3_alerting_next_to_application() -> None:
    config = load_config(
        """\
application:
  validators: [{name: allow, type: static, approve: true}]
  policy: [{pattern: "*:*", validator: allow}]
alerting:
  admitRequest:
    receivers: [{template: keybase, receiverUrl: "https://bots.keybase.io/webhookbot/x"}]
"""
    )
    assert config.alerting.admit_request.receivers[0].template == "keybase"
    assert config.alerting.cluster_identifier == "not specified"


def test_errors_name_the_key_and_line() -> None:
    text = (
        BASE
        + """\
server: {metricsListen: "nope"}
alerting:
  sendTimeoutSeconds: 0
  admitRequest:
    receivers:
      - template: pagerduty
        receiverUrl: "ftp://example.com/x"
        priority: -1
        customHeaders: ["no colon", "Bad Name: x"]
        payloadFields: {when: 2024-01-01}
"""
    )
    receiver = "alerting.admitRequest.receivers[0]"
    assert _problems(text) == [
        ("server.metricsListen", 3, "must be HOST:PORT (port 0-65535), got 'nope'"),
        ("alerting.sendTimeoutSeconds", 5, "must be greater than 0"),
        (
            f"{receiver}.template",
            8,
            "no alert template 'pagerduty' among the shipped ones "
            "(ecs-1-12-0, keybase, msteams, opsgenie, slack)",
        ),
        (f"{receiver}.receiverUrl", 9, "must be an http:// or https:// URL"),
        (f"{receiver}.priority", 10, "must not be negative, got -1"),
        (f"{receiver}.customHeaders[0]", 11, "must be 'Name: value'"),
        (
            f"{receiver}.customHeaders[1]",
            11,
            "header name 'Bad Name' is not a valid HTTP header name",
        ),
        (
            f"{receiver}.payloadFields",
            12,
            "must be plain JSON values (Object of type date is not JSON serializable)",
        ),
    ]


def test_v2_alias_errors_use_the_source_spelling() -> None:
    text = BASE + "alerting:\n  admit_request:\n    templates: [{template: slack}]\n"
    assert _problems(text) == [
        ("alerting.admit_request.templates[0]", 5, "missing required key 'receiverUrl'")
    ]


def test_own_template_directory_is_checked(tmp_path: Path) -> None:
    directory = str(tmp_path)
    (tmp_path / "own.json").write_text('{"text": "{{ imagez }}"}')
    text = BASE + (
        f"alerting:\n  templateDir: {directory}\n"
        "  rejectRequest:\n    receivers: [{template: own, receiverUrl: 'http://127.0.0.1/x'}]\n"
    )
    ((path, _, message),) = _problems(text)
    assert path == "alerting.rejectRequest.receivers[0].template"
    assert message.startswith("template 'own' uses unknown variable 'imagez'")
