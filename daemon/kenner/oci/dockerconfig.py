"""Registry logins from a ``.dockerconfigjson`` (a Kubernetes ``kubernetes.io/dockerconfigjson``
Secret), matched to images the way the kubelet's keyring does. This is kenner's one docker
config parser: a cosign validator's secret, the pods' pull secrets and a Notary validator's
secret are all read here.

Keys may be a host (``registry.example:5000``), a host with a path prefix
(``registry.example/team``), or a URL (``https://registry.example/v1/``: scheme and a trailing
``/v1/`` or ``/v2/`` are ignored). Docker Hub's historical key ``https://index.docker.io/v1/``
and its other names are folded to ``docker.io``. For an image, the entry with the longest key
that prefixes ``registry/repository`` at a ``/`` boundary wins.

Scope: a key names one registry (host and port, exactly) and optionally a repository prefix, so
a login is only ever picked for images of that registry: ``example`` never covers
``evil.example`` or ``example.evil``, ``reg.example`` never covers ``reg.example:5000``, and
``reg.example/team`` never covers ``reg.example/teamster`` (the kubelet's plain string prefix
would). Keys are literal: the kubelet's ``*.example`` globs match nothing here, and a key with
user info (``user@host``) matches nothing either. A Notary server is one host: its login is the
entry of the first key naming that host and port exactly, whatever path the key has
(``RegistryLogins.for_server``). A plain login (no key of its own) is given the registries of
its scope as keys (``RegistryLogins.for_registries``), so it too covers those registries only.

Parsing untrusted bytes (a pull secret any user of a namespace can write) ends in
``RegistryLogins`` or ``DockerConfigError``, never another exception.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from kenner.errors import KennerError
from kenner.oci.naming import canonical_registry

_PULL_SECRET_FIELDS = {
    "kubernetes.io/dockerconfigjson": ".dockerconfigjson",
    "kubernetes.io/dockercfg": ".dockercfg",
}


class DockerConfigError(KennerError, ValueError):
    """A ``.dockerconfigjson`` cannot be used; the message names the entry and the reason."""


@attrs.frozen
class RegistryLogin:
    """A username and password for a registry (password not in repr)."""

    username: str
    password: str = attrs.field(repr=False)


@attrs.frozen
class RegistryLogins:
    """Logins by normalised key (``host`` or ``host/path``); no key covers no image."""

    by_prefix: Mapping[str, RegistryLogin] = attrs.field(factory=dict)

    @classmethod
    def for_registries(cls, login: RegistryLogin, registries: Iterable[str]) -> RegistryLogins:
        """``login`` for every repository of each registry (a plain login and its scope)."""
        return cls({canonical_registry(registry): login for registry in sorted(registries)})

    def for_image(self, registry: str, repository: str) -> RegistryLogin | None:
        """The login of the longest key that prefixes ``registry/repository``, or None."""
        name = f"{canonical_registry(registry)}/{repository}"
        best: tuple[int, RegistryLogin] | None = None
        for prefix, login in self.by_prefix.items():
            covers = name == prefix or name.startswith(prefix + "/")
            if covers and (best is None or len(prefix) > best[0]):
                best = (len(prefix), login)
        return None if best is None else best[1]

    def for_server(self, host: str) -> RegistryLogin | None:
        """The login of the first key naming ``host`` (``host[:port]``) exactly, the key's path
        ignored (a Notary server's login), or None."""
        wanted = canonical_registry(host)
        for prefix, login in self.by_prefix.items():
            if prefix.partition("/")[0] == wanted:
                return login
        return None


def combine_logins(sources: Sequence[RegistryLogins]) -> RegistryLogins:
    """One set of logins from several (a pod's pull secrets in order): the first has a key."""
    merged: dict[str, RegistryLogin] = {}
    for source in sources:
        for prefix, login in source.by_prefix.items():
            merged.setdefault(prefix, login)
    return RegistryLogins(merged)


def parse_pull_secret(secret: Mapping[str, Any]) -> RegistryLogins:
    """The logins of a Secret object as the API returns it: type
    ``kubernetes.io/dockerconfigjson`` (``data[".dockerconfigjson"]``, base64) or the legacy
    ``kubernetes.io/dockercfg`` (``data[".dockercfg"]``: the ``auths`` object alone).

    Raises:
        DockerConfigError: another type, or data that is not base64 or not a docker config.
    """
    kind = secret.get("type")
    data = secret.get("data")
    field = _PULL_SECRET_FIELDS.get(kind) if isinstance(kind, str) else None
    if field is None:
        raise DockerConfigError(f"type {_cut(repr(kind))} is not a pull secret type")
    encoded = data.get(field) if isinstance(data, Mapping) else None
    if not isinstance(encoded, str):
        raise DockerConfigError(f"the secret has no data[{field!r}]")
    try:
        decoded = base64.b64decode(encoded, validate=True)
    except ValueError:  # binascii.Error, or characters outside ASCII
        raise DockerConfigError(f"data[{field!r}] is not base64") from None
    if field == ".dockercfg":
        decoded = json.dumps({"auths": _json(decoded)}).encode()
    return parse_docker_config(decoded)


def parse_docker_config(data: bytes) -> RegistryLogins:
    """Parse a ``.dockerconfigjson`` (``{"auths": {key: entry}}``).

    Raises:
        DockerConfigError: not JSON, no ``auths`` object, or an entry without usable credentials.
    """
    document = _json(data)
    auths = document.get("auths") if isinstance(document, dict) else None
    if not isinstance(auths, dict):
        raise DockerConfigError("the docker config has no 'auths' object")
    logins: dict[str, RegistryLogin] = {}
    for key, entry in auths.items():
        prefix = normalise_key(key)
        if prefix:  # a key without a usable host covers no image
            logins[prefix] = _login(key, entry)
    return RegistryLogins(logins)


def _json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than json allows
        raise DockerConfigError("the docker config is not JSON") from None


def normalise_key(key: str) -> str:
    """``https://index.docker.io/v1/`` -> ``docker.io``; ``Reg.example/team/`` ->
    ``reg.example/team``."""
    text = key.strip()
    if "://" in text:
        text = text.split("://", 1)[1]
    text = text.rstrip("/")
    host, _, path = text.partition("/")
    if path in ("v1", "v2"):
        path = ""
    if not host or "@" in host:
        return ""  # no host, or user info: names no registry
    host = canonical_registry(host)
    return f"{host}/{path}" if path else host


def _cut(text: str) -> str:
    return text if len(text) <= 200 else text[:200] + "..."


def _login(key: str, entry: Any) -> RegistryLogin:
    if not isinstance(entry, dict):
        raise DockerConfigError(f"entry {_cut(key)!r} is not an object")
    username, password = entry.get("username"), entry.get("password")
    if isinstance(username, str) and isinstance(password, str) and username:
        return RegistryLogin(username, password)
    encoded = entry.get("auth")
    if isinstance(encoded, str) and encoded:
        try:
            decoded = base64.b64decode(encoded, validate=True).decode()
        except ValueError:  # not base64 (binascii.Error), not ASCII, or not UTF-8 once decoded
            raise DockerConfigError(f"entry {_cut(key)!r}: 'auth' is not base64 text") from None
        user, separator, secret = decoded.partition(":")
        if not separator or not user:
            raise DockerConfigError(f"entry {_cut(key)!r}: 'auth' is not 'username:password'")
        return RegistryLogin(user, secret)
    raise DockerConfigError(f"entry {_cut(key)!r} has neither username/password nor auth")
