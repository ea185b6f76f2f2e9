"""What a validator says about one image: trusted (maybe with the signed digest) or not."""

from __future__ import annotations

import attrs


@attrs.frozen
class Trusted:
    """The image may run.

    ``digest`` is the signed manifest digest (``sha256:<hex>``) the image should be pinned to,
    or None when the validator does not establish one (a static allow).
    """

    digest: str | None = None


@attrs.frozen
class Untrusted:
    """The image must not run; ``reason`` says why in words an operator can act on."""

    reason: str


Verdict = Trusted | Untrusted
