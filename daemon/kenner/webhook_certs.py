"""Certificates for a real cluster: a private CA, a serving certificate, and the manifests.

The API server calls kenner over HTTPS and trusts only the CA in the webhook's
``clientConfig.caBundle``. ``kenner cert`` makes a fresh CA, issues kenner's serving
certificate for the Service DNS names (in-cluster) or for the host of a URL (a systemd host
outside the cluster), writes the ``kubernetes.io/tls`` Secret and puts the CA into the webhook
manifest. The CA's private key is never written: nothing else can ever be issued under it, and
a rotation is simply a new run (see docs/deploy.md).

The functions are pure (values in, bytes and text out) except :func:`write_webhook_files`,
which is what ``kenner cert`` runs.
"""

from __future__ import annotations

import base64
import datetime
import re
import urllib.parse
from collections.abc import Sequence
from pathlib import Path

import attrs
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kenner.certs import alt_names, key_usage
from kenner.errors import KennerError


class WebhookCertError(KennerError, ValueError):
    """A certificate request or a webhook manifest that ``kenner cert`` cannot work with."""


@attrs.frozen
class WebhookCertificates:
    """A CA and the serving certificate it signed, all PEM.

    Attributes:
        ca_pem: The CA certificate: the webhook's ``caBundle``.
        cert_pem: The serving certificate followed by the CA, the chain kenner serves.
        key_pem: The serving certificate's private key (PKCS#8, unencrypted).
        hosts: The names and addresses the serving certificate is valid for.
    """

    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes = attrs.field(repr=False)
    hosts: tuple[str, ...]

    @property
    def ca_bundle(self) -> str:
        """The CA as the base64 text ``clientConfig.caBundle`` expects."""
        return base64.b64encode(self.ca_pem).decode("ascii")


@attrs.frozen
class CertRequest:
    """What ``kenner cert`` was asked for.

    Attributes:
        out_dir: Where ``ca.crt``, ``tls.crt``, ``tls.key`` and ``tls-secret.yaml`` go.
        service: The kenner Service name; with ``namespace`` it gives the DNS names.
        namespace: kenner's namespace, also the Secret's.
        secret_name: The Secret's name (the Deployment mounts ``kenner-tls``).
        url: The webhook URL of a host outside the cluster; its host replaces the DNS names.
        webhook: A MutatingWebhookConfiguration file to patch in place with the caBundle.
        days: Validity of the CA and the serving certificate.
    """

    out_dir: Path
    service: str = "kenner"
    namespace: str = "kenner"
    secret_name: str = "kenner-tls"  # noqa: S105 (the name of a Secret object, not a password)
    url: str | None = None
    webhook: Path | None = None
    days: int = 365


def write_webhook_files(request: CertRequest, now: datetime.datetime) -> WebhookCertificates:
    """Issue the certificates and write the files ``request`` names.

    The webhook manifest is patched in memory first, so a manifest that cannot take the
    caBundle fails before any file is written. The two files holding the private key,
    ``tls.key`` and ``tls-secret.yaml``, are created anew with mode 0600.

    Raises:
        WebhookCertError: a bad name, URL, validity or webhook manifest.
        OSError: a file cannot be read or written.
    """
    hosts = url_host(request.url) if request.url else None
    certificates = issue_webhook_certificates(
        [hosts] if hosts else service_hosts(request.service, request.namespace), request.days, now
    )
    patched = None
    if request.webhook is not None:
        patched = patch_webhook_manifest(
            request.webhook.read_text(), certificates.ca_bundle, request.url
        )
    secret = tls_secret_manifest(request.secret_name, request.namespace, certificates)
    request.out_dir.mkdir(parents=True, exist_ok=True)
    _write_private(request.out_dir / "tls.key", certificates.key_pem)
    _write_private(request.out_dir / "tls-secret.yaml", secret.encode())
    (request.out_dir / "tls.crt").write_bytes(certificates.cert_pem)
    (request.out_dir / "ca.crt").write_bytes(certificates.ca_pem)
    if request.webhook is not None and patched is not None:
        request.webhook.write_text(patched)
    return certificates


def service_hosts(service: str, namespace: str) -> tuple[str, ...]:
    """The DNS names the API server may use for ``service`` in ``namespace``.

    The API server dials ``<service>.<namespace>.svc``; the shorter and longer forms cover
    clients inside the cluster that resolve through the search path or the full domain.
    """
    for label, value in (("service", service), ("namespace", namespace)):
        if not _DNS_LABEL.fullmatch(value):
            raise WebhookCertError(f"{label} {value!r} is not a DNS-1123 label")
    base = f"{service}.{namespace}"
    return (service, base, f"{base}.svc", f"{base}.svc.cluster.local")


