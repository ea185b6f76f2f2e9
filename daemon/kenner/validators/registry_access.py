"""How the cosign validator reaches registries: whose login, which CA, which session.

* Logins (``auth``, read by ``kenner.validators.credentials``): a plain login for the registries
  of its scope only (``auth.registry``, else the validator's rules' literal registry hosts:
  ``kenner.config.login_scope``), or per image from a mounted ``.dockerconfigjson`` (longest
  prefix, ``kenner.oci.dockerconfig``); both are ``RegistryLogins``, a plain login keyed by the
  registries of its scope. With ``auth.k8sKeychain`` the admitted object's pull secrets come
  first, passed to the step for each request (``Logins``). An image on any other registry gets
  no login.
  The step chooses the login (``Logins``, pure) and puts it into every need it asks for.
* CAs: a registry's ``registryCerts`` entry, else the validator's ``cert``, else the system CAs.
* One authenticating session (and token cache) per (registry, login) (``RegistryAccess``, used
  by the driver's network). The session's
  ``Credentials`` carry the registry's API host as their scope, so the login goes to that
  registry and the token realm of its own challenge only (``kenner.net.auth``): a login a
  docker config key or a pull secret gives for registry R is picked only for images on R, and
  within one image's reads it cannot follow a redirect or a challenge to another host.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias
from urllib.parse import urlsplit

import attrs

from kenner.config.errors import ConfigError
from kenner.config.login_scope import NO_SCOPE
from kenner.config.model import Auth, CosignValidatorConfig
from kenner.net.auth import AuthSession, Credentials
from kenner.net.http import Fetcher, Fetchers
from kenner.net.registry import RegistryClient
from kenner.oci.dockerconfig import RegistryLogin, RegistryLogins
from kenner.oci.naming import api_base, canonical_registry
from kenner.validators.credentials import read_auth, secret_folder

MAX_SESSIONS = 256


LoginSource: TypeAlias = RegistryLogins
"""A cosign validator's configured logins: a docker config's, or its plain login keyed by the
registries of its scope (``RegistryLogins.for_registries``)."""


def load_logins(auth: Auth | None, secrets_dir: str, scope: frozenset[str]) -> LoginSource:
    """The registry logins ``auth`` describes (read when the configuration is loaded).

    ``scope`` is where a plain login may go (``kenner.config.login_scope.plain_login_scope``).

    Raises:
        ConfigError: the secret is missing or unreadable, or it holds a plain login and
            ``scope`` is empty.
    """
    found = read_auth(auth, secrets_dir)
    if not isinstance(found, RegistryLogin):
        return LoginSource() if found is None else found
    if not scope:  # the loader refuses this for inline logins; secret files are read only now
        assert auth is not None
        where = "auth.username"
        if auth.secret_name is not None:
            folder = secret_folder(auth.secret_name, secrets_dir)
            where = f"auth.secretName {auth.secret_name!r} (username/password files in {folder})"
        raise ConfigError(f"{where}: {NO_SCOPE}")
    return RegistryLogins.for_registries(found, scope)


@attrs.frozen
class Logins:
    """Whose login an image is read with (pure: the step chooses, the driver only uses it)."""

    configured: LoginSource
    use_pull_secrets: bool = False  # auth.k8sKeychain

    def login(
        self, registry: str, repository: str, pull_logins: RegistryLogins | None = None
    ) -> RegistryLogin | None:
        """The login for an image: from the admitted object's pull secrets when the validator
        uses them (``auth.k8sKeychain``) and one covers the image, else from the config."""
        if self.use_pull_secrets and pull_logins is not None:
            login = pull_logins.for_image(registry, repository)
            if login is not None:
                return login
        return self.configured.for_image(registry, repository)


class RegistryAccess:
    """One authenticating session per (registry, login), over the registry's verifying fetcher.

    ``fetcher_for`` gives the fetcher that trusts the registry's CA; it is also the one that
    reaches the token realm the registry names.
    """

    def __init__(self, fetcher_for: Callable[[str], Fetcher]) -> None:
        self._fetcher_for = fetcher_for
        self._sessions: dict[tuple[str, RegistryLogin | None], AuthSession] = {}

    def client(self, registry: str, login: RegistryLogin | None) -> RegistryClient:
        key = (canonical_registry(registry), login)
        session = self._sessions.get(key)
        if session is None:
            credentials = None
            if login is not None:
                host = urlsplit(api_base(key[0])).netloc
                credentials = Credentials(login.username, login.password, host=host)
            session = AuthSession(self._fetcher_for(key[0]), credentials)
            if len(self._sessions) >= MAX_SESSIONS:
                # Pods' pull secrets may bring many logins: forget the oldest session.
                del self._sessions[next(iter(self._sessions))]
            self._sessions[key] = session
        return RegistryClient(session, registry)


def registry_fetchers(
    validator: CosignValidatorConfig, fetchers: Fetchers
) -> Callable[[str], Fetcher]:
    """The fetcher for each registry: trusting its ``registryCerts`` entry, else ``cert``."""
    by_registry = {canonical_registry(host): pem for host, pem in validator.registry_certs.items()}

    def fetcher_for(registry: str) -> Fetcher:
        return fetchers.for_ca_bundle(by_registry.get(canonical_registry(registry), validator.cert))

    return fetcher_for
