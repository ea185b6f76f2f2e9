"""What a validator step can ask for: the kinds of needs the driver knows how to meet.

A step (``kenner.validators.base.Validator``) never does I/O. It names what it is missing as
``Need`` values and the driver (``kenner.validators.driver``) comes back with an outcome for
each: the value, or the failure (a ``KennerError``, or ``trio.TooSlowError`` for a shared
load that outlived its deadline).

Rules:

- A need is a frozen, hashable value: equal needs are one fact, fetched or computed once per
  answer, and (when the verdict step asks for it) cached and shared between concurrent
  requests by that equality. So a need holds everything its outcome depends on, the registry
  login included: what one login reads is never another login's fact.
- ``Need[V]``: ``V`` is the type of the value the driver hands back (``Facts.get``).
- Three families:

  * fetches (``Manifest``, ``Blob``, ``Referrers``, ``Referrer``, ``TufRole``): read from the
    network by the driver (``kenner.validators.network``), each request under
    ``deadlines.fetchSeconds``. A 404 is an answer, ``None``; every other failure is a
    ``KennerError``: a ``FetchError`` (``FetchTimedOut`` for no answer in time), or the
    referrers rules' ``ReferrersError``. Every fetch is size-capped: by its ``max_bytes``,
    else by the reader's own cap (manifests, referrers lists).
  * ``Derived``: a value the validator computes from other needs (verified trust data, the
    signers of a digest), a subclass per kind of value. Its ``derive`` is a step of its own:
    given the facts so far it returns ``Loaded`` (the value, with an optional ttl bound) or
    the next ``Needs``, and it may raise a ``KennerError`` to fail. Derived values are always
    cached and single-flight.
  * ``Compute``: pure CPU work (verifying signatures, parsing big metadata). The driver runs
    ``run()`` on the event loop, or in a worker thread when ``in_thread`` is set (the step
    decides by a measured size threshold). A ``KennerError`` it raises is its outcome; it
    must not touch state the event loop mutates.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import Any, Generic, Protocol, TypeVar

import attrs

from kenner.net.cache import Cached, CachedFailure
from kenner.net.errors import FetchError
from kenner.net.loader import Loaded
from kenner.net.referrers import Discovery
from kenner.net.registry import FetchedManifest
from kenner.oci.dockerconfig import RegistryLogin
from kenner.oci.referrers import ReferrerManifest

V = TypeVar("V")


class Need(Generic[V]):
    """Something a step asks for; the driver hands back a ``V`` or a failure."""

    __slots__ = ()


class Facts(Protocol):
    """What the driver got so far for one answer (or one derivation)."""

    def get(self, need: Need[V]) -> Cached[V] | CachedFailure | None:
        """The outcome of ``need`` (``kenner.net.cache.unwrap`` gives the value or raises the
        failure), or None when it is not at hand yet: then return it in ``Needs``."""
        ...


@attrs.frozen
class Needs:
    """A step's answer when facts are missing: what to get next (concurrently).

    ``later`` names needs among ``needs`` that the step judges only after the others (cosign's
    attestations, which count only once the signatures pass): asked together so that they
    are read in the same round trips, but their failure does not end the wait for the others,
    whose own outcomes decide first.
    """

    needs: tuple[Need[Any], ...]
    later: frozenset[Need[Any]] = frozenset()

    @classmethod
    def of(cls, *needs: Need[Any]) -> Needs:
        return cls(needs)


class FetchTimedOut(FetchError):
    """A fetch got no (complete) answer within ``deadlines.fetchSeconds``."""


# --- fetches ---------------------------------------------------------------------------------


@attrs.frozen(cache_hash=True)  # hashed on every cache look-up of a warm request
class Manifest(Need[FetchedManifest | None]):
    """The manifest (or index) ``reference`` (a tag or a digest) names; None when absent."""

    registry: str  # canonical (kenner.oci.naming.canonical_registry)
    repository: str
    reference: str
    login: RegistryLogin | None


@attrs.frozen(cache_hash=True)
class Blob(Need[bytes | None]):
    """The blob ``digest``, at most ``max_bytes`` (``TooLarge`` beyond), its digest checked.

    ``size``, when a descriptor declares it (a referrer's layer), is checked against
    ``max_bytes`` before any request, and no more than it is read
    (``kenner.net.referrers.fetch_blob``).
    """

    registry: str
    repository: str
    digest: str
    max_bytes: int
    login: RegistryLogin | None
    size: int | None = None


@attrs.frozen(cache_hash=True)
class Referrers(Need[Discovery]):
    """The OCI referrers of the manifest ``digest`` with ``artifact_type`` (None: any), bounded
    and paged as docs/referrers.md says (``kenner.net.referrers.list_referrers``); no
    referrers is an empty list, never None."""

    registry: str
    repository: str
    digest: str
    artifact_type: str | None
    login: RegistryLogin | None


@attrs.frozen(cache_hash=True)
class Referrer(Need[ReferrerManifest | None]):
    """The manifest of one listed referrer: fetched by ``digest`` (``size`` as listed), checked
    to be an OCI image manifest of ``artifact_type`` whose subject is ``subject`` and whose
    layers declare at most ``layer_max_bytes`` each (``kenner.net.referrers.fetch_referrer``);
    None when absent."""

    registry: str
    repository: str
    digest: str
    size: int
    subject: str
    artifact_type: str | None
    layer_max_bytes: int
    login: RegistryLogin | None


@attrs.frozen(cache_hash=True)
class TufRole(Need[bytes | None]):
    """A TUF role file of ``gun`` on the validator's Notary server (``1.root`` etc. for the
    versioned roots), at most ``max_bytes``; None when absent.

    ``attempt`` tells a fetch repeated on purpose (a publish raced the first one) from the
    first: equal needs are one fact, so without it the repeat would get the first bytes.
    """

    gun: str
    role: str
    max_bytes: int
    attempt: int = 0


FETCHES = (Manifest, Blob, Referrers, Referrer, TufRole)


@attrs.frozen(cache_hash=True)
class SharedVersions(Need[Mapping[str, int] | None]):
    """Record verified TUF ``versions`` of ``gun`` at ``host`` in the replicas' shared rollback
    memory (Redis, ``kenner.validators.shared``). The value: the higher versions another
    replica verified (empty: recorded), or None when there is no shared memory or it could not
    be asked; it never fails. ``attempt`` as for ``TufRole``. Not cached."""

    host: str
    gun: str
    versions: tuple[tuple[str, int], ...]
    attempt: int = 0


# --- done by the driver itself ----------------------------------------------------------------


class Derived(Need[V]):
    """A value derived from other needs (see the module): subclass it per kind of value.

    A subclass is a frozen attrs class whose fields hold everything the value depends on (its
    identity: the cache key), and whose ``derive`` is the derivation step. A field that only
    points back to the validator for ``derive`` is ``attrs.field(eq=False, repr=False)``.
    """

    __slots__ = ()

    def derive(self, facts: Facts) -> Loaded[V] | Needs:
        """The value from ``facts`` (a ``Loaded``), or the needs still missing.

        Raises:
            KennerError: the value cannot be derived (remembered as a failure).
        """
        raise NotImplementedError


@attrs.frozen(cache_hash=True)
class Compute(Need[V]):
    """``run()``, pure CPU work, in a worker thread when ``in_thread``; equal by ``key``."""

    key: Hashable
    run: Callable[[], V] = attrs.field(eq=False, repr=False)
    in_thread: bool = attrs.field(default=False, eq=False)