def url_host(url: str) -> str:
    """The host of a webhook ``clientConfig.url``, checked against the API server's rules.

    Raises:
        WebhookCertError: not ``https://``, no host, or user info, a query or a fragment (the
            API server refuses all of those in a webhook URL).
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "https":
        raise WebhookCertError(f"webhook URL {url!r}: the scheme must be https")
    if not parts.hostname:
        raise WebhookCertError(f"webhook URL {url!r}: no host")
    if parts.username is not None or parts.query or parts.fragment:
        raise WebhookCertError(
            f"webhook URL {url!r}: user info, query and fragment are not allowed in a webhook URL"
        )
    return parts.hostname


def issue_webhook_certificates(
    hosts: Sequence[str], days: int, now: datetime.datetime
) -> WebhookCertificates:
    """A new CA (ECDSA P-256) and a serving certificate for ``hosts`` (DNS names or IPs).

    Both are valid from five minutes before ``now`` (clock skew between hosts) for ``days``.
    """
    if not hosts:
        raise WebhookCertError("a serving certificate needs at least one host name")
    if days < 1:
        raise WebhookCertError(f"validity of {days} days: it must be at least one day")
    start = now - datetime.timedelta(minutes=5)
    end = now + datetime.timedelta(days=days)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"kenner webhook CA {hosts[0]}")])
    ca = (
        _builder(ca_name, ca_name, ca_key.public_key(), start, end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(key_usage(cert_sign=True), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])])
    leaf = (
        _builder(name, ca_name, key.public_key(), start, end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(alt_names(hosts)), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem = ca.public_bytes(serialization.Encoding.PEM)
    return WebhookCertificates(
        ca_pem=ca_pem,
        cert_pem=leaf.public_bytes(serialization.Encoding.PEM) + ca_pem,
        key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        hosts=tuple(hosts),
    )


def tls_secret_manifest(name: str, namespace: str, certificates: WebhookCertificates) -> str:
    """The ``kubernetes.io/tls`` Secret kenner's Deployment mounts, as YAML text."""
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/name": "kenner"},
        },
        "type": "kubernetes.io/tls",
        "data": {
            "tls.crt": base64.b64encode(certificates.cert_pem).decode("ascii"),
            "tls.key": base64.b64encode(certificates.key_pem).decode("ascii"),
            "ca.crt": certificates.ca_bundle,
        },
    }
    header = f"# Written by `kenner cert` for {', '.join(certificates.hosts)}; keep it private.\n"
    return header + yaml.safe_dump(secret, sort_keys=False)


def patch_webhook_manifest(text: str, ca_bundle: str, url: str | None = None) -> str:
    """``text`` (a MutatingWebhookConfiguration) with every webhook's caBundle set.

    The edit is made on the lines, so comments and layout survive; the result is parsed again
    and checked. With ``url``, each ``clientConfig.url`` line is replaced too: the manifest
    must then already use ``url`` (a host outside the cluster), not ``service``.

    Raises:
        WebhookCertError: not a MutatingWebhookConfiguration, a webhook without a
            ``caBundle`` line to replace, or ``url`` given for a manifest that uses a service.
    """
    webhooks = _webhooks(text)
    patched, count = _CA_BUNDLE_LINE.subn(lambda m: m.group(1) + ca_bundle, text)
    if count != len(webhooks):
        raise WebhookCertError(
            f"found {count} caBundle lines for {len(webhooks)} webhooks: give every webhook's "
            "clientConfig a `caBundle:` line on its own (a placeholder value will do)"
        )
    if url is not None:
        url_host(url)
        patched, count = _URL_LINE.subn(lambda m: m.group(1) + url, patched)
        if count != len(webhooks):
            raise WebhookCertError(
                f"found {count} clientConfig.url lines for {len(webhooks)} webhooks: a webhook "
                "for a host outside the cluster needs `url:` instead of `service:`"
            )
    for webhook in _webhooks(patched):
        client = webhook.get("clientConfig")
        if not isinstance(client, dict):
            raise WebhookCertError(f"webhook {webhook.get('name')!r} has no clientConfig")
        if client.get("caBundle") != ca_bundle or (url is not None and client.get("url") != url):
            raise WebhookCertError(f"webhook {webhook.get('name')!r}: the patch did not apply")
    return patched


def _webhooks(text: str) -> list[dict[str, object]]:
    try:
        manifest = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise WebhookCertError(f"the webhook manifest is not YAML: {error}") from None
    if not isinstance(manifest, dict) or manifest.get("kind") != "MutatingWebhookConfiguration":
        raise WebhookCertError("the webhook manifest is not a MutatingWebhookConfiguration")
    webhooks = manifest.get("webhooks")
    if not isinstance(webhooks, list) or not webhooks:
        raise WebhookCertError("the MutatingWebhookConfiguration has no webhooks")
    return [hook for hook in webhooks if isinstance(hook, dict)]


# A DNS-1123 label: what Kubernetes accepts as a Service or Namespace name.
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_CA_BUNDLE_LINE = re.compile(r"^(\s*caBundle:[ \t]*)\S*[ \t]*$", re.MULTILINE)
_URL_LINE = re.compile(r"^(\s*url:[ \t]*)\S*[ \t]*$", re.MULTILINE)


def _write_private(path: Path, data: bytes) -> None:
    # Unlinked first so the mode applies even when an older, more open file was there.
    path.unlink(missing_ok=True)
    path.touch(mode=0o600)
    path.write_bytes(data)


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    start: datetime.datetime,
    end: datetime.datetime,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
