"""Container image references, parsed and normalised the way Docker does.

The grammar is docker/distribution's ``reference`` grammar plus the normalisation of
``ParseNormalizedNamed``: ``nginx`` becomes ``docker.io/library/nginx:latest``, the legacy
``index.docker.io`` becomes ``docker.io``, and the first component names a registry only when it
contains ``.`` or ``:`` or is ``localhost``. One deliberate difference: the registry host is folded
to lower case (DNS names are case-insensitive), so that ``Registry.K8s.IO/x`` cannot slip past a
policy rule written for ``registry.k8s.io``.
"""

from __future__ import annotations

import functools
import re

import attrs

from kenner.errors import KennerError
from kenner.quoting import quote

DEFAULT_REGISTRY = "docker.io"
LEGACY_DEFAULT_REGISTRY = "index.docker.io"
OFFICIAL_NAMESPACE = "library/"

NAME_MAX_LENGTH = 255
TAG_MAX_LENGTH = 128

# Hex length of each digest algorithm Docker accepts (go-digest's registered algorithms).
_DIGEST_HEX_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}

# No valid reference is longer than name + ":" + tag + "@sha512:" + hex; refusing longer text
# before any regular expression runs keeps the cost of hostile input bounded.
_REFERENCE_MAX_LENGTH = NAME_MAX_LENGTH + 1 + TAG_MAX_LENGTH + len("@sha512:") + 128

_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_DOMAIN_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_REGISTRY = re.compile(
    rf"(?:{_DOMAIN_LABEL}(?:\.{_DOMAIN_LABEL})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?",
)
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_DIGEST_ALGORITHM = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*")
_LOWER_HEX = re.compile(r"[a-f0-9]+")
# Docker refuses a bare 64-hex name because it is indistinguishable from an image ID.
_IMAGE_ID = re.compile(r"[a-f0-9]{64}")


class ImageRefError(KennerError, ValueError):
    """An image reference is not valid; the message names the reference and the reason."""

    def __init__(self, reference: str, reason: str) -> None:
        super().__init__(f"invalid image reference {quote(reference)}: {reason}")
        self.reference = reference
        self.reason = reason


@attrs.frozen
class ImageRef:
    """A normalised image reference; build it with ``parse_image``.

    Attributes:
        registry: Lower-case registry host with optional port ("docker.io", "localhost:5000").
        repository: Repository path inside the registry ("library/nginx").
        tag: The tag, or None for a digest-only reference.
        digest: "algorithm:hex" (e.g. "sha256:<64 hex>"), or None.
    """

    registry: str
    repository: str
    tag: str | None
    digest: str | None
    # The reference as text, computed once: it is the key of every per-image step.
    _text: str = attrs.field(init=False, repr=False, eq=False, hash=False)

    def __attrs_post_init__(self) -> None:
        text = self.name
        if self.tag is not None:
            text += f":{self.tag}"
        if self.digest is not None:
            text += f"@{self.digest}"
        object.__setattr__(self, "_text", text)

    @property
    def name(self) -> str:
        """Registry and repository without tag or digest: "docker.io/library/nginx"."""
        return f"{self.registry}/{self.repository}"

    def __str__(self) -> str:
        """The full normalised reference, e.g. "docker.io/library/nginx:1.27@sha256:..."."""
        return self._text

    def with_digest(self, digest: str) -> ImageRef:
        """The same reference pinned to ``digest``, replacing any digest it had.

        The tag is kept: "nginx:1.27@sha256:..." still tells a reader which release runs.

        Raises:
            ImageRefError: ``digest`` is not a valid digest.
        """
        _check_digest(f"{self}@{digest}", digest)
        return attrs.evolve(self, digest=digest)


