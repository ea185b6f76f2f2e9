"""OCI 1.1 referrers: the list of artifacts attached to an image, and each referrer's manifest.

Sources (OCI distribution spec 1.1, "Listing Referrers" and "Referrers Tag Schema"):

* the referrers API, ``GET /v2/<name>/referrers/<digest>[?artifactType=<type>]``: an OCI image
  index of descriptors, paged by a ``Link: <url>; rel="next"`` header;
* for registries without it (the API answers 404), the image index tagged
  ``<alg>-<encoded>`` (``referrers_tag``) that pushers such as cosign v3 and notation maintain.

Both lists are written by whoever can push to the repository, so an entry is only a pointer:
every field a verifier relies on is read again from the referrer's own manifest, fetched by
digest (``parse_referrer_manifest``), whose ``subject`` must be the image's digest. Rules:

* An entry matches ``artifact_type`` by its ``artifactType`` (the spec has the registry, or
  the tag's pusher, copy it from the manifest's ``artifactType``, else its config media type).
  A registry may ignore the API's filter (no ``OCI-Filters-Applied``): the list is filtered
  here either way. Only OCI image manifests are kept (cosign and notation push those).
* Bounded: the first ``REFERRERS_MAX`` distinct matching entries are kept, in the order
  served; matching entries past the bound, entries of other types and duplicates are counted
  (``ReferrerList``) so the caller can log and name them; at most ``PAGES_MAX`` pages are read.
  An attacker who can push thousands of referrers can crowd out a real signature (a denial,
  never an allow), nothing more: they could as well overwrite the tag.
* A ``Link`` is followed only to the same origin (scheme, host, port) and the same referrers
  path; a relative URL is resolved against the page's URL; anything else is refused.
* A referrer manifest must be an OCI image manifest with a ``subject`` equal to the image's
  digest (else ``ForeignSubject``), of the requested artifact type (``artifactType``, else
  ``config.mediaType``), with at most ``LAYERS_MAX`` layers each declaring at most the
  caller's byte cap.

Every malformed input raises ``ReferrersError`` (or its subclass) naming the field and why,
quoting at most 200 characters of it. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import SplitResult, urljoin, urlsplit

import attrs
import orjson

from kenner.errors import KennerError
from kenner.oci.manifest import OCI_INDEX, OCI_MANIFEST, ManifestError, check_digest_syntax
from kenner.quoting import quote

#: Matching referrers kept per image and artifact type: far above what a real image carries
#: (one bundle or envelope per signer), low enough that a flood costs bounded work.
REFERRERS_MAX = 128
#: Pages of the referrers API read per list; past this the rest is not read (``unread``).
PAGES_MAX = 8
#: One page of the referrers list (or the tag schema's index): about 2500 descriptors.
LIST_MAX_BYTES = 1024 * 1024
#: A referrer's manifest: a handful of descriptors and annotations.
REFERRER_MANIFEST_MAX_BYTES = 256 * 1024
#: Layers of one referrer manifest (a bundle or an envelope is one layer).
LAYERS_MAX = 16
#: The media type of the OCI empty descriptor (``{}``), the config of most artifacts.
EMPTY_CONFIG = "application/vnd.oci.empty.v1+json"

_DEFAULT_PORTS = {"https": 443, "http": 80}


class ReferrersError(KennerError, ValueError):
    """A referrers list, ``Link`` header or referrer manifest cannot be used; says why."""


class ForeignSubject(ReferrersError):
    """A referrer's ``subject`` is another manifest than the image asked about."""


@attrs.frozen
class ArtifactDescriptor:
    """A descriptor as referrers lists and artifact manifests carry it."""

    media_type: str
    digest: str
    size: int
    artifact_type: str | None = None
    annotations: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen
class ReferrerList:
    """What a bounded read of a referrers list kept, and what it left out.

    Attributes:
        referrers: the first matching entries, at most the bound, in the order served.
        over_limit: matching entries past the bound (on the pages read).
        other_types: entries of another artifact type or not an OCI image manifest.
        duplicates: entries repeating a kept digest.
        unread: whether pages were left unread (the bound or ``PAGES_MAX`` was reached).
    """

    referrers: tuple[ArtifactDescriptor, ...]
    over_limit: int = 0
    other_types: int = 0
    duplicates: int = 0
    unread: bool = False

    def summary(self) -> str:
        """The counts in words, for logs and denials."""
        text = f"{len(self.referrers)} kept"
        for count, words in (
            (self.over_limit, "over the bound"),
            (self.other_types, "of other types"),
            (self.duplicates, "duplicated"),
        ):
            if count:
                text += f", {count} {words}"
        return text + (", further pages not read" if self.unread else "")


class ReferrerSelection:
    """Accumulates the entries of successive pages into a bounded ``ReferrerList``."""

    def __init__(self, artifact_type: str | None, limit: int = REFERRERS_MAX) -> None:
        self._artifact_type = artifact_type
        self._limit = limit
        self._kept: dict[str, ArtifactDescriptor] = {}
        self._over_limit = 0
        self._other_types = 0
        self._duplicates = 0

    @property
    def full(self) -> bool:
        """Whether the bound is reached: further pages could only add to the counts."""
        return len(self._kept) >= self._limit

    def add(self, entries: Iterable[ArtifactDescriptor]) -> None:
        """Sort one page's entries into kept, over the bound, other types and duplicates."""
        for entry in entries:
            wanted = self._artifact_type is None or entry.artifact_type == self._artifact_type
            if not wanted or entry.media_type != OCI_MANIFEST:
                self._other_types += 1
            elif entry.digest in self._kept:
                self._duplicates += 1
            elif self.full:
                self._over_limit += 1
            else:
                self._kept[entry.digest] = entry

    def result(self, *, unread: bool = False) -> ReferrerList:
        """The list so far; ``unread`` says pages were left unread."""
        return ReferrerList(
            tuple(self._kept.values()),
            self._over_limit,
            self._other_types,
            self._duplicates,
            unread,
        )


@attrs.frozen
class ReferrerManifest:
    """A referrer's OCI image manifest, checked against the image it must refer to."""

    artifact_type: str
    subject: ArtifactDescriptor
    config: ArtifactDescriptor
    layers: tuple[ArtifactDescriptor, ...]
    annotations: Mapping[str, str] = attrs.field(factory=dict)


def referrers_tag(digest: str) -> str:
    """The referrers tag schema's tag for ``digest``: ``sha256:<hex>`` -> ``sha256-<hex>``.

    The spec cuts the algorithm to 32 characters and the encoded part to 64 (a sha512 tag names
    only a prefix: the subject check of each referrer makes that harmless) and replaces any
    character a tag may not hold with ``-``; the digests kenner accepts (lower-case hex of
    sha256/sha384/sha512) hold none.

    Raises:
        ReferrersError: ``digest`` is not a sha256/sha384/sha512 digest.
    """
    algorithm, encoded = _checked_digest(digest, "the image digest").split(":", 1)
    return f"{algorithm[:32]}-{encoded[:64]}"


def referrers_path(repository: str, digest: str) -> str:
    """The referrers API path of ``digest`` in ``repository`` (``/v2/<name>/referrers/<d>``).

    Raises:
        ReferrersError: ``digest`` is not a sha256/sha384/sha512 digest.
    """
    return f"/v2/{repository}/referrers/{_checked_digest(digest, 'the image digest')}"


