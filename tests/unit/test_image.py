"""Image reference parsing and normalisation (Docker's reference grammar)."""

from __future__ import annotations

import re

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from kenner.admission.image import ImageRef, ImageRefError, parse_image

SHA_A = "sha256:" + "a" * 64
SHA_B = "sha256:" + "0123456789abcdef" * 4
SHA_512 = "sha512:" + "c" * 128


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest"),
    [
        ("nginx", "docker.io", "library/nginx", "latest", None),
        ("nginx:1.27", "docker.io", "library/nginx", "1.27", None),
        ("docker.io/nginx", "docker.io", "library/nginx", "latest", None),
        ("index.docker.io/nginx", "docker.io", "library/nginx", "latest", None),
        ("index.docker.io/org/app:v1", "docker.io", "org/app", "v1", None),
        ("docker.io/library/nginx:latest", "docker.io", "library/nginx", "latest", None),
        (
            "securesystemsengineering/alice-image:test",
            "docker.io",
            "securesystemsengineering/alice-image",
            "test",
            None,
        ),
        ("registry.k8s.io/nginx-slim:0.8", "registry.k8s.io", "nginx-slim", "0.8", None),
        ("k8s.gcr.io/path/image", "k8s.gcr.io", "path/image", "latest", None),
        ("localhost/x", "localhost", "x", "latest", None),
        ("localhost:5000/x", "localhost:5000", "x", "latest", None),
        ("127.0.0.1:5000/team/app:v2", "127.0.0.1:5000", "team/app", "v2", None),
        ("[::1]:5000/app", "[::1]:5000", "app", "latest", None),
        ("my.reg:5000/a/b:t@" + SHA_A, "my.reg:5000", "a/b", "t", SHA_A),
        ("x@" + SHA_B, "docker.io", "library/x", None, SHA_B),
        ("my.reg/deny-me@" + SHA_B, "my.reg", "deny-me", None, SHA_B),
        ("x@" + SHA_512, "docker.io", "library/x", None, SHA_512),
        # Registry hosts are folded to lower case (DNS is case-insensitive).
        ("Registry.K8s.IO/pause:3.9", "registry.k8s.io", "pause", "3.9", None),
        # Docker's separators: ".", "_", "__" and runs of "-".
        ("org/a.b_c__d---e", "docker.io", "org/a.b_c__d---e", "latest", None),
        # Tags may contain upper case and start with "_".
        ("app:_Build.1-RC", "docker.io", "library/app", "_Build.1-RC", None),
        ("app:" + "t" * 128, "docker.io", "library/app", "t" * 128, None),
        # Without "." or ":" the first component is a Docker Hub namespace, not a host.
        ("myhost/app", "docker.io", "myhost/app", "latest", None),
        # Docker's reading: a port-like suffix without "/" is a tag.
        ("localhost:5000", "docker.io", "library/localhost", "5000", None),
    ],
)
def test_valid_references(text, registry, repository, tag, digest):
    ref = parse_image(text)
    assert ref == ImageRef(registry=registry, repository=repository, tag=tag, digest=digest)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "reference is empty"),
        (" ", "reference contains whitespace"),
        ("nginx ", "reference contains whitespace"),
        ("ng\tinx", "reference contains whitespace"),
        ("Nginx", "repository name must be lowercase"),
        ("UPPER/x", "repository name must be lowercase"),
        ("docker.io/Library/nginx", "repository name must be lowercase"),
        ("x:", "tag is empty"),
        ("x:-v1", "invalid tag '-v1'"),
        ("x:.v1", "invalid tag '.v1'"),
        ("x:v1:v2", "invalid tag 'v1:v2'"),
        ("x:" + "t" * 129, "invalid tag"),
        ("x@sha256:short", "sha256 digest must be 64 lower-case hex characters, got 'short'"),
        ("x@sha256:" + "a" * 63, "sha256 digest must be 64 lower-case hex characters"),
        ("x@sha256:" + "a" * 65, "sha256 digest must be 64 lower-case hex characters"),
        ("x@sha256:" + "A" * 64, "sha256 digest must be 64 lower-case hex characters"),
        ("x@sha256:" + "g" * 64, "sha256 digest must be 64 lower-case hex characters"),
        ("x@md5:" + "a" * 32, "unsupported digest algorithm 'md5'"),
        ("x@", "is not of the form 'algorithm:hex'"),
        ("x@" + "a" * 64, "is not of the form 'algorithm:hex'"),
        ("x@" + SHA_A + "@" + SHA_A, "sha256 digest must be"),
        ("/itswrong", "empty path component"),
        ("a//b", "empty path component"),
        ("a/", "empty path component"),
        ("my.reg/", "repository name is empty"),
        (":tag", "repository name is empty"),
        ("a_/b", "invalid path component 'a_'"),
        ("a/-b", "invalid path component '-b'"),
        ("a/b___c", "invalid path component 'b___c'"),
        ("reg.io:port/x", "invalid registry host 'reg.io:port'"),
        ("-reg.io/x", "invalid registry host '-reg.io'"),
        ("reg..io/x", "invalid registry host 'reg..io'"),
        ("a" * 64, "image ID, not a name"),
        ("reg.io/" + "a" * 249, "name is 256 characters long, more than 255"),
        ("x" * 600, "more than any valid reference"),
        ("ngïnx", "invalid path component"),
    ],
)
def test_invalid_references(text, reason):
    with pytest.raises(ImageRefError) as caught:
        parse_image(text)
    message = str(caught.value)
    assert reason in message
    if len(text) < 100:
        assert message.startswith(f"invalid image reference {text!r}: ")


