"""The fetches of ``kenner.validators.needs`` over one validator's network access.

Rules: one function per fetch kind, each a thin call into ``kenner.net`` (the registry client,
the authenticating session) with the need's size cap; a 404 is the value None, any other
failure a ``FetchError`` naming the URL. Deadlines, counting, caching and sharing are the
driver's (``kenner.validators.driver``), not this module's.
"""

from __future__ import annotations

from typing import Any, Protocol

import attrs

from kenner.net.auth import AuthSession
from kenner.net.errors import FetchError, NotFound
from kenner.validators.needs import Blob, Manifest, Need, Referrers, TufRole
from kenner.validators.registry_access import RegistryAccess


class Network(Protocol):
    """Where the driver sends a validator's fetch needs."""

    def host(self, need: Need[Any]) -> str:
        """The server ``need`` is fetched from (statistics)."""
        ...

    def location(self, need: Need[Any]) -> str:
        """What a failure of ``need`` names (a URL)."""
        ...

    async def fetch(self, need: Need[Any]) -> object:
        """The value of the fetch ``need`` (None for a 404).

        Raises:
            FetchError: it failed (never ``NotFound``).
        """
        ...


@attrs.frozen
class NotaryServer:
    """A Notary v1 server and the session that reads its trust data."""

    host: str  # the configured URL, e.g. https://notary.example:4443
    session: AuthSession


@attrs.frozen
class ValidatorNetwork:
    """The registries (cosign) and the Notary server (notaryv1) one validator reads."""

    registries: RegistryAccess | None = None
    notary: NotaryServer | None = None

    def host(self, need: Need[Any]) -> str:
        if isinstance(need, TufRole):
            return self._notary().host
        assert isinstance(need, Manifest | Blob | Referrers)
        return need.registry

    def location(self, need: Need[Any]) -> str:
        if isinstance(need, TufRole):
            return f"{self._notary().host}/v2/{need.gun}/_trust/tuf/{need.role}.json"
        if isinstance(need, Manifest):
            return f"{need.registry}/{need.repository}:{need.reference}"
        assert isinstance(need, Blob | Referrers)
        return f"{need.registry}/{need.repository}@{need.digest}"

    async def fetch(self, need: Need[Any]) -> object:
        try:
            return await self._fetch(need)
        except NotFound:
            return None

    async def _fetch(self, need: Need[Any]) -> object:
        if isinstance(need, TufRole):
            session = self._notary().session
            url = self.location(need)
            return (await session.get(url, repository=need.gun, max_bytes=need.max_bytes)).body
        if isinstance(need, Manifest):
            client = self._registries().client(need.registry, need.login)
            return await client.manifest(need.repository, need.reference)
        if isinstance(need, Blob):
            client = self._registries().client(need.registry, need.login)
            return await client.blob(need.repository, need.digest, max_bytes=need.max_bytes)
        if isinstance(need, Referrers):
            raise FetchError(self.location(need), "reading referrers is not supported yet")
        raise TypeError(f"not a fetch need: {need!r}")

    def _notary(self) -> NotaryServer:
        if self.notary is None:
            raise TypeError("this validator has no Notary server")
        return self.notary

    def _registries(self) -> RegistryAccess:
        if self.registries is None:
            raise TypeError("this validator reads no registry")
        return self.registries
