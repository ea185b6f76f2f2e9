"""The fetches of ``kenner.validators.needs`` over one validator's network access.

Rules: one branch per fetch kind, each a thin call into ``kenner.net`` (the registry client,
the referrers reader, the authenticating session) with the need's size cap and every request
under ``fetch_s``; a 404 is the value None, any other failure a ``KennerError`` naming the URL
(or ``trio.TooSlowError``, which the driver turns into ``FetchTimedOut``). Counting, caching
and sharing are the driver's (``kenner.validators.driver``), not this module's.
"""

from __future__ import annotations

from typing import Any, Protocol

import attrs
import trio

from kenner.net.auth import AuthSession
from kenner.net.errors import NotFound
from kenner.net.referrers import ApiMemory, fetch_blob, fetch_referrer, list_referrers
from kenner.oci.manifest import OCI_MANIFEST
from kenner.oci.referrers import ArtifactDescriptor
from kenner.validators.needs import Blob, Manifest, Need, Referrer, Referrers, TufRole
from kenner.validators.registry_access import RegistryAccess


class Network(Protocol):
    """Where the driver sends a validator's fetch needs."""

    def host(self, need: Need[Any]) -> str:
        """The server ``need`` is fetched from (statistics)."""
        ...

    def location(self, need: Need[Any]) -> str:
        """What a failure of ``need`` names (a URL)."""
        ...

    async def fetch(self, need: Need[Any], fetch_s: float) -> object:
        """The value of the fetch ``need`` (None for a 404), each request under ``fetch_s``.

        Raises:
            KennerError: it failed (never ``NotFound``).
            trio.TooSlowError: a request took longer than ``fetch_s``.
        """
        ...


@attrs.frozen
class NotaryServer:
    """A Notary v1 server and the session that reads its trust data."""

    host: str  # the configured URL, e.g. https://notary.example:4443
    session: AuthSession


@attrs.frozen
class ValidatorNetwork:
    """The registries (cosign, referrers) and the Notary server (notaryv1) one validator
    reads, and what it learnt of their referrers API (``referrers_api``)."""

    registries: RegistryAccess | None = None
    notary: NotaryServer | None = None
    referrers_api: ApiMemory = attrs.field(factory=ApiMemory, eq=False)

    def host(self, need: Need[Any]) -> str:
        if isinstance(need, TufRole):
            return self._notary().host
        assert isinstance(need, Manifest | Blob | Referrers | Referrer)
        return need.registry

    def location(self, need: Need[Any]) -> str:
        if isinstance(need, TufRole):
            return f"{self._notary().host}/v2/{need.gun}/_trust/tuf/{need.role}.json"
        if isinstance(need, Manifest):
            return f"{need.registry}/{need.repository}:{need.reference}"
        assert isinstance(need, Blob | Referrers | Referrer)
        return f"{need.registry}/{need.repository}@{need.digest}"

    async def fetch(self, need: Need[Any], fetch_s: float) -> object:
        try:
            return await self._fetch(need, fetch_s)
        except NotFound:
            return None

    async def _fetch(self, need: Need[Any], fetch_s: float) -> object:
        if isinstance(need, TufRole):
            session = self._notary().session
            with trio.fail_after(fetch_s):
                url = self.location(need)
                return (await session.get(url, repository=need.gun, max_bytes=need.max_bytes)).body
        assert isinstance(need, Manifest | Blob | Referrers | Referrer)
        client = self._registries().client(need.registry, need.login)
        if isinstance(need, Manifest):
            with trio.fail_after(fetch_s):
                return await client.manifest(need.repository, need.reference)
        if isinstance(need, Blob) and need.size is None:
            with trio.fail_after(fetch_s):
                return await client.blob(need.repository, need.digest, max_bytes=need.max_bytes)
        if isinstance(need, Blob):
            declared = ArtifactDescriptor(OCI_MANIFEST, need.digest, need.size or 0)
            return await fetch_blob(
                client, need.repository, declared, max_bytes=need.max_bytes, fetch_s=fetch_s
            )
        if isinstance(need, Referrers):
            return await list_referrers(
                client,
                need.repository,
                need.digest,
                artifact_type=need.artifact_type,
                fetch_s=fetch_s,
                memory=self.referrers_api,
            )
        entry = ArtifactDescriptor(OCI_MANIFEST, need.digest, need.size)
        return await fetch_referrer(
            client,
            need.repository,
            entry,
            subject=need.subject,
            artifact_type=need.artifact_type,
            layer_max_bytes=need.layer_max_bytes,
            fetch_s=fetch_s,
        )

    def _notary(self) -> NotaryServer:
        if self.notary is None:
            raise TypeError("this validator has no Notary server")
        return self.notary

    def _registries(self) -> RegistryAccess:
        if self.registries is None:
            raise TypeError("this validator reads no registry")
        return self.registries
