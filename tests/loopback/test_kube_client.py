"""The Kubernetes API client over real TLS against the fake API (``tests.support.fake_kube``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import trustme

from kenner.kube.access import ClusterAccess, KubeAccessError, resolve_access
from kenner.kube.client import KubeClient, KubeForbidden, KubeNotFound, KubeUnavailable
from tests.loopback.servers import serve_https
from tests.support.fake_kube import FakeKubeApi, pod, write_kubeconfig

POD = "/api/v1/namespaces/kenner/pods/p"


async def test_get_object_through_a_kubeconfig(tmp_path: Path) -> None:
    api = FakeKubeApi()
    api.put(POD, pod("p", "kenner", labels={"a": "b"}))
    async with serve_https(api) as server:
        kubeconfig = write_kubeconfig(tmp_path, server.base_url, server.ca_pem, api.token)
        async with KubeClient(resolve_access(str(kubeconfig), {})) as kube:
            found = await kube.get_object(POD)
            with pytest.raises(KubeNotFound, match=r"not found \(HTTP 404\)"):
                await kube.get_object("/api/v1/namespaces/kenner/pods/q")
    assert found["metadata"]["labels"] == {"a": "b"}


async def test_rotated_token_file_is_read_again(tmp_path: Path) -> None:
    api = FakeKubeApi(token="first")
    api.put(POD, pod("p", "kenner", labels={}))
    token = tmp_path / "token"
    token.write_text("first\n")
    async with serve_https(api) as server:
        access = ClusterAccess(server.base_url, ca_pem=server.ca_pem, token_file=str(token))
        async with KubeClient(access) as kube:
            await kube.get_object(POD)
            api.token = "second"
            token.write_text("second\n")
            os.utime(token, ns=(0, 10**18))  # a new modification time, as the kubelet's swap
            await kube.get_object(POD)
            token.unlink()  # mid-rotation: the last token is kept
            api.token = "third"
            with pytest.raises(KubeForbidden, match=r"Unauthorized \(HTTP 401\)"):
                await kube.get_object(POD)
    assert [auth for _, auth in api.requests] == ["Bearer first", "Bearer second", "Bearer second"]


async def test_untrusted_server_and_closed_port_are_unavailable() -> None:
    api = FakeKubeApi()
    async with serve_https(api) as server:
        other_ca = trustme.CA().cert_pem.bytes().decode()
        async with KubeClient(ClusterAccess(server.base_url, ca_pem=other_ca, token="t")) as kube:
            with pytest.raises(KubeUnavailable, match="TLS verification failed"):
                await kube.get_object(POD)
        url = server.base_url
    async with KubeClient(ClusterAccess(url, ca_pem=server.ca_pem, token="t")) as kube:
        with pytest.raises(KubeUnavailable, match="could not connect"):
            await kube.get_object(POD)
    assert api.requests == []


def test_client_certificate_is_loaded_or_refused() -> None:
    ca = trustme.CA()
    client = ca.issue_cert("kenner@example")
    access = ClusterAccess(
        "https://127.0.0.1:1",
        ca_pem=ca.cert_pem.bytes().decode(),
        client_cert_pem=client.cert_chain_pems[0].bytes().decode(),
        client_key_pem=client.private_key_pem.bytes().decode(),
        source="kubeconfig k",
    )
    KubeClient(access)  # loads without error (and leaves no file behind)
    mismatched = ClusterAccess(
        access.server,
        client_cert_pem=access.client_cert_pem,
        client_key_pem=ca.issue_cert("other").private_key_pem.bytes().decode(),
        source="kubeconfig k",
    )
    with pytest.raises(KubeAccessError, match="kubeconfig k: the client certificate and key"):
        KubeClient(mismatched)
