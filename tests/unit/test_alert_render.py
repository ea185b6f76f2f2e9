"""Alert templates: Connaisseur's fixture templates render to its expected payloads, values are
JSON-escaped, the shipped templates have the shapes receivers expect, events pick receivers."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest

from kenner.admission.decision import Decision, ImageOutcome
from kenner.admission.review import AdmissionRequest, AdmissionResponse, parse_review
from kenner.alerting.events import (
    ADMITTED_MESSAGE,
    alert_event,
    alert_message,
    prepare_alerts,
    timestamp_text,
)
from kenner.config.alert_templates import (
    AlertValues,
    Template,
    TemplateError,
    images_text,
    load_template,
    render_payload,
    shipped_template_names,
)
from kenner.config.model import AlertEvent, AlertingConfig, AlertReceiver
from tests.shared import connaisseur_fixtures

ALICE = "docker.io/securesystemsengineering/alice-image:test"
NOW = datetime.datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=datetime.UTC)


def _values(**changes: object) -> AlertValues:
    values: dict[str, object] = dict.fromkeys(
        ("alert_message", "connaisseur_pod_id", "cluster", "namespace", "timestamp", "request_id"),
        "",
    )
    values.update(priority=0, images="")
    values.update(changes)
    return AlertValues(**values)  # type: ignore[arg-type]


def _fixture_template(relative: str) -> Template:
    path = connaisseur_fixtures() / "alert_templates" / relative
    return Template(path.stem, path.read_text(encoding="utf-8"))


def test_go_simple_template_renders_exactly() -> None:
    body = render_payload(
        _fixture_template("go_tests/06_template.json"), _values(connaisseur_pod_id="1"), {}
    )
    assert body == b'{"name":"connaisseur_pod_id","value":"1"}'


def test_go_opsgenie_with_payload_fields_renders_exactly() -> None:
    values = _values(
        alert_message="test1",
        images="test2",
        connaisseur_pod_id="test3",
        timestamp="1970-01-01T00:00:00Z",
        cluster="test4",
        namespace="test5",
        request_id="test6",
        priority=7,
    )
    fields = {"responders": ["test8"], "visibleTo": ["test9"], "tags": ["test10"]}
    body = render_payload(_fixture_template("go_tests/07_opsgenie.json"), values, fields)
    assert body == (
        b'{"actions":[],"alias":"test1 while deploying the images test2.","description":"test1 '
        b"while deploying the following images:\\n test2 \\n\\n Please check the logs of the "
        b'`test3` for more details.","details":{"alert_created":"1970-01-01T00:00:00Z",'
        b'"cluster":"test4","namespace":"test5","pod":"test3","request_id":"test6"},'
        b'"entity":"Connaisseur","message":"test1","priority":"P7","responders":["test8"],'
        b'"tags":["test10"],"visibleTo":["test9"]}'
    )


def test_go_empty_template_sends_nothing_and_single_braces_are_text() -> None:
    assert render_payload(_fixture_template("go_tests/09_empty.json"), _values(), {}) is None
    single = render_payload(_fixture_template("go_tests/16_single_bracket.json"), _values(), {})
    assert single == b'{"prio":"{ priority }"}'


def test_go_send_notification_body_for_an_admission() -> None:
    values = _values(alert_message=ADMITTED_MESSAGE, cluster="test")
    body = render_payload(_fixture_template("go_tests/12_send_notif_test.json"), values, {})
    assert body == b'{"cluster":"test","message":"CONNAISSEUR admitted a request"}'


def _python_config_receiver(event: str, index: int) -> AlertReceiver:
    config = json.loads(
        (
            connaisseur_fixtures() / "alert_templates/python_v2.8.1_tests/alertconfig.json"
        ).read_text()
    )
    receiver = config[event]["templates"][index]
    return AlertReceiver(
        template=receiver["template"],
        receiver_url=receiver["receiver_url"],
        priority=receiver.get("priority", 3),
        custom_headers=tuple(receiver.get("custom_headers", ())),
        payload_fields=receiver.get("payload_fields", {}),
        fail_if_alert_sending_fails=receiver.get("fail_if_alert_sending_fails", False),
    )


def _alice_admitted(fixtures: Path) -> tuple[AdmissionRequest, Decision]:
    request = parse_review(
        (fixtures / "admission_reviews/ad_request_deployments.json").read_bytes()
    )
    outcome = ImageOutcome(ALICE, "docker.io/securesystemsengineering/*", "dockerhub", "allow", "")
    return request, Decision(AdmissionResponse(True), (outcome,))


def test_python_opsgenie_render_for_the_deployment_fixture() -> None:
    fixtures = connaisseur_fixtures()
    request, decision = _alice_admitted(fixtures)
    receiver = _python_config_receiver("admit_request", 0)
    alerting = AlertingConfig(
        cluster_identifier="minikube", admit_request=AlertEvent((receiver, receiver))
    )
    template = _fixture_template("python_v2.8.1_tests/opsgenie.json")
    (alert, _) = prepare_alerts(
        request,
        decision,
        alerting,
        template=lambda name: template,
        pod_id="connaisseur-pod-123",
        now=NOW,
    )
    assert alert.must_succeed
    assert alert.url == "https://api.eu.opsgenie.com/v2/alerts"
    assert dict(alert.headers) == {
        "Content-Type": "application/json",
        "Authorization": "GenieKey <Your-Genie-Key>",
    }
    user = {"type": "user", "username": "testuser@testcompany.de"}
    images = f"['{ALICE}']"
    assert json.loads(alert.body) == {
        "message": "CONNAISSEUR admitted a request",
        "alias": f"CONNAISSEUR admitted a request to deploy the images {images}.",
        "description": "CONNAISSEUR admitted a request to deploy the following images:\n "
        f"{images} \n\n Please check the logs of the `connaisseur-pod-123` for more details.",
        "responders": [user],
        "visibleTo": [user],
        "actions": [],
        "tags": ["image_deployed"],
        "details": {
            "pod": "connaisseur-pod-123",
            "cluster": "minikube",
            "alert_created": "2024-05-01T12:00:00.123Z",
            "request_id": "3a3a7b38-5512-4a85-94bb-3562269e0a6a",
        },
        "entity": "Connaisseur",
        "priority": "P4",
    }


def test_python_slack_render_has_the_expected_text_prefix() -> None:
    fixtures = connaisseur_fixtures()
    request, decision = _alice_admitted(fixtures)
    receiver = _python_config_receiver("admit_request", 1)
    template = _fixture_template("python_v2.8.1_tests/slack.json")
    (alert,) = prepare_alerts(
        request,
        decision,
        AlertingConfig(cluster_identifier="minikube", admit_request=AlertEvent((receiver,))),
        template=lambda name: template,
        pod_id="connaisseur-pod-123",
        now=NOW,
    )
    assert not alert.must_succeed
    assert dict(alert.headers) == {"Content-Type": "application/json"}
    text = json.loads(alert.body)["blocks"][1]["text"]["text"]
    assert text.startswith(
        "*CONNAISSEUR admitted a request* \n\n_*Cluster*_:                           minikube\n"
        "_*Request ID*_:                     3a3a7b38-5512-4a85-94bb-3562269e0a6a\n"
        f"_*Images*_:                           ['{ALICE}']\n"
        "_*Connaisseur Pod ID*_:       connaisseur-pod-123\n_*"
    )


@pytest.mark.parametrize("name", ["keybase", "opsgenie", "slack"])
def test_shipped_templates_have_the_key_sets_receivers_check(name: str) -> None:
    expected_path = f"alert_templates/integration_expected_payloads/{name}_payload.json"
    expected = json.loads((connaisseur_fixtures() / expected_path).read_text())
    rendered = json.loads(render_payload(load_template(name, None), _values(), {}) or b"")
    assert rendered.keys() == expected.keys()
    if name == "opsgenie":
        assert rendered["details"].keys() == expected["details"].keys()
    if name == "slack":
        assert rendered["blocks"][1].keys() == expected["blocks"][1].keys()


def test_every_shipped_template_renders_and_matches_its_published_shape() -> None:
    assert shipped_template_names() == ("ecs-1-12-0", "keybase", "msteams", "opsgenie", "slack")
    for name in shipped_template_names():
        load_template(name, None).check()
    values = _values(priority=2, images=images_text([ALICE]), cluster="c", namespace="ns")
    ecs = json.loads(render_payload(load_template("ecs-1-12-0", None), values, {}) or b"")
    assert ecs["ecs"] == {"version": "1.12.0"}
    assert ecs["event"]["severity"] == 2  # a number, as ECS defines event.severity
    assert ecs["orchestrator"]["namespace"] == "ns"
    teams = json.loads(render_payload(load_template("msteams", None), values, {}) or b"")
    assert teams["@type"] == "MessageCard"
    facts = {fact["name"]: fact["value"] for fact in teams["sections"][0]["facts"]}
    assert facts["Images"] == f"['{ALICE}']"


def test_hostile_values_cannot_inject_json() -> None:
    hostile = 'evil", "injected": "yes\n\u2028\\'
    template = Template("t", '{"image": "{{ images }}", "ns": "{{namespace}}"}')
    body = render_payload(template, _values(images=hostile, namespace="}{"), {})
    assert json.loads(body or b"") == {"image": hostile, "ns": "}{"}


def test_unknown_variable_non_object_and_broken_json_are_refused() -> None:
    with pytest.raises(TemplateError, match="unknown variable 'image'"):
        render_payload(Template("t", '{"a": "{{ image }}"}'), _values(), {})
    with pytest.raises(TemplateError, match="must render to a JSON object"):
        render_payload(Template("t", '["{{ images }}"]'), _values(), {})
    with pytest.raises(TemplateError, match="does not render to JSON"):
        render_payload(Template("t", '{"a": {{ cluster }}}'), _values(cluster="x y"), {})


def test_template_lookup(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match=r"no alert template 'nope' .*\(ecs-1-12-0, keybase"):
        load_template("nope", None)
    with pytest.raises(TemplateError, match="must be a plain name"):
        load_template("../etc/passwd", None)
    (tmp_path / "slack.json").write_text('{"own": "{{ cluster }}"}')
    assert load_template("slack", str(tmp_path)).text == '{"own": "{{ cluster }}"}'
    # Not in the directory: the shipped template.
    assert '"msg"' in load_template("keybase", str(tmp_path)).text


def test_events_pick_receivers_and_messages() -> None:
    allow = ImageOutcome(ALICE, "*", "allow", "allow", "trusted")
    deny = ImageOutcome("docker.io/library/x:1", "*", "deny", "deny", "denied by static")
    admitted = Decision(AdmissionResponse(True), (allow,))
    denied = Decision(
        AdmissionResponse(False, "kenner denied the request: image 'x': no"), (allow, deny)
    )
    detected = Decision(AdmissionResponse(True, warnings=("w",)), (deny,))
    unvalidated = Decision(AdmissionResponse(True, "DELETE is not validated"), ())
    assert alert_event(admitted) == "admit"
    assert alert_event(denied) == "reject"
    assert alert_event(detected) == "reject"
    assert alert_event(unvalidated) is None
    assert alert_message("admit", admitted) == "CONNAISSEUR admitted a request"
    assert alert_message("reject", denied) == "CONNAISSEUR rejected a request: image 'x': no"
    assert alert_message("reject", detected) == (
        "CONNAISSEUR would have rejected a request (detection mode): "
        "image 'docker.io/library/x:1': denied by static"
    )
    assert timestamp_text(NOW) == "2024-05-01T12:00:00.123Z"


def test_the_images_variable_is_bounded() -> None:
    """Issue 11: an alert never carries a megabyte image string or a thousand images whole."""
    text = images_text(["registry.k8s.io/" + "a" * 1_000_000] + [f"i{n}" for n in range(99)])
    assert len(text) < 2000
    assert "'... and 50 more'" in text
    assert text.count("a" * 100) == 1
