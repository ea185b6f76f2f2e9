"""The cosign validator against real docker-registry instances that require authentication.

Each test starts its own registry (``tests.harness.auth_registry``) with basic authentication
(bcrypt htpasswd) or the Docker token flow (a token server of our own on loopback HTTPS,
``tests.support.token_server``), writes signed images into its storage and validates them
through the registry client with credentials from the config or a mounted docker config.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
import yaml

from kenner.admission.image import parse_image
from kenner.admission.verdict import Trusted, Untrusted, Verdict
from kenner.config.load import load_config
from kenner.config.model import Config, RuleOptions
from kenner.validators.build import build_validators, open_runtime
from tests.harness.auth_registry import token_auth
from tests.loopback.servers import RoutedApp, serve_https
from tests.support.auth_registries import auth_registry_or_skip, htpasswd_or_skip, own_images
from tests.support.cosign_signing import PrivateKey, new_key, public_pem
from tests.support.token_server import TokenServer

pytestmark = pytest.mark.testbed

OPTIONS = RuleOptions(verify_in_transparency_log=False)
SERVICE = "kenner-test-registry"
ISSUER = "kenner-test-token-issuer"


def _config(
    key: PrivateKey,
    secrets_dir: Path | None = None,
    *,
    hosts: tuple[str, ...] = (),
    **validator: Any,
) -> Config:
    """One cosign validator; its rules name ``hosts`` (``HOST/*:*`` each), else ``*:*``: a plain
    login is sent only to registries a rule names or ``auth.registry`` gives."""
    options = {"verifyInTransparencyLog": False}
    patterns = [f"{host}/*:*" for host in hosts] or ["*:*"]
    document: dict[str, Any] = {
        "validators": [
            {
                "name": "cosign",
                "type": "cosign",
                "trustRoots": [{"name": "default", "key": public_pem(key)}],
                **validator,
            }
        ],
        "policy": [
            {"pattern": pattern, "validator": "cosign", "with": options} for pattern in patterns
        ],
    }
    if secrets_dir is not None:
        document["secretsDir"] = str(secrets_dir)
    return load_config(yaml.safe_dump(document))


async def _validate(config: Config, image: str) -> Verdict:
    async with open_runtime() as runtime:
        return await build_validators(config, runtime)["cosign"].answer(parse_image(image), OPTIONS)


def _denied(verdict: Verdict) -> str:
    assert isinstance(verdict, Untrusted), verdict
    return verdict.reason


async def test_htpasswd_basic_auth(tmp_path: Path) -> None:
    auth = htpasswd_or_skip(tmp_path / "registry", {"kenner": "s3cret-pull"})
    with auth_registry_or_skip(tmp_path / "registry", auth) as registry:
        key = new_key()
        images = own_images(registry, "kenner-test/app")
        digest = images.signed_image("v1", key)

        # Under "*:*" the plain login needs its registry named (auth.registry).
        login = {"username": "kenner", "password": "s3cret-pull", "registry": registry.host}
        config = _config(key, cert=registry.ca_pem, auth=login)
        assert await _validate(config, images.ref("v1")) == Trusted(digest)

        wrong = _config(key, cert=registry.ca_pem, auth={**login, "password": "guess"})
        reason = _denied(await _validate(wrong, images.ref("v1")))
        assert reason == (
            f"registry error: https://{registry.host}/v2/kenner-test/app/manifests/v1: "
            "the server refused our basic authorization"
        )
        anonymous = _config(key, cert=registry.ca_pem)
        reason = _denied(await _validate(anonymous, images.ref("v1")))
        assert registry.host in reason
        assert "asks for basic credentials; none are configured" in reason


def _docker_config(secrets_dir: Path, name: str, auths: Mapping[str, Mapping[str, str]]) -> None:
    folder = secrets_dir / name
    folder.mkdir(parents=True)
    (folder / ".dockerconfigjson").write_text(json.dumps({"auths": auths}))


def _basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


async def test_docker_config_secret_longest_prefix(tmp_path: Path) -> None:
    auth = htpasswd_or_skip(tmp_path / "registry", {"team": "team-pass"})
    with auth_registry_or_skip(tmp_path / "registry", auth) as registry:
        key = new_key("ed25519")
        team = own_images(registry, "team/app")
        team_digest = team.signed_image("v1", key)
        shared = own_images(registry, "shared/app")
        shared.signed_image("v1", key)
        secrets_dir = tmp_path / "secrets"
        # The host entry (URL form) has a stale login; the longer team/ prefix the right one.
        _docker_config(
            secrets_dir,
            "regcred",
            {
                f"https://{registry.host}/v2/": {"username": "team", "password": "stale"},
                f"{registry.host}/team": {"auth": _basic("team", "team-pass")},
                "https://index.docker.io/v1/": {"auth": _basic("hub", "hub-pass")},
            },
        )
        config = _config(key, secrets_dir, cert=registry.ca_pem, auth={"secretName": "regcred"})
        assert await _validate(config, team.ref("v1")) == Trusted(team_digest)
        reason = _denied(await _validate(config, shared.ref("v1")))
        assert reason.startswith(f"registry error: https://{registry.host}/v2/shared/app/")
        assert reason.endswith("the server refused our basic authorization")


async def test_bearer_token_flow(tmp_path: Path) -> None:
    tokens = TokenServer(ISSUER, SERVICE, users={"ci": "ci-pass"})
    app = RoutedApp({"/token": tokens.handler})
    bundle = tokens.write_root_bundle(tmp_path / "token-signer.crt")
    async with serve_https(app) as token_server:
        auth = token_auth(token_server.url("/token"), SERVICE, ISSUER, bundle)
        with auth_registry_or_skip(tmp_path / "registry", auth) as registry:
            key = new_key("rsa-pss")
            images = own_images(registry, "kenner-test/bearer")
            digest = images.signed_image("v1", key)
            # One bundle trusts both the registry and the token realm it names.
            ca_bundle = registry.ca_pem + token_server.ca_pem
            login = {"username": "ci", "password": "ci-pass"}
            config = _config(key, cert=ca_bundle, hosts=(registry.host,), auth=login)

            assert await _validate(config, images.ref("v1")) == Trusted(digest)
            asked = app.requests_to("/token")
            assert asked, "no token was requested"
            for request in asked:
                query = parse_qs(request.query)
                assert query["scope"] == ["repository:kenner-test/bearer:pull"]
                assert query["service"] == [SERVICE]
                assert request.headers["authorization"] == "Basic " + _basic("ci", "ci-pass")

            wrong = _config(
                key, cert=ca_bundle, hosts=(registry.host,), auth={**login, "password": "nope"}
            )
            reason = _denied(await _validate(wrong, images.ref("v1")))
            assert reason == (
                f"registry error: https://{registry.host}/v2/kenner-test/bearer/manifests/v1: "
                f"token request to {token_server.url('/token')} failed: not authorised (HTTP 401)"
            )

            tokens.refuse = True
            reason = _denied(await _validate(config, images.ref("v1")))
            assert registry.host in reason
            assert f"token request to {token_server.url('/token')} failed" in reason


async def test_registry_certs_give_each_registry_its_own_ca(tmp_path: Path) -> None:
    users = {"kenner": "pull-pass"}
    login = {"username": "kenner", "password": "pull-pass"}
    key = new_key()
    with (
        auth_registry_or_skip(tmp_path / "a", htpasswd_or_skip(tmp_path / "a", users)) as first,
        auth_registry_or_skip(tmp_path / "b", htpasswd_or_skip(tmp_path / "b", users)) as second,
    ):
        assert first.ca_pem != second.ca_pem
        images = [own_images(registry, "kenner-test/ca") for registry in (first, second)]
        digests = [image.signed_image("v1", key) for image in images]
        own_cas = {first.host: first.ca_pem, second.host: second.ca_pem}
        # The one plain login goes to both registries because a rule names each.
        hosts = (first.host, second.host)
        config = _config(key, hosts=hosts, registryCerts=own_cas, auth=login)
        for image, digest in zip(images, digests, strict=True):
            assert await _validate(config, image.ref("v1")) == Trusted(digest)

        # An entry replaces `cert` for its registry; the others keep `cert`.
        partial = _config(
            key,
            cert=second.ca_pem,
            hosts=hosts,
            registryCerts={first.host: first.ca_pem},
            auth=login,
        )
        for image, digest in zip(images, digests, strict=True):
            assert await _validate(partial, image.ref("v1")) == Trusted(digest)

        swapped = {first.host: second.ca_pem, second.host: first.ca_pem}
        config = _config(key, hosts=hosts, registryCerts=swapped, auth=login)
        for image in images:
            reason = _denied(await _validate(config, image.ref("v1")))
            assert reason.startswith(f"registry error: https://{image.host}/v2/")
            assert reason.endswith(
                "TLS verification failed: unable to get local issuer certificate"
            )
