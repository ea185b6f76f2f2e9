"""JSON patch operations that pin images to their signed digests."""

from __future__ import annotations

from kenner.admission.image import parse_image
from kenner.admission.patch import pin_images
from kenner.admission.workload import ImageSite

DIGEST = "sha256:" + "0123456789abcdef" * 4


def test_one_replace_per_changed_field_in_order() -> None:
    nginx = parse_image("nginx:1.27").with_digest(DIGEST)
    pins = [
        (ImageSite("/spec/containers/0/image", "a", "nginx:1.27"), nginx),
        (ImageSite("/spec/initContainers/0/image", "b", "docker.io/library/nginx:1.27"), nginx),
    ]
    assert pin_images(pins) == (
        {
            "op": "replace",
            "path": "/spec/containers/0/image",
            "value": f"docker.io/library/nginx:1.27@{DIGEST}",
        },
        {
            "op": "replace",
            "path": "/spec/initContainers/0/image",
            "value": f"docker.io/library/nginx:1.27@{DIGEST}",
        },
    )


def test_a_field_that_already_holds_the_pinned_reference_is_left_alone() -> None:
    pinned = f"docker.io/library/nginx:1.27@{DIGEST}"
    site = ImageSite("/spec/containers/0/image", "a", pinned)
    assert pin_images([(site, parse_image(pinned))]) == ()


def test_digest_only_references_stay_digest_only() -> None:
    ref = parse_image(f"registry.k8s.io/pause@{DIGEST}")
    site = ImageSite("/spec/containers/0/image", "a", f"registry.k8s.io/pause@{'1' * 64}")
    (operation,) = pin_images([(site, ref)])
    assert operation["value"] == f"registry.k8s.io/pause@{DIGEST}"
