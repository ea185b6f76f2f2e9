"""Manifest parsing, digests, Docker Hub naming and docker-config credential matching."""

from __future__ import annotations

import base64
import json

import pytest

from kenner.oci.dockerconfig import DockerConfigError, RegistryLogin, parse_docker_config
from kenner.oci.manifest import (
    DOCKER_LIST,
    DigestMismatch,
    ImageIndex,
    ImageManifest,
    ManifestError,
    digest_of,
    parse_manifest,
    signature_tag,
    verify_digest,
)
from kenner.oci.naming import api_base, same_path, same_repository
from tests.shared import connaisseur_fixtures


def test_real_manifests_parse() -> None:
    folder = connaisseur_fixtures() / "cosign/registry/securesystemsengineering/testimage"
    image = parse_manifest((folder / "manifests/multi-cosigned-alice.json").read_bytes())
    assert isinstance(image, ImageManifest)
    assert len(image.layers) == 6
    with pytest.raises(ManifestError, match="schemaVersion"):
        parse_manifest((folder / "manifests/co-unsigned.json").read_bytes())


def test_index_entries_and_platforms() -> None:
    entry = {"mediaType": "x", "size": 1, "digest": digest_of(b"a")}
    arm = {**entry, "digest": digest_of(b"b"), "platform": {"os": "linux", "architecture": "arm64"}}
    raw = json.dumps({"schemaVersion": 2, "mediaType": DOCKER_LIST, "manifests": [entry, arm]})
    index = parse_manifest(raw.encode())
    assert isinstance(index, ImageIndex)
    assert index.contains(digest_of(b"b"))
    assert not index.contains(digest_of(b"c"))
    assert str(index.manifests[1].platform) == "linux/arm64"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b"[", "not JSON"),
        (b'{"schemaVersion": 2, "mediaType": "text/plain"}', "unsupported manifest media type"),
        (b'{"schemaVersion": 2, "config": {}, "layers": []}', "config.mediaType"),
        (
            b'{"schemaVersion": 2, "manifests": [{"mediaType": "x", "size": -1, '
            b'"digest": "sha256:' + b"0" * 64 + b'"}]}',
            "manifests[0].size",
        ),
        (
            b'{"schemaVersion": 2, "manifests": [{"mediaType": "x", "size": 1, '
            b'"digest": "md5:00"}]}',
            "manifests[0].digest",
        ),
    ],
)
def test_malformed_manifests_say_where(document: bytes, message: str) -> None:
    with pytest.raises(ManifestError, match=message.replace("[", r"\[")):
        parse_manifest(document)


def test_digests_and_signature_tags() -> None:
    digest = digest_of(b"abc")
    verify_digest(b"abc", digest, "blob")
    with pytest.raises(DigestMismatch, match="blob: content hashes to"):
        verify_digest(b"abd", digest, "blob")
    assert signature_tag(digest) == digest.replace(":", "-") + ".sig"


def test_docker_hub_naming() -> None:
    assert api_base("docker.io") == "https://registry-1.docker.io"
    assert api_base("index.docker.io") == "https://registry-1.docker.io"
    assert api_base("127.0.0.1:5000") == "https://127.0.0.1:5000"
    assert same_repository("index.docker.io/library/nginx", "docker.io", "library/nginx")
    assert same_repository("reg.example:5000/a/b:tag", "reg.example:5000", "a/b")
    assert not same_repository("reg.example/a/b", "other.example", "a/b")
    assert same_path("reg.example/a/b", "a/b")
    assert not same_path("reg.example/a/c", "a/b")


def _config(auths: dict[str, object]) -> bytes:
    return json.dumps({"auths": auths}).encode()


def test_docker_config_longest_prefix_wins() -> None:
    encoded = base64.b64encode(b"hub:hubpass").decode()
    logins = parse_docker_config(
        _config(
            {
                "https://index.docker.io/v1/": {"auth": encoded},
                "reg.example": {"username": "all", "password": "p1"},
                "reg.example/team": {"username": "team", "password": "p2"},
                "https://reg.example/team/app/": {"username": "app", "password": "p3"},
            }
        )
    )
    assert logins.for_image("docker.io", "library/nginx") == RegistryLogin("hub", "hubpass")
    assert logins.for_image("reg.example", "other/x") == RegistryLogin("all", "p1")
    assert logins.for_image("reg.example", "team/x") == RegistryLogin("team", "p2")
    assert logins.for_image("reg.example", "team/app") == RegistryLogin("app", "p3")
    # A prefix matches whole path components only.
    assert logins.for_image("reg.example", "teamster/x") == RegistryLogin("all", "p1")
    assert logins.for_image("elsewhere.example", "team/x") is None
    assert "hubpass" not in repr(logins)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b"{", "not JSON"),
        (b"{}", "no 'auths'"),
        (_config({"r": {"auth": "%%%"}}), "not base64"),
        (_config({"r": {"auth": base64.b64encode(b"nocolon").decode()}}), "username:password"),
        (_config({"r": {}}), "neither username/password nor auth"),
    ],
)
def test_bad_docker_configs(document: bytes, message: str) -> None:
    with pytest.raises(DockerConfigError, match=message):
        parse_docker_config(document)
