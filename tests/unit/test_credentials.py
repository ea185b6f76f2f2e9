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
    credentials = load_credentials(Auth(username="u", password="p"), str(tmp_path), NOTARY)
    assert credentials is not None
    assert (credentials.username, credentials.password) == ("u", "p")
    assert "p" not in repr(credentials).replace("username='u'", "")


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
