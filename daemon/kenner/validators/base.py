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

    A validator first gets the chance to answer synchronously (``cached_verdict``); only the
    images it cannot answer that way are awaited with ``validate``.
    """

    @property
    def name(self) -> str:
        """The validator's configured name."""
        ...

    def cached_verdict(self, image: ImageRef, options: RuleOptions) -> Verdict | None:
        """The verdict ``validate`` would give now, when it needs no I/O to know it (a static
        answer, or everything it needs cached and fresh), else None (then ``validate`` runs).

        Runs in the request's task, without a task of its own, a cancel scope or a checkpoint:
        it must not do I/O or wait. The verdict is exactly ``validate``'s for the same cache
        state, a remembered failure included, and the cache entries it comes from count as
        hits, as they would in ``validate``; a None leaves the statistics untouched.
        """
        ...

    async def validate(self, image: ImageRef, options: RuleOptions) -> Verdict:
        """The verdict for ``image`` under ``options`` (the matching rule's ``with:``)."""
        ...
