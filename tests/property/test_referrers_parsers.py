"""Referrers lists, ``Link`` headers and referrer manifests are hostile input: they fail only
with ``ReferrersError``, with bounded messages, and what they accept keeps the rules.

* ``parse_referrers_index``: any bytes -> descriptors or ``ReferrersError``;
* ``parse_referrer_manifest``: any bytes -> a manifest whose subject is the image, whose type is
  the one asked and whose layers are within the caps, or ``ReferrersError``;
* ``next_page``: any header text -> None, a URL on the page's origin and path, or
  ``ReferrersError``;
* ``referrers_tag``: any text -> a valid tag naming the digest, or ``ReferrersError``;
* ``ReferrerSelection``: never keeps more than its bound, and accounts for every entry.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from hypothesis import given, settings
from hypothesis import strategies as st

from kenner.oci.manifest import OCI_INDEX, OCI_MANIFEST
from kenner.oci.referrers import (
    LAYERS_MAX,
    ArtifactDescriptor,
    ReferrerSelection,
    ReferrersError,
    next_page,
    parse_referrer_manifest,
    parse_referrers_index,
    referrers_tag,
)

MAX_MESSAGE = 600  # two quoted values of <= 200 characters and the words around them
IMAGE = "sha256:" + "a" * 64
OTHER = "sha256:" + "b" * 64
BUNDLE = "application/vnd.dev.sigstore.bundle.v0.3+json"
PAGE = f"https://registry.test:5000/v2/team/app/referrers/{IMAGE}"

_long = st.text(min_size=1, max_size=10).map(lambda text: (text * 5000)[:5000])
_text = st.text(max_size=8) | _long | st.sampled_from(["é", "\ud800", BUNDLE, OCI_MANIFEST])
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_text, children, max_size=3),
    max_leaves=10,
)


def _maybe(good: Any) -> st.SearchStrategy[Any]:
    right = good if isinstance(good, st.SearchStrategy) else st.just(good)
    return st.one_of(right, right, _json)


def _serialised(value: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    raw = value.map(lambda v: json.dumps(v).encode())
    deep = st.integers(1, 5000).map(lambda depth: b"[" * depth + b"]" * depth)
    odd = st.sampled_from([b"\xff\xfe{}", b'"\\ud800"', b"NaN", b"{" * 100000, b'{"a":1,"a":2}'])
    return raw | deep | odd | st.binary(max_size=40)


def _bounded(error: Exception) -> None:
    assert len(str(error)) <= MAX_MESSAGE, str(error)[:200]


_descriptor = st.fixed_dictionaries(
    {
        "mediaType": _maybe(st.sampled_from([OCI_MANIFEST, OCI_INDEX, BUNDLE])),
        "digest": _maybe(st.sampled_from([IMAGE, OTHER, "sha256:" + "A" * 64, "md5:00"])),
        "size": _maybe(st.integers(-1, 20_000)),
        "artifactType": _maybe(st.sampled_from([BUNDLE, "", "other"])),
        "annotations": _maybe(st.dictionaries(_text, _maybe(_text), max_size=2)),
    }
)
_index = st.fixed_dictionaries(
    {
        "schemaVersion": _maybe(2),
        "mediaType": _maybe(st.sampled_from([OCI_INDEX, OCI_MANIFEST])),
        "manifests": _maybe(st.lists(_maybe(_descriptor), max_size=4)),
    }
)
_manifest = st.fixed_dictionaries(
    {
        "schemaVersion": _maybe(2),
        "mediaType": _maybe(st.sampled_from([OCI_MANIFEST, OCI_INDEX])),
        "artifactType": _maybe(st.sampled_from([BUNDLE, "other"])),
        "config": _maybe(_descriptor),
        "subject": _maybe(_descriptor),
        "layers": _maybe(st.lists(_maybe(_descriptor), max_size=LAYERS_MAX + 2)),
        "annotations": _maybe(st.dictionaries(_text, _maybe(_text), max_size=2)),
    }
)


@settings(max_examples=400, deadline=None)
@given(_serialised(_index))
def test_parse_referrers_index_returns_descriptors_or_its_error(raw: bytes) -> None:
    try:
        entries = parse_referrers_index(raw)
    except ReferrersError as error:
        _bounded(error)
        return
    for entry in entries:
        assert entry.size >= 0


@settings(max_examples=400, deadline=None)
@given(_serialised(_manifest), st.sampled_from([BUNDLE, None]), st.integers(0, 20_000))
def test_parse_referrer_manifest_keeps_its_rules_or_fails_with_its_error(
    raw: bytes, artifact_type: str | None, cap: int
) -> None:
    try:
        referrer = parse_referrer_manifest(
            raw, subject=IMAGE, artifact_type=artifact_type, layer_max_bytes=cap
        )
    except ReferrersError as error:
        _bounded(error)
        return
    assert referrer.subject.digest == IMAGE
    assert artifact_type is None or referrer.artifact_type == artifact_type
    assert len(referrer.layers) <= LAYERS_MAX
    assert all(layer.size <= cap for layer in referrer.layers)


_link_target = st.sampled_from(
    [
        "?n=2",
        PAGE + "?x=1",
        "https://elsewhere.test/v2/team/app/referrers/" + IMAGE,
        "//elsewhere.test/x",
        "/v2/other/referrers/x",
        "http://registry.test:5000/",
        "https://registry.test:0/",
        "",
    ]
)
_link = (
    st.lists(
        st.tuples(_link_target | _text, st.sampled_from(['rel="next"', "rel=next", 'rel="prev"'])),
        max_size=3,
    ).map(lambda links: ", ".join(f"<{target}>; {rel}" for target, rel in links))
    | _text
    | st.text(alphabet='<>;,="\\ \t?/:.anextrl', max_size=40)
)


@settings(max_examples=500, deadline=None)
@given(_link)
def test_next_page_stays_on_the_list_or_fails_with_its_error(link: str) -> None:
    try:
        found = next_page(link, PAGE)
    except ReferrersError as error:
        _bounded(error)
        return
    if found is not None:
        here, there = urlsplit(PAGE), urlsplit(found)
        assert (there.scheme, there.hostname, there.port) == ("https", "registry.test", 5000)
        assert there.path == here.path


_entries = st.lists(
    st.builds(
        ArtifactDescriptor,
        st.sampled_from([OCI_MANIFEST, OCI_INDEX]),
        st.integers(0, 40).map(lambda n: f"sha256:{n:064x}"),
        st.just(1),
        st.sampled_from([BUNDLE, "other", None]),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_entries, max_size=4), st.integers(1, 20), st.sampled_from([BUNDLE, None]))
def test_selection_is_bounded_and_counts_every_entry(
    pages: list[list[ArtifactDescriptor]], limit: int, artifact_type: str | None
) -> None:
    selection = ReferrerSelection(artifact_type, limit)
    for page in pages:
        selection.add(page)
    listing = selection.result()
    kept = listing.referrers
    assert len(kept) <= limit
    assert len({entry.digest for entry in kept}) == len(kept)
    assert all(entry.media_type == OCI_MANIFEST for entry in kept)
    assert artifact_type is None or all(entry.artifact_type == artifact_type for entry in kept)
    counted = len(kept) + listing.over_limit + listing.other_types + listing.duplicates
    assert counted == sum(len(page) for page in pages)


_TAG = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}")  # the distribution spec's tag grammar
_digests = st.sampled_from(["sha256", "sha384", "sha512", "md5", "SHA256", ""]).flatmap(
    lambda algorithm: st.text(alphabet="0123456789abcdefABCDEF:-", max_size=130).map(
        lambda encoded: f"{algorithm}:{encoded}"
    )
)

_valid_digests = st.sampled_from([("sha256", 64), ("sha384", 96), ("sha512", 128)]).flatmap(
    lambda kind: st.text(alphabet="0123456789abcdef", min_size=kind[1], max_size=kind[1]).map(
        lambda encoded: f"{kind[0]}:{encoded}"
    )
)


@settings(max_examples=300, deadline=None)
@given(_valid_digests | _digests | _text)
def test_referrers_tag_is_a_valid_tag_of_the_digest_or_its_error(digest: str) -> None:
    try:
        tag = referrers_tag(digest)
    except ReferrersError as error:
        _bounded(error)
        return
    assert _TAG.fullmatch(tag)
    assert len(tag) <= 6 + 1 + 64
    algorithm, encoded = digest.split(":", 1)
    assert tag == f"{algorithm}-{encoded[:64]}"