def parse_referrers_index(data: bytes) -> tuple[ArtifactDescriptor, ...]:
    """The entries of a referrers list (a page of the API, or the tag schema's index).

    Raises:
        ReferrersError: not JSON, not an OCI image index, or an entry is malformed.
    """
    document = _json_object(data, "the referrers list")
    if document.get("schemaVersion") != 2:
        raise ReferrersError(
            f"the referrers list's schemaVersion is {quote(document.get('schemaVersion'))}, not 2"
        )
    media_type = document.get("mediaType", OCI_INDEX)
    if media_type != OCI_INDEX:
        raise ReferrersError(f"the referrers list is a {quote(media_type)}, not an OCI index")
    entries = document.get("manifests")
    if not isinstance(entries, list):
        raise ReferrersError("the referrers list's 'manifests' is missing or not a list")
    return tuple(_descriptor(entry, f"manifests[{i}]") for i, entry in enumerate(entries))


def next_page(link: str | None, page_url: str) -> str | None:
    """The URL of the next page from a page's ``Link`` header (None: it was the last).

    The ``rel="next"`` target is resolved against ``page_url`` and must have its origin
    (scheme, host, port) and its path: a registry cannot send kenner (and its token) to
    another host or to another endpoint.

    Raises:
        ReferrersError: the header is malformed or its next page is elsewhere.
    """
    if link is None:
        return None
    target = _next_target(link)
    if target is None:
        return None
    try:
        resolved = urljoin(page_url, target)
        here, there = urlsplit(page_url), urlsplit(resolved)
        same_origin = _origin(here) == _origin(there)
    except ValueError:  # e.g. a port that is not a number, a broken IPv6 literal
        raise ReferrersError(f"the Link header's next page {quote(target)} is no URL") from None
    if not same_origin or there.username is not None or there.password is not None:
        raise ReferrersError(f"the Link header's next page {quote(target)} is on another host")
    if there.path != here.path:
        raise ReferrersError(
            f"the Link header's next page {quote(target)} is not this referrers list"
        )
    return resolved


def parse_referrer_manifest(
    data: bytes,
    *,
    subject: str,
    artifact_type: str | None,
    layer_max_bytes: int,
) -> ReferrerManifest:
    """A referrer's manifest (its bytes already verified against its digest), checked.

    Raises:
        ForeignSubject: its ``subject`` is not ``subject`` (a referrer of another image).
        ReferrersError: it is malformed, not an OCI image manifest, not of ``artifact_type``,
            or has too many or too large layers.
    """
    document = _json_object(data, "the referrer manifest")
    if document.get("schemaVersion") != 2:
        raise ReferrersError(
            f"the referrer manifest's schemaVersion is {quote(document.get('schemaVersion'))}, "
            "not 2"
        )
    media_type = document.get("mediaType", OCI_MANIFEST)
    if media_type != OCI_MANIFEST:
        raise ReferrersError(
            f"the referrer manifest is a {quote(media_type)}, not an OCI image manifest"
        )
    if "subject" not in document:
        raise ReferrersError("the referrer manifest has no subject")
    found = _descriptor(document["subject"], "subject")
    if found.digest != subject:
        raise ForeignSubject(f"the referrer's subject is {found.digest}, not the image {subject}")
    config = _descriptor(document.get("config"), "config")
    declared = document.get("artifactType")
    if declared is not None and not isinstance(declared, str):
        raise ReferrersError("the referrer manifest's artifactType is not a string")
    kind = declared or config.media_type
    if artifact_type is not None and kind != artifact_type:
        raise ReferrersError(f"the referrer is a {quote(kind)}, not a {quote(artifact_type)}")
    raw_layers = document.get("layers")
    if not isinstance(raw_layers, list):
        raise ReferrersError("the referrer manifest's 'layers' is missing or not a list")
    if len(raw_layers) > LAYERS_MAX:
        raise ReferrersError(
            f"the referrer manifest has {len(raw_layers)} layers, more than {LAYERS_MAX}"
        )
    layers = tuple(_descriptor(layer, f"layers[{i}]") for i, layer in enumerate(raw_layers))
    for i, layer in enumerate(layers):
        if layer.size > layer_max_bytes:
            raise ReferrersError(
                f"layers[{i}] declares {layer.size} bytes, more than the {layer_max_bytes}-byte cap"
            )
    annotations = _annotations(document.get("annotations"), "the referrer manifest")
    return ReferrerManifest(kind, found, config, layers, annotations)


