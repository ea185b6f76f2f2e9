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
