"""The pure referrers core: lists, bounds, ``Link`` targets, tags and referrer manifests."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kenner.oci.manifest import OCI_INDEX, OCI_MANIFEST
from kenner.oci.referrers import (
    EMPTY_CONFIG,
    LAYERS_MAX,
    ArtifactDescriptor,
    ForeignSubject,
    ReferrerSelection,
    ReferrersError,
    next_page,
    parse_referrer_manifest,
    parse_referrers_index,
    referrers_path,
    referrers_tag,
)

IMAGE = "sha256:" + "a" * 64
OTHER = "sha256:" + "b" * 64
BUNDLE = "application/vnd.dev.sigstore.bundle.v0.3+json"
NOTARY = "application/vnd.cncf.notary.signature"
PAGE = f"https://registry.test:5000/v2/team/app/referrers/{IMAGE}"


def _entry(n: int, artifact_type: str | None = BUNDLE, **extra: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "mediaType": OCI_MANIFEST,
        "digest": f"sha256:{n:064x}",
        "size": 500 + n,
        **extra,
    }
    if artifact_type is not None:
        entry["artifactType"] = artifact_type
    return entry


def _index(*entries: dict[str, Any], **extra: Any) -> bytes:
    document = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": list(entries), **extra}
    return json.dumps(document).encode()


def _referrer(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": BUNDLE,
        "config": {"mediaType": EMPTY_CONFIG, "digest": OTHER, "size": 2},
        "layers": [{"mediaType": BUNDLE, "digest": OTHER, "size": 4000}],
        "subject": {"mediaType": OCI_MANIFEST, "digest": IMAGE, "size": 1234},
        "annotations": {"dev.sigstore.bundle.predicateType": "x"},
    }
    document.update(changes)
    return {key: value for key, value in document.items() if value is not None}


def _parse(document: dict[str, Any], artifact_type: str | None = BUNDLE, cap: int = 10_000):
    data = json.dumps(document).encode()
    return parse_referrer_manifest(
        data, subject=IMAGE, artifact_type=artifact_type, layer_max_bytes=cap
    )


# --- tags and paths -------------------------------------------------------------------------


def test_the_tag_schema_tag_is_algorithm_dash_hex() -> None:
    assert referrers_tag(IMAGE) == "sha256-" + "a" * 64


def test_a_sha512_tag_keeps_64_characters_of_the_hex() -> None:
    assert referrers_tag("sha512:" + "c" * 128) == "sha512-" + "c" * 64


@pytest.mark.parametrize("digest", ["sha256:" + "A" * 64, "sha256:abc", "md5:00", "x" * 1000])
def test_a_malformed_digest_has_no_tag(digest: str) -> None:
    with pytest.raises(ReferrersError, match="image digest"):
        referrers_tag(digest)
    with pytest.raises(ReferrersError):
        referrers_path("team/app", digest)


def test_the_api_path() -> None:
    assert referrers_path("team/app", IMAGE) == f"/v2/team/app/referrers/{IMAGE}"


# --- lists ----------------------------------------------------------------------------------


def test_an_index_parses_into_typed_descriptors() -> None:
    annotations = {"org.opencontainers.image.created": "2026-01-01T00:00:00Z"}
    (entry,) = parse_referrers_index(_index(_entry(1, annotations=annotations)))
    assert entry == ArtifactDescriptor(OCI_MANIFEST, f"sha256:{1:064x}", 501, BUNDLE, annotations)


def test_an_index_without_media_type_is_read_as_an_oci_index() -> None:
    data = json.dumps({"schemaVersion": 2, "manifests": [_entry(1)]}).encode()
    assert len(parse_referrers_index(data)) == 1


def test_an_empty_artifact_type_is_none() -> None:
    (entry,) = parse_referrers_index(_index(_entry(1, artifact_type="")))
    assert entry.artifact_type is None


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"not json", "not JSON"),
        (b"[]", "not a JSON object"),
        (_index(schemaVersion=1), "schemaVersion"),
        (_index(mediaType=OCI_MANIFEST), "not an OCI index"),
        (json.dumps({"schemaVersion": 2, "manifests": {}}).encode(), "'manifests'"),
        (_index(_entry(1, size=-1)), r"manifests\[0\].size"),
        (_index(_entry(1), _entry(2, digest="sha256:zz")), r"manifests\[1\].digest"),
        (_index(_entry(1, artifact_type=None, artifactType=7)), "artifactType"),
        (_index(_entry(1, annotations={"a": 1})), "annotations"),
        (_index({"digest": IMAGE, "size": 1}), "mediaType"),
        (b"[" * 5000 + b"]" * 5000, "not JSON"),
    ],
)
def test_a_malformed_list_names_the_reason(data: bytes, reason: str) -> None:
    with pytest.raises(ReferrersError, match=reason):
        parse_referrers_index(data)


def test_selection_filters_by_artifact_type_and_manifest_media_type() -> None:
    selection = ReferrerSelection(BUNDLE)
    selection.add(
        parse_referrers_index(
            _index(
                _entry(1),
                _entry(2, NOTARY),
                _entry(3, artifact_type=None),
                _entry(4, mediaType=OCI_INDEX),
                _entry(5),
                _entry(1),
            )
        )
    )
    listing = selection.result()
    assert [entry.digest[-1] for entry in listing.referrers] == ["1", "5"]
    assert (listing.other_types, listing.duplicates, listing.over_limit) == (3, 1, 0)
    assert listing.summary() == "2 kept, 3 of other types, 1 duplicated"


def test_selection_without_a_type_keeps_every_manifest() -> None:
    selection = ReferrerSelection(None)
    selection.add(parse_referrers_index(_index(_entry(1), _entry(2, NOTARY), _entry(3, None))))
    assert len(selection.result().referrers) == 3


def test_selection_keeps_the_first_n_and_counts_the_rest() -> None:
    selection = ReferrerSelection(BUNDLE, limit=3)
    selection.add(parse_referrers_index(_index(*(_entry(n) for n in range(10)))))
    assert selection.full
    listing = selection.result(unread=True)
    assert [entry.size for entry in listing.referrers] == [500, 501, 502]
    assert listing.over_limit == 7
    assert listing.summary() == "3 kept, 7 over the bound, further pages not read"


# --- Link -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        (None, None),
        ('<?n=2&last=x>; rel="next"', f"{PAGE}?n=2&last=x"),
        (f'<{PAGE}?last=y>; rel="next"', f"{PAGE}?last=y"),
        (f"</v2/team/app/referrers/{IMAGE}?p=2>; rel=next", f"{PAGE}?p=2"),
        (  # host names compare without case
            f'<https://REGISTRY.test:5000/v2/team/app/referrers/{IMAGE}?p=3>; rel="next"',
            f"https://REGISTRY.test:5000/v2/team/app/referrers/{IMAGE}?p=3",
        ),
        ('<?p=1>; rel="prev", <?p=3>; title="a;b,c"; rel="last next"', f"{PAGE}?p=3"),
        ('<?p=1>; rel="prev"', None),
        ("", None),
    ],
)
def test_next_page_resolves_on_the_same_list(link: str | None, expected: str | None) -> None:
    assert next_page(link, PAGE) == expected


def test_next_page_on_the_default_port_is_the_same_origin() -> None:
    page = f"https://registry.test/v2/team/app/referrers/{IMAGE}"
    link = f'<https://registry.test:443/v2/team/app/referrers/{IMAGE}?p=2>; rel="next"'
    assert next_page(link, page) is not None


@pytest.mark.parametrize(
    ("link", "reason"),
    [
        (f'<https://elsewhere.test:5000/v2/team/app/referrers/{IMAGE}>; rel="next"', "host"),
        (f'<https://registry.test:5001/v2/team/app/referrers/{IMAGE}>; rel="next"', "host"),
        (f'<http://registry.test:5000/v2/team/app/referrers/{IMAGE}>; rel="next"', "host"),
        (f'<//elsewhere.test/v2/team/app/referrers/{IMAGE}>; rel="next"', "host"),
        (f'<https://u:p@registry.test:5000/v2/team/app/referrers/{IMAGE}>; rel="next"', "host"),
        ('</token?scope=x>; rel="next"', "not this referrers list"),
        (f'</v2/team/other/referrers/{IMAGE}>; rel="next"', "not this referrers list"),
        ('<https://registry.test:99999/x>; rel="next"', "no URL"),
        ('<https://[::1/x>; rel="next"', "no URL"),
        ("?n=2; rel=next", "malformed"),
        ('<?n=2>; rel="next', "unterminated"),
        ('<?n=2> rel="next"', "malformed"),
        ("<?n=2>; =x", "malformed"),
    ],
)
def test_next_page_elsewhere_or_malformed_is_refused(link: str, reason: str) -> None:
    with pytest.raises(ReferrersError, match=reason):
        next_page(link, PAGE)


def test_a_refused_link_is_quoted_short() -> None:
    link = f'<https://elsewhere.test/{"x" * 5000}>; rel="next"'
    with pytest.raises(ReferrersError) as refused:
        next_page(link, PAGE)
    assert len(str(refused.value)) < 300


# --- referrer manifests ---------------------------------------------------------------------


def test_a_referrer_manifest_parses() -> None:
    referrer = _parse(_referrer())
    assert referrer.artifact_type == BUNDLE
    assert referrer.subject.digest == IMAGE
    assert referrer.config.media_type == EMPTY_CONFIG
    assert [layer.size for layer in referrer.layers] == [4000]
    assert referrer.annotations == {"dev.sigstore.bundle.predicateType": "x"}


def test_without_artifact_type_the_config_media_type_is_the_type() -> None:
    document = _referrer(
        artifactType=None, config={"mediaType": NOTARY, "digest": OTHER, "size": 2}
    )
    assert _parse(document, NOTARY).artifact_type == NOTARY
    with pytest.raises(ReferrersError, match=r"not a 'application/vnd\.dev\.sigstore"):
        _parse(document, BUNDLE)


def test_a_referrer_of_another_image_is_refused() -> None:
    subject = {"mediaType": OCI_MANIFEST, "digest": OTHER, "size": 1}
    with pytest.raises(ForeignSubject, match=f"subject is {OTHER}, not the image {IMAGE}"):
        _parse(_referrer(subject=subject))


def test_any_type_is_accepted_when_none_is_asked() -> None:
    assert _parse(_referrer(artifactType=NOTARY), None).artifact_type == NOTARY


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (_referrer(subject=None), "no subject"),
        (_referrer(subject="sha256:x"), "subject is not an object"),
        (_referrer(artifactType=NOTARY), "not a 'application/vnd.dev.sigstore"),
        (_referrer(artifactType=["x"]), "artifactType is not a string"),
        (_referrer(mediaType=OCI_INDEX), "not an OCI image manifest"),
        (_referrer(schemaVersion="2"), "schemaVersion"),
        (_referrer(config=None), "config is not an object"),
        (_referrer(layers=None), "'layers'"),
        (_referrer(layers=[{"mediaType": BUNDLE, "digest": OTHER, "size": 10_001}]), "cap"),
        (_referrer(layers=[{"mediaType": BUNDLE, "digest": OTHER}]), r"layers\[0\].size"),
        (_referrer(layers=[{"mediaType": BUNDLE, "digest": OTHER, "size": 1}] * 17), "17"),
        (_referrer(annotations=[]), "annotations"),
    ],
)
def test_a_malformed_referrer_manifest_names_the_reason(
    document: dict[str, Any], reason: str
) -> None:
    with pytest.raises(ReferrersError, match=reason):
        _parse(document)


def test_the_layer_bound_is_sixteen() -> None:
    assert LAYERS_MAX == 16
    layers = [{"mediaType": BUNDLE, "digest": OTHER, "size": 1}] * LAYERS_MAX
    assert len(_parse(_referrer(layers=layers)).layers) == LAYERS_MAX
