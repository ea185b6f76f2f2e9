"""``kenner cert``: the CA and serving certificate, the Secret, and the patched webhook.

The certificates are checked the way the API server uses them: an in-memory TLS handshake
(no sockets) from a client that trusts only the caBundle and dials the Service DNS name or
the URL host, and a path validation with cryptography's verifier.
"""

from __future__ import annotations

import base64
import datetime
import ssl
import stat
import tempfile
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store

from kenner.cli import main
from kenner.kube.webhook import WebhookTarget, webhook_problem
from kenner.webhook_certs import (
    CertRequest,
    WebhookCertError,
    WebhookCertificates,
    issue_webhook_certificates,
    patch_webhook_manifest,
    service_hosts,
    tls_secret_manifest,
    url_host,
    write_webhook_files,
)

ROOT = Path(__file__).resolve().parents[2]
WEBHOOK = ROOT / "k8s" / "webhook" / "webhook.yaml"
NOW = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.UTC)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


URL_WEBHOOK = """\
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata:
  name: kenner
webhooks:
  - name: images.kenner.dev
    clientConfig:
      # the host outside the cluster
      url: https://placeholder.invalid/mutate
      caBundle: Cg==
"""


_CA_BUNDLE_IN_AN_ANNOTATION = URL_WEBHOOK.replace(
    "  name: kenner", "  annotations:\n    caBundle: x"
).replace("      caBundle: Cg==\n", "")


def _handshake(certificates: WebhookCertificates, server_hostname: str) -> None:
    """A TLS handshake over memory BIOs: client trusts only the CA, server serves the chain."""
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    _load_chain(server, certificates)
    client = ssl.create_default_context(cadata=certificates.ca_pem.decode())
    client_in, client_out, server_in, server_out = (ssl.MemoryBIO() for _ in range(4))
    client_side = client.wrap_bio(client_in, client_out, server_hostname=server_hostname)
    server_side = server.wrap_bio(server_in, server_out, server_side=True)
    done = {"client": False, "server": False}
    for _ in range(10):
        for name, side in (("client", client_side), ("server", server_side)):
            if not done[name]:
                try:
                    side.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
        server_in.write(client_out.read())
        client_in.write(server_out.read())
        if all(done.values()):
            return
    raise AssertionError("the handshake did not finish")


def _load_chain(context: ssl.SSLContext, certificates: WebhookCertificates) -> None:
    # ssl loads a key only from a file.
    with tempfile.TemporaryDirectory() as scratch:
        cert, key = Path(scratch) / "tls.crt", Path(scratch) / "tls.key"
        cert.write_bytes(certificates.cert_pem)
        key.write_bytes(certificates.key_pem)
        context.load_cert_chain(cert, key)


@pytest.fixture(scope="module")
def service_certificates() -> WebhookCertificates:
    # Handshakes check validity against the real clock, so these start now.
    return issue_webhook_certificates(service_hosts("kenner", "kenner"), 365, _now())


def test_service_hosts_are_the_names_the_api_server_may_dial() -> None:
    assert service_hosts("kenner", "security") == (
        "kenner",
        "kenner.security",
        "kenner.security.svc",
        "kenner.security.svc.cluster.local",
    )


@pytest.mark.parametrize(
    ("service", "namespace"), [("Kenner", "kenner"), ("kenner", "a.b"), ("", "x")]
)
def test_service_hosts_refuse_names_kubernetes_refuses(service: str, namespace: str) -> None:
    with pytest.raises(WebhookCertError, match="DNS-1123"):
        service_hosts(service, namespace)


def test_a_client_trusting_only_the_ca_bundle_accepts_the_service_names(
    service_certificates: WebhookCertificates,
) -> None:
    for host in ("kenner.kenner.svc", "kenner.kenner.svc.cluster.local"):
        _handshake(service_certificates, host)
    with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
        _handshake(service_certificates, "kenner.other.svc")


def test_a_client_with_another_ca_refuses_the_certificate(
    service_certificates: WebhookCertificates,
) -> None:
    other = issue_webhook_certificates(["kenner.kenner.svc"], 365, _now())
    mixed = WebhookCertificates(
        other.ca_pem, service_certificates.cert_pem, service_certificates.key_pem, ()
    )
    with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
        _handshake(mixed, "kenner.kenner.svc")


