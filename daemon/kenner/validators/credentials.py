"""A validator's ``auth``, read once: the one secret loader of the Notary and cosign validators.

``auth`` is an inline ``username``/``password``, or ``secretName``: a directory under
``secretsDir`` (a mounted Kubernetes Secret) holding a ``.dockerconfigjson`` or ``username`` and
``password`` files (the ``.dockerconfigjson`` wins when it holds both). A docker config is parsed
by ``kenner.oci.dockerconfig``, the one parser, with its scoping rules; any entry it cannot use
is a configuration error, whichever server it names. Files are read when the configuration is
(re)loaded, never on the request path.

What a login may reach is decided by the validator kind:

* Notary (``load_credentials``): the login belongs to the Notary server ``host`` names. From a
  docker config, only the entry whose key names that host and port exactly is used (a scheme
  and a path in the key are ignored, as Docker does; ``notary.example`` never matches
  ``notary.example:4443``, ``evil.notary.example`` or ``notary.example.evil``). The
  ``Credentials`` carry the server's ``host[:port]`` as their scope (``Credentials.host``), so
  the session sends them only to the Notary server and the token realm its own challenge names.
* cosign (``kenner.validators.registry_access.load_logins``): a docker config's keys are its
  scope; a plain login gets the registries of ``kenner.config.login_scope``.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from kenner.config.errors import ConfigError
from kenner.config.model import Auth
from kenner.net.auth import Credentials
from kenner.oci.dockerconfig import RegistryLogin, RegistryLogins, parse_docker_config


def read_auth(auth: Auth | None, secrets_dir: str) -> RegistryLogin | RegistryLogins | None:
    """The plain login (inline, or ``username``/``password`` files) or the docker config logins
    that ``auth`` gives; None without ``auth``, or for ``k8sKeychain`` alone.

    Raises:
        ConfigError: the secret is missing or unreadable, or its docker config is unusable.
    """
    if auth is None:
        return None
    if auth.username is not None:
        return RegistryLogin(auth.username, auth.password or "")
    if auth.secret_name is None:
        return None
    folder = secret_folder(auth.secret_name, secrets_dir)
    try:
        if (folder / ".dockerconfigjson").is_file():
            return parse_docker_config((folder / ".dockerconfigjson").read_bytes())
        if (folder / "username").is_file():
            username = (folder / "username").read_text().strip()
            password = (folder / "password").read_text().strip()
            return RegistryLogin(username, password)
    except (OSError, ValueError) as error:  # ValueError: DockerConfigError, or not UTF-8 text
        raise ConfigError(f"secret {auth.secret_name!r} in {folder}: {error}") from None
    raise ConfigError(
        f"secret {auth.secret_name!r}: {folder} holds neither username/password "
        "nor .dockerconfigjson"
    )


def secret_folder(secret_name: str, secrets_dir: str) -> Path:
    """Where the secret ``secret_name`` is mounted."""
    return Path(secrets_dir) / secret_name


def load_credentials(auth: Auth | None, secrets_dir: str, server_url: str) -> Credentials | None:
    """The credentials ``auth`` describes for the Notary server at ``server_url``, or None.

    Raises:
        ConfigError: the secret is missing, unreadable, or has no entry for the server.
    """
    host = _host(server_url)
    found = read_auth(auth, secrets_dir)
    if isinstance(found, RegistryLogins):
        login = found.for_server(host)
        if login is None:
            assert auth is not None
            raise ConfigError(
                f"secret {auth.secret_name!r}: .dockerconfigjson has no entry for {host}"
            )
        found = login
    return None if found is None else Credentials(found.username, found.password, host=host)


def _host(url: str) -> str:
    """``https://notary.example:4443/v1/`` -> the host[:port]; ``""`` for a URL with user info
    (``user@host``) or no host, which no docker config key names."""
    text = url.strip()
    if "://" not in text:
        text = "https://" + text
    netloc = urlsplit(text).netloc.lower()
    return "" if "@" in netloc else netloc