@functools.lru_cache(maxsize=4096)  # pods repeat images; parsing is pure, so remember it
def parse_image(text: str) -> ImageRef:
    """Parse and normalise an image reference as Docker does.

    Args:
        text: A reference as written in a pod spec ("nginx", "my.reg:5000/a/b:t@sha256:...").

    Returns:
        The normalised reference; the tag defaults to "latest" unless a digest is given.

    Raises:
        ImageRefError: The text is not a valid reference; the message says why.
    """
    if not text:
        raise ImageRefError(text, "reference is empty")
    if len(text) > _REFERENCE_MAX_LENGTH:
        raise ImageRefError(
            text[:64] + "...",
            f"reference is {len(text)} characters long, more than any valid reference "
            f"({_REFERENCE_MAX_LENGTH})",
        )
    if any(char.isspace() for char in text):
        raise ImageRefError(text, "reference contains whitespace")
    if _IMAGE_ID.fullmatch(text):
        raise ImageRefError(text, "a 64-character hex string is an image ID, not a name")

    name_and_tag, at_sign, digest_text = text.partition("@")
    digest = _check_digest(text, digest_text) if at_sign else None
    registry, remainder = _split_registry(name_and_tag)
    # Path components cannot contain ":", so the first ":" after the registry starts the tag.
    path, colon, tag_text = remainder.partition(":")
    tag = _check_tag(text, tag_text) if colon else None
    repository = _check_repository(text, path)
    registry = _check_registry(text, registry)

    if registry == DEFAULT_REGISTRY and "/" not in repository:
        repository = OFFICIAL_NAMESPACE + repository
    name_length = len(registry) + 1 + len(repository)
    if name_length > NAME_MAX_LENGTH:
        raise ImageRefError(
            text, f"name is {name_length} characters long, more than {NAME_MAX_LENGTH}"
        )
    if tag is None and digest is None:
        tag = "latest"
    return ImageRef(registry=registry, repository=repository, tag=tag, digest=digest)


def _split_registry(name: str) -> tuple[str, str]:
    """Split off the registry exactly where Docker does (a first component with "." or ":")."""
    first, slash, rest = name.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        return first, rest
    return DEFAULT_REGISTRY, name


def _check_registry(reference: str, registry: str) -> str:
    if not _REGISTRY.fullmatch(registry):
        raise ImageRefError(reference, f"invalid registry host {quote(registry)}")
    folded = registry.lower()
    return DEFAULT_REGISTRY if folded == LEGACY_DEFAULT_REGISTRY else folded


def _check_repository(reference: str, path: str) -> str:
    if not path:
        raise ImageRefError(reference, "repository name is empty")
    # Docker checks case before the grammar, so "Nginx" gets the message that helps most.
    if path != path.lower():
        raise ImageRefError(reference, "repository name must be lowercase")
    for component in path.split("/"):
        if not component:
            raise ImageRefError(reference, "repository name has an empty path component")
        if not _PATH_COMPONENT.fullmatch(component):
            raise ImageRefError(
                reference,
                f"invalid path component {quote(component)} (lower-case letters and digits, "
                "separated by '.', '_', '__' or dashes)",
            )
    return path


def _check_tag(reference: str, tag: str) -> str:
    if not tag:
        raise ImageRefError(reference, "tag is empty")
    if not _TAG.fullmatch(tag):
        raise ImageRefError(
            reference,
            f"invalid tag {quote(tag)} (letters, digits, '_', '.', '-', not starting with '.' "
            f"or '-', at most {TAG_MAX_LENGTH} characters)",
        )
    return tag


def _check_digest(reference: str, digest: str) -> str:
    algorithm, colon, encoded = digest.partition(":")
    if not colon or not _DIGEST_ALGORITHM.fullmatch(algorithm):
        raise ImageRefError(reference, f"digest {quote(digest)} is not of the form 'algorithm:hex'")
    hex_length = _DIGEST_HEX_LENGTHS.get(algorithm)
    if hex_length is None:
        raise ImageRefError(
            reference,
            f"unsupported digest algorithm {quote(algorithm)} (sha256, sha384 or sha512)",
        )
    if len(encoded) != hex_length or not _LOWER_HEX.fullmatch(encoded):
        raise ImageRefError(
            reference,
            f"{algorithm} digest must be {hex_length} lower-case hex characters, "
            f"got {quote(encoded)}",
        )
    return digest
