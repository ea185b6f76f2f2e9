"""Signed content on in-memory servers, for the tests of cached verdicts.

``SignedNotary``: a Notary v1 repository (``GUN``, tag v1 signed) on ``FakeNotary``.
``SignedRegistry``: Cosign-signed, unsigned and foreign-signed images of ``team/app`` on
``FakeRegistry``, and a multi-platform image whose index alone is signed.
"""

from __future__ import annotations

from tests.support.cosign_signing import PrivateKey, new_key, public_pem
from tests.support.fake_notary import FakeNotary
from tests.support.fake_registry import FakeRegistry
from tests.unit.tuf.builder import RepositoryBuilder

GUN = "registry.kenner.test/team/app"
NOTARY = "https://notary.kenner.test"
REGISTRY = "registry.kenner.test"


class SignedNotary:
    """A signed repository (tag v1) served by a fake Notary, and the digest v1 names."""

    def __init__(self) -> None:
        builder = RepositoryBuilder(gun=GUN)
        self.pin_pem = builder.root_key.pem()
        self.digest = builder.add_target("v1", b"signed manifest")
        self.server = FakeNotary(GUN)
        self.server.publish(builder.build())


class SignedRegistry:
    """A fake registry with signed, unsigned and foreign-signed images of ``team/app``."""

    def __init__(self) -> None:
        self.key: PrivateKey = new_key()
        self.server = FakeRegistry(REGISTRY)
        self.signed = self.server.signed_image("team/app", "signed", self.key)
        self.unsigned = self.server.image("team/app", "unsigned")
        self.foreign = self.server.signed_image("team/app", "foreign", new_key())
        # A multi-platform image whose index is signed, its platform manifest not.
        self.platform = self.server.image("team/app", "platform-only")
        self.index = self.server.index("team/app", "multi", [self.platform])
        self.server.sign("team/app", self.index, self.key)

    @property
    def public_pem(self) -> str:
        return public_pem(self.key)
