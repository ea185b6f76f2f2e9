"""Image policy rule selection: Connaisseur's most-specific match, anchored at the registry host."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from kenner.admission.image import parse_image
from kenner.admission.policy import Specificity, pattern_matches, select_rule, specificity
from kenner.config.model import Rule
from tests.shared import connaisseur_fixtures

SHA_X = "sha256:" + "1234567890123456" * 4
SHA_Y = "sha256:" + "91ac9b26df583762234c1cdb2fc930364754ccc59bc752a2bfe298d2ea68f9ff"
REDIS_PIN = "sha256:83edc2b8e9ffb1781a67bdab260a94674f802881838e20bba0f9a69d8cb40d70"
SAMPLE_V1 = "docker.io/securesystemsengineering/sample:v1"
SAMPLE_DIGEST = (
    "docker.io/securesystemsengineering/sample@sha256:"
    "1388abc7a12532836c3a81bdb0087409b15208f5aeba7a87aedcfd56d637c145"
)


def _fixture_policy(file_name: str, *keys: str) -> tuple[Rule, ...]:
    """The ``policy`` list of a Connaisseur fixture config, as kenner rules."""
    document: Any = yaml.safe_load((connaisseur_fixtures() / "config" / file_name).read_text())
    for key in (*keys, "policy"):
        document = document[key]
    return tuple(
        Rule(pattern=entry["pattern"], validator=entry.get("validator", "default"))
        for entry in document
    )


def _selected_pattern(rules: tuple[Rule, ...], image: str) -> str | None:
    rule = select_rule(rules, parse_image(image))
    return None if rule is None else rule.pattern


def _rules(*patterns: str) -> tuple[Rule, ...]:
    return tuple(
        Rule(pattern=pattern, validator=f"v{index}") for index, pattern in enumerate(patterns)
    )


# Connaisseur v2.8.1 tests/test_config.py::test_get_policy_rule, the Python flask tests' rule
# choices (alice-image -> its own rule), plus anchoring cases against the same policy.
@pytest.mark.parametrize(
    ("image", "pattern"),
    [
        ("image:tag", "docker.io/*:*"),
        ("reg.io/image:tag", "*:*"),
        ("k8s.gcr.io/path/image", "k8s.gcr.io/*:*"),
        (
            "docker.io/securesystemsengineering/sample:v4",
            "docker.io/securesystemsengineering/sample:v4",
        ),
        (
            "securesystemsengineering/alice-image:test",
            "docker.io/securesystemsengineering/alice-image",
        ),
        (
            f"securesystemsengineering/alice-image@{SHA_X}",
            "docker.io/securesystemsengineering/alice-image",
        ),
        (
            f"securesystemsengineering/alice-image:test@{SHA_X}",
            "docker.io/securesystemsengineering/alice-image",
        ),
        ("securesystemsengineering/sample:v1", "docker.io/securesystemsengineering/sample"),
        (
            "securesystemsengineering/sample-san-sama:hai",
            "docker.io/securesystemsengineering/sample-san-sama",
        ),
        (
            "docker.io/securesystemsengineering/connaisseur:helm-hook",
            "docker.io/securesystemsengineering/connaisseur:*",
        ),
        (
            f"securesystemsengineering/charlie-image@{SHA_Y}",
            "docker.io/securesystemsengineering/*:*",
        ),
        ("nginx", "docker.io/*:*"),
        ("gcr.io/project/app:1", "gcr.io/*:*"),
        # Anchoring: the host decides, not a host-like path inside another registry.
        ("evil.io/k8s.gcr.io/path/image", "*:*"),
        ("evil.io/docker.io/securesystemsengineering/sample:v4", "*:*"),
        ("k8s.gcr.io.evil.io/image", "*:*"),
    ],
)
def test_python_sample_policy(image, pattern):
    rules = _fixture_policy("python_sample_config_v2.8.1.yaml")
    assert _selected_pattern(rules, image) == pattern


def test_python_sample_policy_without_catch_all_matches_nothing_for_unknown_registry():
    # Connaisseur v2.8.1 test_get_matching_rule_error: policy[1:] drops "*:*".
    rules = _fixture_policy("python_sample_config_v2.8.1.yaml")
    assert rules[0].pattern == "*:*"
    assert select_rule(rules[1:], parse_image("reg.io/image")) is None


@pytest.mark.parametrize(
    ("image", "pattern"),
    [
        (f"docker.io/library/redis@{REDIS_PIN}", f"docker.io/library/redis@{REDIS_PIN}"),
        (f"redis@{REDIS_PIN}", f"docker.io/library/redis@{REDIS_PIN}"),
        # The runtime pulls by digest, so the pinned digest matches whatever the tag says.
        (f"redis:7@{REDIS_PIN}", f"docker.io/library/redis@{REDIS_PIN}"),
        ("redis:7", "*:*"),
        (f"redis@{SHA_X}", "*:*"),
        ("registry.k8s.io/nginx-slim:0.8", "registry.k8s.io/*:*"),
        ("evil.io/registry.k8s.io/nginx-slim:0.8", "*:*"),
        ("registry.k8s.io.evil.io/nginx-slim:0.8", "*:*"),
        (
            "docker.io/securesystemsengineering/connaisseur:v3.10.0",
            "docker.io/securesystemsengineering/*:*",
        ),
        ("securesystemsengineering/testimage:unsigned", "docker.io/securesystemsengineering/*:*"),
        ("quay.io/securesystemsengineering/connaisseur:v3", "*:*"),
    ],
)
def test_helm_chart_default_policy(image, pattern):
    rules = _fixture_policy("charts_connaisseur_values_HEAD.yaml", "application")
    assert _selected_pattern(rules, image) == pattern


@pytest.mark.parametrize(
    ("image", "validator"),
    [
        (f"my.reg/deny-me@{SHA_Y}", "deny"),
        (f"my.reg/allow-me@{SHA_Y}", "allow"),
        ("my.reg/allow-me:v1", "allow"),
        ("test-image", "allow"),
        ("docker.io/library/test-image:v2", "allow"),
        ("securesystemsengineering/alice-image:test", "mock"),
        ("busybox", "mock"),
        ("evil.io/my.reg/allow-me", "mock"),
        ("my.reg/allow-me-not", "mock"),
        ("quay.io/test-image", "mock"),
    ],
)
def test_go_mutate_test_policy(image, validator):
    rules = _fixture_policy("go_10_mutate_test.yaml")
    rule = select_rule(rules, parse_image(image))
    assert rule is not None
    assert rule.validator == validator


# Connaisseur v2.8.1 test_match: components, lengths and common prefixes of a pattern.
@pytest.mark.parametrize(
    ("pattern", "image", "expected"),
    [
        ("*:*", SAMPLE_V1, Specificity(1, (0,), (3,))),
        ("doc*/*", SAMPLE_V1, Specificity(2, (3, 0), (4, 3))),
        ("*/sec*/*:*", SAMPLE_V1, Specificity(3, (0, 3, 0), (1, 4, 3))),
        ("*@sha256:*", SAMPLE_DIGEST, Specificity(1, (0,), (10,))),
    ],
)
def test_specificity_components(pattern, image, expected):
    assert specificity(pattern, parse_image(image)) == expected


# Connaisseur v2.8.1 test_match_compare: the second pattern is the more specific one.
@pytest.mark.parametrize(
    ("less", "more"),
    [
        ("*:*", "*/*"),
        ("*/*", "docker*/*"),
        ("docker*/*", "*/*/*"),
        ("*/*/image:v1", "*/sam*/*"),
    ],
)
def test_specificity_order(less, more):
    image = parse_image(SAMPLE_V1)
    assert specificity(more, image) > specificity(less, image)


@pytest.mark.parametrize(
    ("less", "more"), [("*:*", "*/*"), ("*/*", "docker*/*"), ("docker*/*", "*/*/*")]
)
def test_more_specific_rule_wins_in_either_order(less, more):
    image = parse_image(SAMPLE_V1)
    assert _selected_pattern(_rules(less, more), SAMPLE_V1) == more
    assert _selected_pattern(_rules(more, less), SAMPLE_V1) == more
    assert pattern_matches(less, image)
    assert pattern_matches(more, image)


def test_equally_specific_rules_resolve_to_the_earlier():
    # Connaisseur's "*" vs "*:*": "*" means "*:*", so neither is more specific.
    image = parse_image(SAMPLE_V1)
    assert specificity("*", image) == specificity("*:*", image)
    assert select_rule(_rules("*", "*:*"), image) == Rule(pattern="*", validator="v0")
    assert select_rule(_rules("*:*", "*"), image) == Rule(pattern="*:*", validator="v0")
    duplicates = (Rule(pattern="*:*", validator="first"), Rule(pattern="*:*", validator="second"))
    assert select_rule(duplicates, image) == duplicates[0]


@pytest.mark.parametrize(
    ("less", "more"),
    [
        # Equal common prefixes ("d" against "docker.io"); the longer first component wins.
        ("d*/*", "d*.io/*"),
        # Equal prefixes everywhere; the second component decides.
        ("docker.io/s*/*", "docker.io/s*g/*"),
        # Longest common prefix in the leftmost differing component wins over later lengths.
        ("docker.io/*/sample:v1", "docker.io/secure*/*"),
    ],
)
def test_tie_breaks_after_component_count(less, more):
    assert _selected_pattern(_rules(less, more), SAMPLE_V1) == more
    assert _selected_pattern(_rules(more, less), SAMPLE_V1) == more


@pytest.mark.parametrize(
    ("pattern", "image", "matches"),
    [
        # Host anchoring.
        ("registry.k8s.io/*:*", "registry.k8s.io/pause:3.9", True),
        ("registry.k8s.io/*:*", "evil.io/registry.k8s.io/pause:3.9", False),
        ("registry.k8s.io/*:*", "registry.k8s.io.evil.io/pause:3.9", False),
        ("registry.k8s.io/*", "registry.k8s.io:443/pause", False),
        ("*.k8s.io/*:*", "registry.k8s.io/pause:3.9", True),
        ("*.k8s.io/*:*", "evil.io/registry.k8s.io/pause:3.9", False),
        ("Registry.K8s.IO/*", "registry.k8s.io/pause", True),
        ("localhost:5000/*", "localhost:5000/team/app:1", True),
        ("localhost:5000/*", "localhost:5001/team/app:1", False),
        ("localhost/*", "localhost/app", True),
        ("[::1]:5000/*", "[::1]:5000/app", True),
        ("docker*/*", "docker.io/library/nginx", True),
        # Patterns that start with a wildcard and have no "/" span everything.
        ("*:*", "evil.io/registry.k8s.io/pause:3.9", True),
        ("*:*", f"nginx@{SHA_X}", True),
        ("*:*", f"localhost:5000/a/b:t@{SHA_X}", True),
        ("*", f"nginx@{SHA_X}", True),
        ("*", "nginx", True),
        ("*/*", "evil.io/a/b/c:1", True),
        ("*:v1", "quay.io/any/thing:v1", True),
        ("*:v1", "quay.io/any/thing:v2", False),
        # Docker Hub names are normalised as references are.
        ("nginx", "docker.io/library/nginx:1.27", True),
        ("nginx", "docker.io/nginxinc/nginx:1.27", False),
        ("nginx", "quay.io/nginx", False),
        ("docker.io/nginx", "nginx", True),
        ("index.docker.io/library/nginx", "nginx", True),
        ("myorg/app", "docker.io/myorg/app:1", True),
        ("myorg/app", f"myorg/app@{SHA_X}", True),
        ("myorg/app", "quay.io/myorg/app", False),
        ("myorg/*", "myorg/app/sub:1", True),
        ("docker.io/*", "myorg/app", True),
        ("docker.io/*", "nginx", True),
        ("docker.io/*", "quay.io/nginx", False),
        # "*" spans "/" inside the path; "?" is one character.
        ("docker.io/*:*", "docker.io/a/b/c:1", True),
        ("nginx:1.2?", "nginx:1.27", True),
        ("nginx:1.2?", "nginx:1.2", False),
        # Tag and digest parts constrain only what they state.
        ("x:v1", "x:v1", True),
        ("x:v1", f"x:v1@{SHA_X}", True),
        ("x:v1", "x:v2", False),
        ("x:v1", f"x@{SHA_X}", False),
        (f"x@{SHA_X}", f"x@{SHA_X}", True),
        (f"x@{SHA_X}", f"x:v1@{SHA_X}", True),
        (f"x@{SHA_X}", f"x@{SHA_Y}", False),
        (f"x@{SHA_X}", "x:v1", False),
        (f"x:v1@{SHA_X}", f"x:v1@{SHA_X}", True),
        (f"x:v1@{SHA_X}", f"x:v2@{SHA_X}", False),
        (f"x:v1@{SHA_X}", f"x@{SHA_X}", False),
        ("x", "x:anything", True),
        ("x", f"x@{SHA_X}", True),
        ("x", "xy", False),
        # An empty pattern names nothing.
        ("", "nginx", False),
    ],
)
def test_pattern_matches(pattern, image, matches):
    assert pattern_matches(pattern, parse_image(image)) is matches


def test_no_rules_select_nothing():
    assert select_rule((), parse_image("nginx")) is None


def test_anchored_rule_loses_to_catch_all_for_a_nested_host():
    rules = (
        Rule(pattern="*:*", validator="deny"),
        Rule(pattern="registry.k8s.io/*:*", validator="allow"),
    )
    rule = select_rule(rules, parse_image("evil.io/registry.k8s.io/pause:3.9"))
    assert rule == rules[0]


_host = st.sampled_from(
    ["docker.io", "registry.k8s.io", "quay.io", "localhost", "localhost:5000", "10.0.0.1:5000"]
)
_path = st.lists(
    st.sampled_from(["library", "app", "registry.k8s.io", "a-b", "x_y"]), min_size=1, max_size=3
)
_suffix = st.sampled_from([":latest", ":v1.2", f"@{SHA_X}", f":v1@{SHA_Y}"])


@given(_host, _path, _suffix, _host)
def test_literal_host_patterns_match_exactly_their_host(host, path, suffix, pattern_host):
    image = parse_image(f"{host}/{'/'.join(path)}{suffix}")
    assert pattern_matches("*:*", image)
    assert pattern_matches("*", image)
    assert pattern_matches(f"{pattern_host}/*", image) is (image.registry == pattern_host)
    rules = _rules("*:*", f"{pattern_host}/*:*")
    assert select_rule(rules, image) == rules[1 if image.registry == pattern_host else 0]
