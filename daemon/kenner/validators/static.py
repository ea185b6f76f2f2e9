"""``type: static``: a fixed answer, for allow-lists and deny-lists."""

from __future__ import annotations

import attrs

from kenner.admission.image import ImageRef
from kenner.admission.verdict import Trusted, Untrusted, Verdict
from kenner.config.model import RuleOptions, StaticValidatorConfig


@attrs.frozen
class StaticValidator:
    """Admits (``approve: true``) or denies every image, without pinning a digest."""

    config: StaticValidatorConfig

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def needs_network(self) -> bool:
        return False

    async def validate(self, image: ImageRef, options: RuleOptions) -> Verdict:
        if self.config.approve:
            return Trusted()
        return Untrusted(f"denied by static validator {self.name!r}")
