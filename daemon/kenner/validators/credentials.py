"""Credentials for a Notary server or registry, from the configuration or a mounted secret.

A secret (``auth.secretName``) is a directory under ``secretsDir`` (a mounted Kubernetes
Secret), holding either ``username`` and ``password`` files or a ``.dockerconfigjson``. In a
docker config, the entry whose key names the server's host and port exactly is used (a scheme
and a path in the key are ignored, as Docker does; ``notary.example`` never matches
``notary.example:4443``, ``evil.notary.example`` or ``notary.example.evil``). Files are read
when the configuration is (re)loaded, never on the request path.

The credentials carry the server's ``host[:port]`` as their scope (``Credentials.host``), so
the session sends them only to the Notary server and the token realm its own challenge names.
"""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path
from urllib.parse import urlsplit

from kenner.config.errors import ConfigError
from kenner.config.model import Auth
from kenner.net.auth import Credentials


def load_credentials(auth: Auth | None, secrets_dir: str, server_url: str) -> Credentials | None:
    """The credentials ``auth`` describes for the server at ``server_url``, or None.

    Raises:
        ConfigError: the secret is missing, unreadable, or has no entry for the server.
    """
    if auth is None:
        return None
    host = _host(server_url)
    if auth.username is not None:
        return Credentials(auth.username, auth.password or "", host=host)
    assert auth.secret_name is not None  # the loader requires one of the two
    folder = Path(secrets_dir) / auth.secret_name
    try:
        if (folder / "username").is_file():
            username = (folder / "username").read_text().strip()
            password = (folder / "password").read_text().strip()
            return Credentials(username, password, host=host)
        if (folder / ".dockerconfigjson").is_file():
            config = json.loads((folder / ".dockerconfigjson").read_text())
            return _from_docker_config(config, host, auth.secret_name)
    except (OSError, ValueError, RecursionError) as error:
        # RecursionError: JSON nested deeper than the parser allows.
        raise ConfigError(f"secret {auth.secret_name!r} in {folder}: {error}") from None
    raise ConfigError(
        f"secret {auth.secret_name!r}: {folder} holds neither username/password "
        "nor .dockerconfigjson"
    )


def _from_docker_config(config: object, host: str, secret: str) -> Credentials:
    auths = config.get("auths") if isinstance(config, dict) else None
    if not isinstance(auths, dict):
        raise ValueError(".dockerconfigjson has no 'auths' object")
    for key, entry in auths.items():
        if isinstance(key, str) and _host(key) == host and isinstance(entry, dict):
            return _entry_credentials(entry, host)
    raise ConfigError(f"secret {secret!r}: .dockerconfigjson has no entry for {host}")


def _entry_credentials(entry: dict[str, object], host: str) -> Credentials:
    username, password = entry.get("username"), entry.get("password")
    if isinstance(username, str) and isinstance(password, str):
        return Credentials(username, password, host=host)
    encoded = entry.get("auth")
    if isinstance(encoded, str):
        try:
            user, _, secret = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise ValueError("an 'auth' value of .dockerconfigjson is not base64") from None
        return Credentials(user, secret, host=host)
    raise ValueError("a .dockerconfigjson entry has neither username/password nor auth")


def _host(url_or_host: str) -> str:
    """``https://notary.example:4443/v1/`` and ``notary.example:4443`` -> the host[:port];
    ``""`` for a key with user info (``user@host``) or no host, which matches no server."""
    text = url_or_host.strip()
    if "://" not in text:
        text = "https://" + text
    netloc = urlsplit(text).netloc.lower()
    return "" if "@" in netloc else netloc
