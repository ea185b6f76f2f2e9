"""Kubeconfig and in-cluster access: what is used, what is refused and why (files injected)."""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping

import pytest
import yaml

from kenner.kube.access import (
    SERVICE_ACCOUNT_DIR,
    KubeAccessError,
    parse_kubeconfig,
    resolve_access,
)

CA = "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n"
CERT = "-----BEGIN CERTIFICATE-----\nCLIENT\n-----END CERTIFICATE-----\n"
KEY = "-----BEGIN PRIVATE KEY-----\nKEY\n-----END PRIVATE KEY-----\n"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def reader(files: Mapping[str, str]) -> Callable[[str], bytes]:
    def read(path: str) -> bytes:
        if path not in files:
            raise FileNotFoundError(2, "No such file or directory", path)
        return files[path].encode()

    return read


def kubeconfig(cluster: Mapping[str, object], user: Mapping[str, object]) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "ctx",
            "contexts": [
                {"name": "other", "context": {"cluster": "nope", "user": "nope"}},
                {"name": "ctx", "context": {"cluster": "c", "user": "u", "namespace": "kenner"}},
            ],
            "clusters": [{"name": "c", "cluster": cluster}],
            "users": [{"name": "u", "user": user}],
        }
    )


SERVER: dict[str, object] = {
    "server": "https://10.0.0.1:6443/",
    "certificate-authority-data": b64(CA),
}


def test_token_and_inline_ca() -> None:
    access = parse_kubeconfig(kubeconfig(SERVER, {"token": "s3cret"}), "/etc/k/config", reader({}))
    assert access.server == "https://10.0.0.1:6443"
    assert access.ca_pem == CA
    assert access.token == "s3cret"
    assert access.namespace == "kenner"
    assert "s3cret" not in repr(access)


def test_client_certificate_files_relative_to_the_kubeconfig() -> None:
    cluster = {"server": "https://api.example", "certificate-authority": "ca.crt"}
    user = {"client-certificate": "client.crt", "client-key": "/abs/client.key"}
    files = reader({"/etc/k/ca.crt": CA, "/etc/k/client.crt": CERT, "/abs/client.key": KEY})
    access = parse_kubeconfig(kubeconfig(cluster, user), "/etc/k/config", files)
    assert (access.ca_pem, access.client_cert_pem, access.client_key_pem) == (CA, CERT, KEY)
    assert access.token is None
    assert KEY not in repr(access)


def test_client_certificate_data_and_token_file() -> None:
    user = {
        "client-certificate-data": b64(CERT),
        "client-key-data": b64(KEY),
        "tokenFile": "token",
    }
    access = parse_kubeconfig(kubeconfig(SERVER, user), "/etc/k/config", reader({}))
    assert access.client_cert_pem == CERT
    assert access.token_file == "/etc/k/token"


@pytest.mark.parametrize(
    ("cluster", "user", "message"),
    [
        (SERVER, {"exec": {"command": "aws"}}, "exec credential plugins are not supported"),
        (SERVER, {"auth-provider": {"name": "gcp"}}, "auth-provider plugins are not supported"),
        (SERVER, {"username": "a", "password": "b"}, "basic authentication is not supported"),
        ({**SERVER, "insecure-skip-tls-verify": True}, {"token": "t"}, "always verifies"),
        ({**SERVER, "proxy-url": "http://p"}, {"token": "t"}, "proxies are not supported"),
        ({"server": "http://10.0.0.1"}, {"token": "t"}, "must be an https:// URL"),
        (SERVER, {}, "has no token, tokenFile or client certificate"),
        (SERVER, {"client-certificate-data": b64(CERT)}, "client-certificate and client-key"),
        ({**SERVER, "certificate-authority-data": "%%%"}, {"token": "t"}, "not base64 PEM"),
        ({"server": "https://x", "certificate-authority": "gone.crt"}, {"token": "t"}, "gone.crt"),
    ],
)
def test_refusals_name_the_reason(
    cluster: Mapping[str, object], user: Mapping[str, object], message: str
) -> None:
    with pytest.raises(KubeAccessError, match=message) as caught:
        parse_kubeconfig(kubeconfig(cluster, user), "/etc/k/config", reader({}))
    assert "kubeconfig /etc/k/config" in str(caught.value)


def test_broken_documents() -> None:
    with pytest.raises(KubeAccessError, match="no current-context"):
        parse_kubeconfig("apiVersion: v1\n", "k", reader({}))
    with pytest.raises(KubeAccessError, match="not valid YAML"):
        parse_kubeconfig("a: [", "k", reader({}))
    text = kubeconfig(SERVER, {"token": "t"}).replace("current-context: ctx", "current-context: x")
    with pytest.raises(KubeAccessError, match="no entry 'x' in contexts"):
        parse_kubeconfig(text, "k", reader({}))


def test_in_cluster_service_account() -> None:
    files = reader(
        {
            f"{SERVICE_ACCOUNT_DIR}/ca.crt": CA,
            f"{SERVICE_ACCOUNT_DIR}/token": "tok",
            f"{SERVICE_ACCOUNT_DIR}/namespace": "kenner\n",
        }
    )
    env = {"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"}
    access = resolve_access(None, env, files)
    assert access.server == "https://[fd00::1]:443"
    assert access.token_file == f"{SERVICE_ACCOUNT_DIR}/token"  # re-read on rotation
    assert access.token is None
    assert access.namespace == "kenner"


def test_resolution_order_and_errors() -> None:
    files = reader({"/a": kubeconfig(SERVER, {"token": "from-a"}), "/b": "x: ["})
    in_cluster = {"KUBERNETES_SERVICE_HOST": "10.0.0.1"}
    assert resolve_access("/a", {"KUBECONFIG": "/b", **in_cluster}, files).token == "from-a"
    assert resolve_access(None, {"KUBECONFIG": "/a", **in_cluster}, files).token == "from-a"
    with pytest.raises(KubeAccessError, match="lists 2 files"):
        resolve_access(None, {"KUBECONFIG": "/a:/b"}, files)
    with pytest.raises(KubeAccessError, match="no Kubernetes API access"):
        resolve_access(None, {}, files)
    with pytest.raises(KubeAccessError, match="in-cluster CA: cannot read"):
        resolve_access(None, in_cluster, files)
