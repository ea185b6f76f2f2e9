"""Image references from hostile text: parse_image returns a normal form or raises ImageRefError.

tests/unit/test_image.py proves the round trip for references built from the grammar and runs
plain random text. Here the text is built to sit on the grammar's edges: valid fragments glued
with the characters that change meaning (``/ : @ .``), upper case and non-ASCII letters whose
lower case is ASCII (Kelvin sign, dotted I), Unicode digits and spaces, and lengths around the
name, tag and reference limits. Whatever parses must be its own normal form.
"""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from kenner.admission.image import (
    NAME_MAX_LENGTH,
    TAG_MAX_LENGTH,
    ImageRef,
    ImageRefError,
    parse_image,
)

# Characters that matter to the grammar, plus look-alikes that a careless lower() or \d admits.
_TRICKY = "/:@.-_ aA0zZ9" + "\u212a\u0130\u0131\u0660\u00b2\uff10\u2028\t\n\x00\ufeff["
_FRAGMENTS = st.sampled_from(
    [
        "registry.k8s.io",
        "docker.io",
        "index.docker.io",
        "localhost",
        "localhost:5000",
        "[::1]:5000",
        "Registry.K8s.IO",
        "library",
        "nginx",
        "pause",
        "a__b",
        "a---b",
        "latest",
        "sha256:" + "a" * 64,
        "sha512:" + "0" * 128,
        "sha256:" + "A" * 64,
        "a" * 64,
        "x" * NAME_MAX_LENGTH,
        "t" * TAG_MAX_LENGTH,
    ]
)
_hostile_text = st.lists(
    _FRAGMENTS | st.text(alphabet=_TRICKY, min_size=1, max_size=3), min_size=1, max_size=8
).map("".join)

_ASCII_REFERENCE = re.compile(r"[\x21-\x7e]+")


@settings(max_examples=400)
@given(_hostile_text)
def test_whatever_parses_is_its_own_normal_form(text: str) -> None:
    try:
        ref = parse_image(text)
    except ImageRefError as error:
        assert str(error).startswith("invalid image reference ")  # noqa: PT017 (the error is one of several outcomes)
        return
    rendered = str(ref)
    assert parse_image(rendered) == ref
    assert str(parse_image(rendered)) == rendered
    # The normal form is printable ASCII, its host lower case, and it says what it pins.
    assert _ASCII_REFERENCE.fullmatch(rendered)
    assert ref.registry == ref.registry.lower()
    assert ref.tag is not None or ref.digest is not None
    assert len(ref.name) <= NAME_MAX_LENGTH


@given(_hostile_text, st.sampled_from(["sha256:" + "b" * 64, "sha384:" + "c" * 96]))
def test_pinning_keeps_the_normal_form(text: str, digest: str) -> None:
    try:
        ref = parse_image(text)
    except ImageRefError:
        return
    pinned = ref.with_digest(digest)
    assert parse_image(str(pinned)) == pinned
    assert (pinned.registry, pinned.repository, pinned.tag) == (
        ref.registry,
        ref.repository,
        ref.tag,
    )


_printable = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=201)


@given(
    _printable
    | _hostile_text.map(lambda text: text * 40).filter(lambda t: t.isascii() and t.isprintable())
)
def test_error_messages_quote_at_most_200_characters_of_input(text: str) -> None:
    """Common rule: an error message that quotes input truncates it (<= 200 characters).

    The message is "invalid image reference <quoted input>: <reason>" and the reason may quote
    a part again; the wording is short, so 2 x 200 characters of input plus 200 bound it.
    """
    try:
        parse_image(text)
    except ImageRefError as error:
        assert len(str(error)) <= 600, str(error)[:120]  # noqa: PT017 (the error is one of several outcomes)


def test_the_reference_type_is_the_one_the_parser_returns() -> None:
    assert isinstance(parse_image("registry.k8s.io/pause:3.9"), ImageRef)
