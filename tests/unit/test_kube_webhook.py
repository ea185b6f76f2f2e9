"""Whether a MutatingWebhookConfiguration points at this kenner and carries its CA."""

from __future__ import annotations

import base64

import trustme

from kenner.kube.webhook import WebhookTarget, webhook_problem
from tests.support.fake_kube import webhook_configuration

SERVICE = WebhookTarget("kenner", "kenner", None)


def chain(ca: trustme.CA) -> bytes:
    leaf = ca.issue_cert("kenner.kenner.svc")
    return b"".join(blob.bytes() for blob in leaf.cert_chain_pems)


def test_service_and_ca_match() -> None:
    ca = trustme.CA()
    configuration = webhook_configuration("kenner", ca.cert_pem.bytes())
    assert webhook_problem(configuration, SERVICE, chain(ca)) is None


def test_intermediate_ca_in_the_bundle_or_the_chain() -> None:
    root = trustme.CA()
    intermediate = root.create_child_ca()
    served = chain(intermediate)  # leaf + intermediate
    assert (
        webhook_problem(webhook_configuration("k", root.cert_pem.bytes()), SERVICE, served) is None
    )
    bundle = intermediate.cert_pem.bytes()
    assert webhook_problem(webhook_configuration("k", bundle), SERVICE, served) is None


def test_problems_are_named() -> None:
    ca, other = trustme.CA(), trustme.CA()
    served = chain(ca)
    wrong_ca = webhook_configuration("kenner", other.cert_pem.bytes())
    assert "caBundle lacks the CA" in str(webhook_problem(wrong_ca, SERVICE, served))
    wrong_target = webhook_configuration("k", ca.cert_pem.bytes(), service=("kenner", "evil"))
    problem = webhook_problem(wrong_target, SERVICE, served)
    assert problem == "webhook 'kenner.kenner.dev' does not point at service kenner/kenner"
    no_bundle = webhook_configuration("kenner", b"")
    assert "caBundle lacks" in str(webhook_problem(no_bundle, SERVICE, served))
    garbage = webhook_configuration("kenner", b"")
    garbage["webhooks"][0]["clientConfig"]["caBundle"] = base64.b64encode(b"junk").decode()
    assert "caBundle lacks" in str(webhook_problem(garbage, SERVICE, served))
    assert webhook_problem({"webhooks": []}, SERVICE, served) == "it has no webhooks"


def test_url_target_and_one_good_webhook_among_several() -> None:
    ca = trustme.CA()
    url = "https://kenner.example:8443/mutate"
    target = WebhookTarget("kenner", None, url)
    configuration = webhook_configuration("kenner", ca.cert_pem.bytes(), url=url)
    assert webhook_problem(configuration, target, chain(ca)) is None
    by_service = webhook_configuration("kenner", ca.cert_pem.bytes())
    assert "does not point at url" in str(webhook_problem(by_service, target, chain(ca)))
    by_service["webhooks"].append(configuration["webhooks"][0])
    assert webhook_problem(by_service, target, chain(ca)) is None