def test_the_chain_validates_as_a_server_certificate_for_its_validity_only() -> None:
    certificates = issue_webhook_certificates(service_hosts("kenner", "kenner"), 365, NOW)
    leaf, ca = x509.load_pem_x509_certificates(certificates.cert_pem)
    assert x509.load_pem_x509_certificate(certificates.ca_pem) == ca
    store = Store([ca])

    def verify(at: datetime.datetime) -> None:
        verifier = (
            PolicyBuilder()
            .store(store)
            .time(at)
            .build_server_verifier(x509.DNSName("kenner.kenner.svc"))
        )
        verifier.verify(leaf, [])

    verify(NOW)
    verify(NOW + datetime.timedelta(days=364))
    with pytest.raises(x509.verification.VerificationError):
        verify(NOW + datetime.timedelta(days=366))
    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert (constraints.ca, constraints.path_length) == (True, 0)
    leaf_constraints = leaf.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert leaf_constraints.ca is False


def test_a_url_host_gets_a_certificate_for_that_host_or_address() -> None:
    assert url_host("https://kenner.example.internal:8443/mutate") == "kenner.example.internal"
    assert url_host("https://[fd00::5]:8443/mutate") == "fd00::5"
    for host in ("kenner.example.internal", "127.0.0.1"):
        _handshake(issue_webhook_certificates([host], 30, _now()), host)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://kenner.example:8443/mutate", "scheme must be https"),
        ("https:///mutate", "no host"),
        ("https://user@kenner.example/mutate", "user info"),
        ("https://kenner.example/mutate?x=1", "query"),
        ("https://kenner.example/mutate#top", "fragment"),
    ],
)
def test_url_host_refuses_what_the_api_server_refuses(url: str, reason: str) -> None:
    with pytest.raises(WebhookCertError, match=reason):
        url_host(url)


def test_issue_refuses_no_hosts_and_no_validity() -> None:
    with pytest.raises(WebhookCertError, match="at least one host"):
        issue_webhook_certificates([], 30, NOW)
    with pytest.raises(WebhookCertError, match="at least one day"):
        issue_webhook_certificates(["kenner"], 0, NOW)


def test_secret_manifest_carries_the_chain_key_and_ca(
    service_certificates: WebhookCertificates,
) -> None:
    secret = yaml.safe_load(tls_secret_manifest("kenner-tls", "kenner", service_certificates))
    assert secret["type"] == "kubernetes.io/tls"
    assert secret["metadata"] == {
        "name": "kenner-tls",
        "namespace": "kenner",
        "labels": {"app.kubernetes.io/name": "kenner"},
    }
    data = {key: base64.b64decode(value) for key, value in secret["data"].items()}
    assert data == {
        "tls.crt": service_certificates.cert_pem,
        "tls.key": service_certificates.key_pem,
        "ca.crt": service_certificates.ca_pem,
    }


def test_patching_the_shipped_webhook_keeps_its_comments() -> None:
    text = WEBHOOK.read_text()
    patched = patch_webhook_manifest(text, "QUJD")
    (hook,) = yaml.safe_load(patched)["webhooks"]
    assert hook["clientConfig"]["caBundle"] == "QUJD"
    assert hook["clientConfig"]["service"]["name"] == "kenner"
    assert [line for line in patched.splitlines() if "caBundle" not in line] == [
        line for line in text.splitlines() if "caBundle" not in line
    ]


def test_patching_a_url_webhook_sets_the_url_and_the_ca_bundle() -> None:
    url = "https://kenner.example.internal:8443/mutate"
    patched = patch_webhook_manifest(URL_WEBHOOK, "QUJD", url)
    (hook,) = yaml.safe_load(patched)["webhooks"]
    assert hook["clientConfig"] == {"url": url, "caBundle": "QUJD"}
    assert "# the host outside the cluster" in patched


@pytest.mark.parametrize(
    ("text", "url", "reason"),
    [
        ("kind: ValidatingWebhookConfiguration\nwebhooks: []\n", None, "not a Mutating"),
        ("kind: MutatingWebhookConfiguration\nwebhooks: []\n", None, "has no webhooks"),
        ("kind: [\n", None, "not YAML"),
        (URL_WEBHOOK.replace("      caBundle: Cg==\n", ""), None, "0 caBundle lines for 1"),
        (_CA_BUNDLE_IN_AN_ANNOTATION, None, "did not apply"),
        (WEBHOOK.read_text(), "https://kenner.example/mutate", "needs `url:` instead"),
        (URL_WEBHOOK, "http://kenner.example/mutate", "must be https"),
    ],
)
def test_patching_refuses_manifests_it_cannot_patch(
    text: str, url: str | None, reason: str
) -> None:
    with pytest.raises(WebhookCertError, match=reason):
        patch_webhook_manifest(text, "QUJD", url)


