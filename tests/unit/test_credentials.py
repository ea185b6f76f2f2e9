"""Credentials for Notary and registries: inline, or from a mounted secret directory (one loader
for both validator kinds)."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from pathlib import Path

import pytest

from kenner.config.errors import ConfigError
from kenner.config.model import Auth
from kenner.oci.dockerconfig import RegistryLogin
from kenner.validators.credentials import load_credentials
from kenner.validators.registry_access import load_logins

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


def _secret(tmp_path: Path, files: dict[str, str]) -> Auth:
    folder = tmp_path / "shared"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    return Auth(secret_name="shared")


def _docker_config(auths: Mapping[str, object]) -> str:
    return json.dumps({"auths": auths})


def test_notary_and_cosign_read_one_secret_alike(tmp_path: Path) -> None:
    """One loader and one parser: the same docker config gives the Notary its host's entry
    and cosign the per-image logins, the key's path ignored for the Notary (one host)."""
    auth = _secret(
        tmp_path,
        {
            ".dockerconfigjson": _docker_config(
                {
                    "https://notary.example:4443/team": {"username": "n", "password": "np"},
                    "reg.example/team": {"auth": base64.b64encode(b"r:rp").decode()},
                }
            )
        },
    )
    notary = load_credentials(auth, str(tmp_path), NOTARY)
    assert notary is not None
    assert (notary.username, notary.password, notary.host) == ("n", "np", "notary.example:4443")
    cosign = load_logins(auth, str(tmp_path), frozenset())
    assert cosign.for_image("reg.example", "team/app") == RegistryLogin("r", "rp")
    assert cosign.for_image("reg.example", "other/app") is None


def test_a_docker_config_wins_over_username_files_for_both(tmp_path: Path) -> None:
    """A secret holding both is read the same way by every validator: the docker config."""
    auth = _secret(
        tmp_path,
        {
            ".dockerconfigjson": _docker_config(
                {"notary.example:4443": {"username": "d", "password": "dp"}}
            ),
            "username": "plain",
            "password": "plain-pw",
        },
    )
    notary = load_credentials(auth, str(tmp_path), NOTARY)
    assert notary is not None
    assert (notary.username, notary.password) == ("d", "dp")
    cosign = load_logins(auth, str(tmp_path), frozenset({"reg.example"}))
    assert cosign.for_image("reg.example", "team/app") is None  # no key names reg.example


def test_a_plain_login_covers_its_scope_only(tmp_path: Path) -> None:
    auth = _secret(tmp_path, {"username": "robot\n", "password": "pw\n"})
    logins = load_logins(auth, str(tmp_path), frozenset({"docker.io", "reg.example:5000"}))
    assert logins.for_image("index.docker.io", "library/nginx") == RegistryLogin("robot", "pw")
    assert logins.for_image("REG.example:5000", "team/app") == RegistryLogin("robot", "pw")
    assert logins.for_image("reg.example", "team/app") is None
    with pytest.raises(ConfigError, match=r"auth.secretName 'shared' \(username/password files"):
        load_logins(auth, str(tmp_path), frozenset())


def test_an_unusable_entry_for_another_server_is_refused_for_notary_too(tmp_path: Path) -> None:
    """The Notary's secret is checked whole by the one parser, as cosign's always was."""
    auths = {
        "notary.example:4443": {"username": "u", "password": "p"},
        "other.example": {"auth": "not base64!"},
    }
    auth = _secret(tmp_path, {".dockerconfigjson": _docker_config(auths)})
    with pytest.raises(ConfigError, match=r"entry 'other\.example': 'auth' is not base64 text"):
        load_credentials(auth, str(tmp_path), NOTARY)
    with pytest.raises(ConfigError, match=r"entry 'other\.example'"):
        load_logins(auth, str(tmp_path), frozenset())


def test_username_files_that_are_not_utf8_are_a_config_error(tmp_path: Path) -> None:
    """Bytes that are not UTF-8 in a username file name the secret for both validator kinds
    (cosign's loader used to let the UnicodeDecodeError escape the build)."""
    folder = tmp_path / "shared"
    folder.mkdir()
    (folder / "username").write_bytes(b"\xff\xfe")
    (folder / "password").write_text("pw")
    auth = Auth(secret_name="shared")
    with pytest.raises(ConfigError, match="secret 'shared' in"):
        load_credentials(auth, str(tmp_path), NOTARY)
    with pytest.raises(ConfigError, match="secret 'shared' in"):
        load_logins(auth, str(tmp_path), frozenset({"reg.example"}))
