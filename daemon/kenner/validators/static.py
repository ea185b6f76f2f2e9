"""``type: static``: a fixed answer, for allow-lists and deny-lists."""

from __future__ import annotations

import attrs

from kenner.admission.verdict import Trusted, Untrusted, Verdict
from kenner.config.model import StaticValidatorConfig
from kenner.validators.base import Ask
from kenner.validators.needs import Facts


@attrs.frozen
class StaticValidator:
    """Admits (``approve: true``) or denies every image, without pinning a digest."""

    config: StaticValidatorConfig
    # Built once: verdicts are immutable, and a static answer is the same for every image.
    _verdict: Verdict = attrs.field(init=False)

    @_verdict.default
    def _answer(self) -> Verdict:
        if self.config.approve:
            return Trusted()
        return Untrusted(f"denied by static validator {self.name!r}")

    @property
    def name(self) -> str:
        return self.config.name

    def reuses_verdict(self, ask: Ask) -> bool:
        """Always: the verdict is fixed by the configuration."""
        return True

    def step(self, ask: Ask, facts: Facts) -> Verdict:
        return self._verdict  # needs nothing
