"""Does a MutatingWebhookConfiguration protect the cluster with this kenner? (pure)

It does when at least one of its webhooks sends requests to kenner (the configured Service in
kenner's namespace, or the configured URL) and its ``caBundle`` holds the CA that issued the
certificate kenner serves. A webhook with another target or a stale CA bundle means the API
server either does not ask kenner or cannot talk to it: not ready.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

import attrs
from cryptography import x509
from cryptography.exceptions import InvalidSignature


@attrs.frozen
class WebhookTarget:
    """Where the webhook must point: ``service`` in ``namespace``, or ``url`` when given."""

    namespace: str
    service: str | None
    url: str | None

    def describe(self) -> str:
        """``service kenner/kenner`` or ``url https://...``, for messages."""
        return f"url {self.url}" if self.url else f"service {self.namespace}/{self.service}"


def webhook_problem(
    configuration: Mapping[str, Any], target: WebhookTarget, serving_chain_pem: bytes
) -> str | None:
    """Why ``configuration`` does not protect the cluster with this kenner, or None.

    ``serving_chain_pem`` is the certificate chain kenner serves (leaf first).
    """
    chain = x509.load_pem_x509_certificates(serving_chain_pem)
    webhooks = configuration.get("webhooks")
    if not isinstance(webhooks, list) or not webhooks:
        return "it has no webhooks"
    problems = []
    for webhook in webhooks:
        if not isinstance(webhook, Mapping):
            continue
        name = webhook.get("name", "(unnamed)")
        client = webhook.get("clientConfig")
        client = client if isinstance(client, Mapping) else {}
        if not _points_at(client, target):
            problems.append(f"webhook {name!r} does not point at {target.describe()}")
        elif not _trusts(client.get("caBundle"), chain):
            problems.append(f"webhook {name!r}: caBundle lacks the CA of kenner's certificate")
        else:
            return None
    return "; ".join(problems) or "it has no webhooks"


def _points_at(client: Mapping[str, Any], target: WebhookTarget) -> bool:
    if target.url is not None:
        url = client.get("url")
        return isinstance(url, str) and url.rstrip("/") == target.url.rstrip("/")
    service = client.get("service")
    if not isinstance(service, Mapping):
        return False
    return bool(
        service.get("name") == target.service and service.get("namespace") == target.namespace
    )


def _trusts(ca_bundle: Any, chain: list[x509.Certificate]) -> bool:
    """Whether a CA in ``ca_bundle`` (base64 PEM) issued, or is, a certificate of ``chain``."""
    if not isinstance(ca_bundle, str) or not ca_bundle:
        return False
    try:
        cas = x509.load_pem_x509_certificates(base64.b64decode(ca_bundle, validate=True))
    except (binascii.Error, ValueError):
        return False
    for ca in cas:
        for cert in chain:
            if ca == cert:
                return True
            try:
                cert.verify_directly_issued_by(ca)
            except (ValueError, TypeError, InvalidSignature):
                continue
            return True
    return False