def test_error_message_names_reference_and_reason():
    with pytest.raises(
        ImageRefError,
        match=r"^invalid image reference 'Nginx': repository name "
        r"must be lowercase$",
    ):
        parse_image("Nginx")


def test_name_of_longest_valid_name_is_accepted():
    ref = parse_image("reg.io/" + "a" * 248)
    assert len(ref.name) == 255


@pytest.mark.parametrize(
    ("text", "rendered"),
    [
        ("nginx", "docker.io/library/nginx:latest"),
        ("my.reg:5000/a/b:t@" + SHA_A, "my.reg:5000/a/b:t@" + SHA_A),
        ("x@" + SHA_A, "docker.io/library/x@" + SHA_A),
    ],
)
def test_str_renders_normalised_reference(text, rendered):
    assert str(parse_image(text)) == rendered


def test_name_is_registry_and_repository():
    assert parse_image("nginx:1@" + SHA_A).name == "docker.io/library/nginx"


def test_with_digest_keeps_the_tag():
    pinned = parse_image("nginx:1.27").with_digest(SHA_A)
    assert pinned == ImageRef("docker.io", "library/nginx", "1.27", SHA_A)
    assert str(pinned) == "docker.io/library/nginx:1.27@" + SHA_A


def test_with_digest_replaces_an_existing_digest():
    assert parse_image("x@" + SHA_A).with_digest(SHA_B).digest == SHA_B


def test_with_digest_rejects_an_invalid_digest():
    with pytest.raises(ImageRefError, match=r"sha256 digest must be 64 lower-case hex"):
        parse_image("nginx").with_digest("sha256:ABC")


# Strategies that only produce what the grammar allows, so the round trip must hold.
_component = st.from_regex(
    re.compile(r"[a-z0-9]{1,4}(?:(?:[._]|__|-{1,3})[a-z0-9]{1,4}){0,2}"), fullmatch=True
)
_label = st.from_regex(re.compile(r"[a-z0-9](?:[a-z0-9-]{0,6}[a-z0-9])?"), fullmatch=True)
_host = st.builds(
    lambda labels, port: ".".join(labels) + (f":{port}" if port is not None else ""),
    st.lists(_label, min_size=2, max_size=3),
    st.none() | st.integers(min_value=1, max_value=65535),
).filter(lambda host: host not in ("docker.io", "index.docker.io"))
_registry = st.sampled_from(["docker.io", "localhost", "localhost:5000", "127.0.0.1:5000"]) | _host
_tag = st.from_regex(re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}"), fullmatch=True)
_digest = st.binary(min_size=32, max_size=32).map(lambda raw: "sha256:" + raw.hex())


@st.composite
def _image_refs(draw: st.DrawFn) -> ImageRef:
    registry = draw(_registry)
    repository = "/".join(draw(st.lists(_component, min_size=1, max_size=3)))
    if registry == "docker.io" and "/" not in repository:
        repository = "library/" + repository
    tag = draw(st.none() | _tag)
    digest = draw(st.none() | _digest)
    if tag is None and digest is None:
        tag = "latest"
    return ImageRef(registry=registry, repository=repository, tag=tag, digest=digest)


@given(_image_refs())
def test_round_trip_of_valid_references(ref):
    assert parse_image(str(ref)) == ref
    assert str(parse_image(str(ref))) == str(ref)


@given(_image_refs())
def test_docker_hub_short_forms_normalise_to_the_full_form(ref):
    if ref.registry != "docker.io":
        return
    short = str(ref).removeprefix("docker.io/").removeprefix("library/")
    first = short.split("/")[0]
    # Docker reads a first component with "." or ":" (or "localhost") as a registry host, so
    # such a name has no short form on Docker Hub.
    assume("/" not in short or not ("." in first or ":" in first or first == "localhost"))
    assert parse_image(short) == ref
    assert parse_image("index.docker.io/" + short) == ref


@given(st.text(max_size=80) | st.from_regex(re.compile(r"[a-zA-Z0-9.:/@_-]{0,80}")))
def test_arbitrary_text_parses_or_raises_image_ref_error(text):
    # Anything but ImageRefError escaping here fails the test.
    try:
        ref = parse_image(text)
    except ImageRefError as error:
        message = str(error)
    else:
        # Whatever parses is already normal: parsing it again changes nothing.
        assert parse_image(str(ref)) == ref
        return
    assert message.startswith("invalid image reference ")
