"""The validator interface every kind of trust check implements."""

from __future__ import annotations

from typing import Protocol

from kenner.admission.image import ImageRef
from kenner.admission.verdict import Verdict
from kenner.config.model import RuleOptions


class Validator(Protocol):
    """Decides whether one image is trusted under one rule's options.

    Expected failures (unsigned, bad signature, unreachable server) are returned as
    ``Untrusted`` values, never raised. The caller owns the deadline: a validator simply
    awaits, and is cancelled when the request's time is up.

    A validator may also answer from what it already knows, without awaiting: see
    ``AnswersFromCache``.
    """

    @property
    def name(self) -> str:
        """The validator's configured name."""
        ...

    @property
    def needs_network(self) -> bool:
        """Whether ``validate`` waits for I/O. Those that don't must answer without a
        checkpoint: they are awaited inline, outside the deadline's cancel scope, which spares
        a task per image (and the scope when no other image waits) for static answers."""
        ...

    async def validate(self, image: ImageRef, options: RuleOptions) -> Verdict:
        """The verdict for ``image`` under ``options`` (the matching rule's ``with:``)."""
        ...


class AnswersFromCache(Protocol):
    """The optional synchronous fast path of a validator (``kenner.validators.run`` looks for
    it by name, so validators without one, such as test doubles, need not declare it).

    A validator whose answers are all in its caches gives them here without a task, a cancel
    scope or a checkpoint; only the images it cannot answer go to the nursery.
    """

    def cached_verdict(self, image: ImageRef, options: RuleOptions) -> Verdict | None:
        """The verdict ``validate`` would give now, when everything it needs is cached and
        fresh, else None (then ``validate`` runs).

        Must not do I/O or wait. The verdict is exactly ``validate``'s for the same cache
        state, a remembered failure included, and the cache entries it comes from count as
        hits, as they would in ``validate``; a None leaves the statistics untouched.
        """
        ...
