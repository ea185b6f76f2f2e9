"""Scripted validators for tests of the admission pipeline (the real ones have their own tests).

``ScriptedValidator`` answers from a table, the way Connaisseur's Go handler tests use a
validator that returns fixed digests; ``SlowValidator`` sleeps first, for deadline tests.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs
import trio

from kenner.admission.image import ImageRef
from kenner.admission.verdict import Trusted, Untrusted, Verdict
from kenner.config.model import RuleOptions
from kenner.oci.dockerconfig import RegistryLogins


@attrs.define
class ScriptedValidator:
    """Trusted with the digest listed for an image (by normalised reference), else Untrusted."""

    name: str
    digests: Mapping[str, str]
    calls: list[str] = attrs.Factory(list)

    def answer_now(
        self, image: ImageRef, options: RuleOptions, pull_logins: RegistryLogins | None = None
    ) -> Verdict | None:
        return None  # always awaited

    async def answer(
        self, image: ImageRef, options: RuleOptions, pull_logins: RegistryLogins | None = None
    ) -> Verdict:
        self.calls.append(str(image))
        await trio.lowlevel.checkpoint()
        digest = self.digests.get(str(image))
        if digest is None:
            return Untrusted(f"no signed digest for {image}")
        return Trusted(digest)


@attrs.define
class SlowValidator:
    """Trusted after ``delay_s`` seconds (of trio time)."""

    name: str
    delay_s: float
    digest: str | None = None

    def answer_now(
        self, image: ImageRef, options: RuleOptions, pull_logins: RegistryLogins | None = None
    ) -> Verdict | None:
        return None  # always awaited

    async def answer(
        self, image: ImageRef, options: RuleOptions, pull_logins: RegistryLogins | None = None
    ) -> Verdict:
        await trio.sleep(self.delay_s)
        return Trusted(self.digest)


@attrs.define
class BrokenValidator:
    """Raises, as a validator with a bug would."""

    name: str

    def answer_now(
        self, image: ImageRef, options: RuleOptions, pull_logins: RegistryLogins | None = None
    ) -> Verdict | None:
        return None  # always awaited

    async def answer(
        self, image: ImageRef, options: RuleOptions, pull_logins: RegistryLogins | None = None
    ) -> Verdict:
        raise RuntimeError("bug")
