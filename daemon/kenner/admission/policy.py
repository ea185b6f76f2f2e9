"""Choosing the image policy rule for an image: Connaisseur's most-specific match, host-anchored.

A pattern is a glob over the normalised reference (``str(ImageRef)``): ``*`` matches any run of
characters, ``/`` included, and ``?`` any one character; everything else is literal. Patterns
are read like image references:

* A pattern without ``/`` that starts with a wildcard (``*:*``, ``*``) spans the whole reference.
* A pattern whose first component names a registry (it contains ``.``, ``:``, ``*`` or ``?``,
  or is ``localhost``) is **anchored**: that component must glob the image's registry host on its
  own, and the rest must glob the rest of the reference. So ``registry.k8s.io/*:*`` can never
  match ``evil.io/registry.k8s.io/x`` (Connaisseur 3 wraps patterns in ``*...*`` and does).
* Any other pattern is a Docker Hub name, normalised as Docker normalises references:
  ``nginx`` means ``docker.io/library/nginx``, ``myorg/app*`` ``docker.io/myorg/app*``, and
  ``docker.io/nginx`` ``docker.io/library/nginx`` (but ``docker.io/*`` stays all of Docker Hub).
* The tag/digest part (from the first ``:`` or ``@`` of the last component) constrains only what
  it states: none matches any tag and any digest, ``x:v1`` matches ``x:v1`` with or without a
  digest, ``x@sha256:...`` that digest with or without a tag, ``x:v1@sha256:...`` exactly that.

Among matching rules the most specific wins (see ``Specificity``); on a full tie the earlier rule.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import attrs

from kenner.admission.image import (
    DEFAULT_REGISTRY,
    LEGACY_DEFAULT_REGISTRY,
    OFFICIAL_NAMESPACE,
    ImageRef,
)
from kenner.config.model import Rule

_WILDCARDS = frozenset("*?")
_REGISTRY_MARKS = frozenset(".:*?")
# What Connaisseur appends to a pattern without tag for its specificity arithmetic.
_ANY_TAG = ":*"


@attrs.frozen(order=True)
class Specificity:
    """How specific a pattern is for one image; a greater value is more specific.

    Connaisseur's order, compared field by field: more ``/``-separated components first, then
    the longer common prefix with the image's component (leftmost component first), then the
    longer component (leftmost first). Computed on the normalised pattern, with ``:*`` appended
    when the pattern has no tag or digest part.
    """

    components: int
    common_prefixes: tuple[int, ...]
    component_lengths: tuple[int, ...]


@attrs.frozen
class _Pattern:
    """A pattern split into its anchored parts."""

    host: str | None  # glob over the registry host; None when the pattern spans the whole reference
    bodies: tuple[str, ...]  # alternative globs over the reference after the host (or all of it)
    normalised: str  # the pattern as a full reference glob, for the specificity arithmetic


def select_rule(rules: Sequence[Rule], image: ImageRef) -> Rule | None:
    """The most specific rule whose pattern matches ``image``.

    Args:
        rules: The image policy, in configuration order.
        image: The normalised image reference.

    Returns:
        The winning rule (the earlier one on a full tie), or None when no pattern matches.
    """
    best: Rule | None = None
    best_specificity: Specificity | None = None
    for rule in rules:
        if not pattern_matches(rule.pattern, image):
            continue
        candidate = specificity(rule.pattern, image)
        if best_specificity is None or candidate > best_specificity:
            best, best_specificity = rule, candidate
    return best


class PolicyIndex:
    """``select_rule`` for one policy, remembering the answer per image.

    Admission requests repeat the same few images, and matching every pattern is the costliest
    pure step of a request; one index is built per configuration and the memo is bounded
    (cleared when full, which is rare and cheap to refill).
    """

    def __init__(self, rules: Sequence[Rule], max_entries: int = 4096) -> None:
        self._rules = tuple(rules)
        self._max_entries = max_entries
        self._memo: dict[ImageRef, Rule | None] = {}

    def select(self, image: ImageRef) -> Rule | None:
        """The most specific rule for ``image`` (see ``select_rule``)."""
        try:
            return self._memo[image]
        except KeyError:
            pass
        if len(self._memo) >= self._max_entries:
            self._memo.clear()
        rule = self._memo[image] = select_rule(self._rules, image)
        return rule


def pattern_matches(pattern: str, image: ImageRef) -> bool:
    """Whether ``pattern`` matches ``image`` under the anchored rules of this module."""
    compiled = _compile(pattern)
    subject = str(image)
    if compiled.host is not None:
        if not _glob_match(compiled.host, image.registry):
            return False
        subject = subject[len(image.registry) + 1 :]
    return any(_glob_match(body, subject) for body in compiled.bodies)


def literal_registry(pattern: str) -> str | None:
    """The registry host ``pattern`` is anchored to, when it names one literally.

    ``registry.example:5000/app:*`` -> ``registry.example:5000``, ``nginx`` -> ``docker.io``;
    None for a pattern that spans the whole reference (``*:*``) or globs the host
    (``*.example/*``): such a rule can send an image on any registry, or on one an attacker
    registers, to its validator.
    """
    host = _compile(pattern).host
    return None if host is None or not _WILDCARDS.isdisjoint(host) else host


def specificity(pattern: str, image: ImageRef) -> Specificity:
    """Connaisseur's specificity of ``pattern`` for ``image`` (meaningful when it matches)."""
    pattern_components = _compile(pattern).normalised.split("/")
    image_components = str(image).split("/")
    # A matching pattern never has more components than the image (each "/" is literal);
    # the padding only serves comparisons of patterns that do not match.
    image_components += [""] * (len(pattern_components) - len(image_components))
    return Specificity(
        components=len(pattern_components),
        common_prefixes=tuple(
            _common_prefix_length(own, theirs)
            for own, theirs in zip(pattern_components, image_components, strict=False)
        ),
        component_lengths=tuple(len(component) for component in pattern_components),
    )


@functools.lru_cache(maxsize=1024)
def _compile(pattern: str) -> _Pattern:
    name, reference_part = _split_reference_part(pattern)
    if not reference_part:
        suffixes: tuple[str, ...] = (_ANY_TAG, "@*")
    elif reference_part.startswith("@"):
        suffixes = (reference_part, _ANY_TAG + reference_part)
    elif "@" in reference_part:
        suffixes = (reference_part,)
    else:
        suffixes = (reference_part, reference_part + "@*")
    normalised_suffix = reference_part or _ANY_TAG

    if "/" not in name and name[:1] in _WILDCARDS:
        return _Pattern(
            host=None,
            bodies=tuple(name + suffix for suffix in suffixes),
            normalised=name + normalised_suffix,
        )
    host, path = _anchor(name)
    return _Pattern(
        host=host,
        bodies=tuple(path + suffix for suffix in suffixes),
        normalised=f"{host}/{path}{normalised_suffix}",
    )


def _split_reference_part(pattern: str) -> tuple[str, str]:
    """Split ``pattern`` into name glob and tag/digest part (``""`` when there is none)."""
    last_slash = pattern.rfind("/")
    for index in range(last_slash + 1, len(pattern)):
        if pattern[index] in ":@":
            return pattern[:index], pattern[index:]
    return pattern, ""


def _anchor(name: str) -> tuple[str, str]:
    """Registry host glob and path glob of a name glob, normalised like a Docker reference."""
    first, slash, rest = name.partition("/")
    if not slash:
        return DEFAULT_REGISTRY, OFFICIAL_NAMESPACE + name
    if first != "localhost" and _REGISTRY_MARKS.isdisjoint(first):
        return DEFAULT_REGISTRY, name
    # Hosts are compared folded, as ``ImageRef`` folds the image's registry.
    host = first.lower()
    if host == LEGACY_DEFAULT_REGISTRY:
        host = DEFAULT_REGISTRY
    # "docker.io/nginx" is the official image, but "docker.io/*" still means all of Docker Hub.
    if host == DEFAULT_REGISTRY and "/" not in rest and _WILDCARDS.isdisjoint(rest):
        rest = OFFICIAL_NAMESPACE + rest
    return host, rest


def _glob_match(pattern: str, text: str) -> bool:
    """Whether glob ``pattern`` (``*`` any run, ``?`` any character) matches all of ``text``.

    Linear backtracking to the last ``*`` (O(len(pattern) * len(text)) at worst) instead of a
    regular expression, so no pattern can make matching explode.
    """
    p = t = 0
    star_p, star_t = -1, 0
    while t < len(text):
        if p < len(pattern) and pattern[p] == "*":
            star_p, star_t = p, t
            p += 1
        elif p < len(pattern) and pattern[p] in ("?", text[t]):
            p += 1
            t += 1
        elif star_p >= 0:
            # Let the last "*" swallow one more character and retry from there.
            star_t += 1
            p, t = star_p + 1, star_t
        else:
            return False
    return all(char == "*" for char in pattern[p:])


def _common_prefix_length(left: str, right: str) -> int:
    length = 0
    for left_char, right_char in zip(left, right, strict=False):
        if left_char != right_char:
            break
        length += 1
    return length