def test_write_webhook_files_writes_private_files_and_patches_in_place(tmp_path: Path) -> None:
    webhook = tmp_path / "webhook.yaml"
    webhook.write_text(WEBHOOK.read_text())
    out = tmp_path / "out"
    certificates = write_webhook_files(CertRequest(out_dir=out, webhook=webhook), NOW)
    assert sorted(p.name for p in out.iterdir()) == [
        "ca.crt",
        "tls-secret.yaml",
        "tls.crt",
        "tls.key",
    ]
    for private in ("tls.key", "tls-secret.yaml"):
        assert stat.S_IMODE((out / private).stat().st_mode) == 0o600
    assert (out / "tls.crt").read_bytes() == certificates.cert_pem
    assert (out / "ca.crt").read_bytes() == certificates.ca_pem
    (hook,) = yaml.safe_load(webhook.read_text())["webhooks"]
    assert hook["clientConfig"]["caBundle"] == certificates.ca_bundle
    assert certificates.hosts == service_hosts("kenner", "kenner")
    # kenner itself can serve the files (the server loads the chain from tls.crt).
    ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(
        out / "tls.crt", out / "tls.key"
    )


def test_a_bad_webhook_manifest_fails_before_any_file_is_written(tmp_path: Path) -> None:
    webhook = tmp_path / "webhook.yaml"
    webhook.write_text(WEBHOOK.read_text())
    request = CertRequest(out_dir=tmp_path / "out", webhook=webhook, url="https://h:8443/mutate")
    with pytest.raises(WebhookCertError, match="needs `url:` instead of `service:`"):
        write_webhook_files(request, NOW)
    assert not request.out_dir.exists()
    assert webhook.read_text() == WEBHOOK.read_text()


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    out, err = capsys.readouterr()
    assert isinstance(exit_info.value.code, int)
    return exit_info.value.code, out, err


def test_cli_cert_for_a_systemd_host_prints_the_ca_bundle(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(
        capsys, "cert", "--out", str(tmp_path), "--url", "https://10.0.0.5:8443/mutate"
    )
    assert code == 0
    ca_bundle = out.splitlines()[-1].removeprefix("caBundle: ")
    assert base64.b64decode(ca_bundle) == (tmp_path / "ca.crt").read_bytes()
    assert "for 10.0.0.5" in out
    leaf = x509.load_pem_x509_certificates((tmp_path / "tls.crt").read_bytes())[0]
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["10.0.0.5"]


def test_cli_cert_patches_the_webhook(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    webhook = tmp_path / "webhook.yaml"
    webhook.write_text(WEBHOOK.read_text())
    code, out, _ = _run(
        capsys, "cert", "--out", str(tmp_path), "--namespace", "security", "--webhook", str(webhook)
    )
    assert code == 0
    assert f"{webhook}: caBundle set" in out
    secret = yaml.safe_load((tmp_path / "tls-secret.yaml").read_text())
    assert secret["metadata"]["namespace"] == "security"
    (hook,) = yaml.safe_load(webhook.read_text())["webhooks"]
    assert hook["clientConfig"]["caBundle"] == secret["data"]["ca.crt"]


def test_cli_cert_reports_a_bad_request_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(capsys, "cert", "--out", str(tmp_path), "--url", "http://h/mutate")
    assert code == 2
    assert err.strip() == "kenner: webhook URL 'http://h/mutate': the scheme must be https"
    code, _, err = _run(capsys, "cert", "--out", str(tmp_path), "--webhook", str(tmp_path / "no"))
    assert code == 2
    assert "No such file" in err


@pytest.mark.parametrize(
    ("manifest", "url"),
    [(WEBHOOK, None), (ROOT / "systemd" / "webhook.yaml", "https://10.0.0.5:8443/mutate")],
)
def test_the_watchdog_accepts_what_kenner_cert_writes(
    tmp_path: Path, manifest: Path, url: str | None
) -> None:
    webhook = tmp_path / "webhook.yaml"
    webhook.write_text(manifest.read_text())
    write_webhook_files(CertRequest(out_dir=tmp_path, webhook=webhook, url=url), _now())
    target = WebhookTarget("kenner", None if url else "kenner", url)
    configuration = yaml.safe_load(webhook.read_text())
    served = (tmp_path / "tls.crt").read_bytes()
    assert webhook_problem(configuration, target, served) is None
    # The shipped placeholder trusts nothing, so kenner is not ready before `kenner cert`.
    placeholder = yaml.safe_load(manifest.read_text())
    if url:
        placeholder["webhooks"][0]["clientConfig"]["url"] = url
    assert "caBundle lacks the CA" in str(webhook_problem(placeholder, target, served))
