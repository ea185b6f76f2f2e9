"""Credentials for Notary and registries: inline, or from a mounted secret directory."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from kenner.config.errors import ConfigError
from kenner.config.model import Auth
from kenner.validators.credentials import load_credentials

NOTARY = "https://notary.example:4443"


def test_no_auth_and_inline_credentials(tmp_path: Path) -> None:
    assert load_credentials(None, str(tmp_path), NOTARY) is None
    credentials = load_credentials(Auth(username="u", password="pw-42"), str(tmp_path), NOTARY)
    assert credentials is not None
    assert (credentials.username, credentials.password) == ("u", "pw-42")
    assert "pw-42" not in repr(credentials)
    assert credentials.host == "notary.example:4443"


def test_username_and_password_files(tmp_path: Path) -> None:
    secret = tmp_path / "notary-creds"
    secret.mkdir()
    (secret / "username").write_text("robot\n")
    (secret / "password").write_text("s3cret\n")
    credentials = load_credentials(Auth(secret_name="notary-creds"), str(tmp_path), NOTARY)
    assert credentials is not None
    assert (credentials.username, credentials.password) == ("robot", "s3cret")


@pytest.mark.parametrize(
    "key", ["notary.example:4443", "https://notary.example:4443", "https://NOTARY.example:4443/v1/"]
)
def test_docker_config_entry_for_the_host(tmp_path: Path, key: str) -> None:
    secret = tmp_path / "pull"
    secret.mkdir()
    auths = {
        "other.example": {"username": "x", "password": "y"},
        key: {"auth": base64.b64encode(b"alice:pa:ss").decode()},
    }
    (secret / ".dockerconfigjson").write_text(json.dumps({"auths": auths}))
    credentials = load_credentials(Auth(secret_name="pull"), str(tmp_path), NOTARY)
    assert credentials is not None
    assert (credentials.username, credentials.password) == ("alice", "pa:ss")
    assert credentials.host == "notary.example:4443"


@pytest.mark.parametrize(
    "key",
    [
        "notary.example",  # another port
        "notary.example:443",
        "evil.notary.example:4443",
        "notary.example.evil:4443",
        "example:4443",
        "user@notary.example:4443",
        "https://notary.example:44430",
    ],
)
def test_docker_config_keys_for_other_servers_never_match(tmp_path: Path, key: str) -> None:
    """Issue 11 point 10: a Notary login comes only from the entry naming its host and port."""
    secret = tmp_path / "pull"
    secret.mkdir()
    auths = {key: {"username": "x", "password": "y"}}
    (secret / ".dockerconfigjson").write_text(json.dumps({"auths": auths}))
    with pytest.raises(ConfigError, match=r"has no entry for notary\.example:4443"):
        load_credentials(Auth(secret_name="pull"), str(tmp_path), NOTARY)


def test_deeply_nested_docker_config_is_a_config_error(tmp_path: Path) -> None:
    secret = tmp_path / "pull"
    secret.mkdir()
    (secret / ".dockerconfigjson").write_text("[" * 100_000)
    with pytest.raises(ConfigError, match="secret 'pull' in"):
        load_credentials(Auth(secret_name="pull"), str(tmp_path), NOTARY)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({}, "holds neither username/password nor .dockerconfigjson"),
        ({".dockerconfigjson": "{"}, "secret 'pull' in"),
        ({".dockerconfigjson": '{"auths": {}}'}, "has no entry for notary.example:4443"),
        ({".dockerconfigjson": '{"auths": []}'}, "has no 'auths' object"),
        ({"username": "u"}, "password"),
    ],
)
def test_unusable_secrets_are_named(tmp_path: Path, files: dict[str, str], message: str) -> None:
    secret = tmp_path / "pull"
    secret.mkdir()
    for name, text in files.items():
        (secret / name).write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_credentials(Auth(secret_name="pull"), str(tmp_path), NOTARY)