def _origin(url: SplitResult) -> tuple[str, str | None, int | None]:
    return url.scheme, url.hostname, url.port or _DEFAULT_PORTS.get(url.scheme)


def _checked_digest(digest: object, where: str) -> str:
    if not isinstance(digest, str):
        raise ReferrersError(f"{where} is missing or not a string")
    try:
        return check_digest_syntax(digest)
    except ManifestError as error:
        raise ReferrersError(f"{where}: {error}") from None


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        # orjson: strict JSON, and a nesting cap (1024) where json.loads recurses.
        document = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise ReferrersError(f"{what} is not JSON") from None
    if not isinstance(document, dict):
        raise ReferrersError(f"{what} is not a JSON object")
    return document


def _descriptor(value: object, where: str) -> ArtifactDescriptor:
    if not isinstance(value, dict):
        raise ReferrersError(f"{where} is not an object")
    media_type, size = value.get("mediaType"), value.get("size")
    if not isinstance(media_type, str):
        raise ReferrersError(f"{where}.mediaType is missing or not a string")
    digest = _checked_digest(value.get("digest"), f"{where}.digest")
    if type(size) is not int or size < 0:
        raise ReferrersError(f"{where}.size is missing or not a non-negative integer")
    artifact_type = value.get("artifactType")
    if artifact_type is not None and not isinstance(artifact_type, str):
        raise ReferrersError(f"{where}.artifactType is not a string")
    annotations = _annotations(value.get("annotations"), where)
    return ArtifactDescriptor(media_type, digest, size, artifact_type or None, annotations)


def _annotations(value: object, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ReferrersError(f"{where}'s annotations are not a string-to-string object")
    return value


def _next_target(link: str) -> str | None:
    """The target of the ``rel="next"`` link in a ``Link`` header (RFC 8288), if any.

    Grammar: ``#link-value`` where ``link-value = "<" URI-Reference ">" *( ";" param )``;
    ``rel`` holds space-separated relation types, case-insensitive.
    """
    rest = link.strip()
    while rest:
        if not rest.startswith("<") or ">" not in rest:
            raise ReferrersError(f"the Link header {quote(link)} is malformed")
        target, rest = rest[1:].split(">", 1)
        params, rest = _link_params(rest, link)
        relations = params.get("rel", "").lower().split()
        if "next" in relations:
            return target.strip()
        rest = rest.lstrip(" \t,")
    return None


def _link_params(text: str, link: str) -> tuple[dict[str, str], str]:
    """The parameters after one link target, and what follows them (the next link)."""
    params: dict[str, str] = {}
    rest = text.lstrip(" \t")
    while rest.startswith(";"):
        rest = rest[1:].lstrip(" \t")
        name_end = next((i for i, c in enumerate(rest) if c in "=;, \t"), len(rest))
        name, rest = rest[:name_end].lower(), rest[name_end:].lstrip(" \t")
        if not name:
            raise ReferrersError(f"the Link header {quote(link)} is malformed")
        value = ""
        if rest.startswith("="):
            value, rest = _param_value(rest[1:].lstrip(" \t"), link)
        params.setdefault(name, value)
        rest = rest.lstrip(" \t")
    if rest and not rest.startswith(","):
        raise ReferrersError(f"the Link header {quote(link)} is malformed")
    return params, rest


def _param_value(text: str, link: str) -> tuple[str, str]:
    if not text.startswith('"'):
        end = next((i for i, c in enumerate(text) if c in ";, \t"), len(text))
        return text[:end], text[end:]
    value: list[str] = []
    i = 1
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            value.append(text[i + 1])
            i += 2
        elif c == '"':
            return "".join(value), text[i + 1 :]
        else:
            value.append(c)
            i += 1
    raise ReferrersError(f"the Link header {quote(link)} has an unterminated quoted string")
