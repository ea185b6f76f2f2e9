"""JSON Patch (RFC 6902) operations that pin images to their signed digests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kenner.admission.image import ImageRef
from kenner.admission.workload import ImageSite


def pin_images(pins: Sequence[tuple[ImageSite, ImageRef]]) -> tuple[dict[str, Any], ...]:
    """One ``replace`` per image field whose value changes, in the order given.

    The pointers come from ``extract_images`` and consist of fixed keys and list indexes, so
    they need no RFC 6901 escaping. A field that already holds the pinned reference is left
    alone: an empty patch is the clearest way to say nothing changes.
    """
    return tuple(
        {"op": "replace", "path": site.pointer, "value": str(ref)}
        for site, ref in pins
        if site.image != str(ref)
    )
