"""Hostile review of OCI referrers discovery (``kenner.oci.referrers``): what whoever can push
to a repository (or answer as its registry) can make of a referrers list, its ``Link`` pages
and the referrer manifests it points at.

Every list entry is only a pointer; these tests check that nothing an entry claims (its
artifact type, its size, another image's signature) is believed without the referrer's own
manifest, and that a list cannot send kenner elsewhere or make it read without bound. No hole
was found here; the tests pin the behaviour.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kenner.oci.manifest import OCI_INDEX, OCI_MANIFEST
from kenner.oci.referrers import (
    REFERRERS_MAX,
    ForeignSubject,
    ReferrerSelection,
    ReferrersError,
    next_page,
    parse_referrer_manifest,
    parse_referrers_index,
)

NOTATION = "application/vnd.cncf.notary.signature"
IMAGE = "sha256:" + "11" * 32
OTHER_IMAGE = "sha256:" + "22" * 32
PAGE = "https://registry.test/v2/team/app/referrers/" + IMAGE


def _digest(n: int) -> str:
    return f"sha256:{n:064x}"


def _entry(
    n: int, artifact_type: str | None = NOTATION, media_type: str = OCI_MANIFEST
) -> dict[str, Any]:
    entry: dict[str, Any] = {"mediaType": media_type, "digest": _digest(n), "size": 500}
    if artifact_type is not None:
        entry["artifactType"] = artifact_type
    return entry


def _index(entries: list[dict[str, Any]]) -> bytes:
    return json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}).encode()


def _referrer(
    subject: str = IMAGE, artifact_type: str | None = NOTATION, layers: int = 1, size: int = 900
) -> bytes:
    document: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.empty.v1+json",
            "digest": _digest(0),
            "size": 2,
        },
        "layers": [
            {"mediaType": "application/jose+json", "digest": _digest(100 + i), "size": size}
            for i in range(layers)
        ],
        "subject": {"mediaType": OCI_MANIFEST, "digest": subject, "size": 1000},
    }
    if artifact_type is not None:
        document["artifactType"] = artifact_type
    return json.dumps(document).encode()


def test_a_referrer_of_another_image_listed_here_is_refused_by_its_own_subject() -> None:
    with pytest.raises(ForeignSubject):
        parse_referrer_manifest(
            _referrer(subject=OTHER_IMAGE),
            subject=IMAGE,
            artifact_type=NOTATION,
            layer_max_bytes=10**6,
        )


def test_an_artifact_type_claimed_by_the_list_is_read_again_from_the_manifest() -> None:
    # Listed as a Notation signature, the manifest is an SBOM: refused.
    with pytest.raises(ReferrersError):
        parse_referrer_manifest(
            _referrer(artifact_type="application/spdx+json"),
            subject=IMAGE,
            artifact_type=NOTATION,
            layer_max_bytes=10**6,
        )
    # Entries of another type, or not image manifests (an index), are not kept at all.
    selection = ReferrerSelection(NOTATION)
    selection.add(
        parse_referrers_index(
            _index(
                [
                    _entry(1, "application/spdx+json"),
                    _entry(2, media_type=OCI_INDEX),
                    _entry(3, None),
                ]
            )
        )
    )
    assert selection.result().referrers == ()
    assert selection.result().other_types == 3


def test_a_layer_declaring_more_than_the_cap_or_too_many_layers_is_refused_before_any_fetch() -> (
    None
):
    with pytest.raises(ReferrersError, match="cap"):
        parse_referrer_manifest(
            _referrer(size=10**9), subject=IMAGE, artifact_type=NOTATION, layer_max_bytes=256 * 1024
        )
    with pytest.raises(ReferrersError, match="layers"):
        parse_referrer_manifest(
            _referrer(layers=17), subject=IMAGE, artifact_type=NOTATION, layer_max_bytes=10**6
        )


def test_thousands_of_entries_keep_a_bounded_list_and_count_the_rest() -> None:
    entries = [_entry(n) for n in range(1, 3001)] + [_entry(1)] * 50
    selection = ReferrerSelection(NOTATION)
    selection.add(parse_referrers_index(_index(entries)))
    result = selection.result()
    assert len(result.referrers) == REFERRERS_MAX
    assert result.over_limit == 3000 - REFERRERS_MAX
    assert result.duplicates == 50
    assert selection.full


@pytest.mark.parametrize(
    "link",
    [
        "<https://evil.test/v2/team/app/referrers/" + IMAGE + '?n=2>; rel="next"',
        "<//evil.test/v2/team/app/referrers/" + IMAGE + '>; rel="next"',
        "<https://user:pw@registry.test/v2/team/app/referrers/" + IMAGE + '>; rel="next"',
        "<http://registry.test/v2/team/app/referrers/" + IMAGE + '>; rel="next"',
        "<https://registry.test:444/v2/team/app/referrers/" + IMAGE + '>; rel="next"',
        "</v2/team/other/referrers/" + IMAGE + '>; rel="next"',
        "</v2/team/app/blobs/" + IMAGE + '>; rel="next"',
        "</v2/team/app/referrers/" + OTHER_IMAGE + '>; rel="next"',
        "<../../other/referrers/" + IMAGE + '>; rel="next"',
        '<https://registry.test:notaport/x>; rel="next"',
        '<no-end; rel="next"',
    ],
)
def test_a_link_elsewhere_is_refused(link: str) -> None:
    with pytest.raises(ReferrersError):
        next_page(link, PAGE)


def test_a_link_to_the_same_list_is_followed_with_its_query() -> None:
    assert next_page('<?last=abc&n=10>; rel="next"', PAGE) == PAGE + "?last=abc&n=10"
    assert next_page(
        "<https://registry.test:443/v2/team/app/referrers/" + IMAGE + '?n=1>; rel="next"', PAGE
    )
    assert next_page('<?n=1>; rel="prev"', PAGE) is None


@given(st.text(max_size=300))
def test_any_link_header_is_a_url_here_none_or_a_referrers_error(link: str) -> None:
    try:
        target = next_page(link, PAGE)
    except ReferrersError:
        return
    assert target is None or target.split("?", 1)[0] == PAGE


@given(st.binary(max_size=2000))
def test_any_bytes_are_a_list_or_a_referrers_error(data: bytes) -> None:
    try:
        entries = parse_referrers_index(data)
    except ReferrersError:
        return
    assert all(entry.digest.startswith("sha") and entry.size >= 0 for entry in entries)
