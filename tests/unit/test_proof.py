"""Validation proofs (``kenner.admission.proof``): made and checked as pure functions."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kenner.admission.proof import (
    ANNOTATION,
    ANNOTATION_POINTER,
    SEAL_CACHE_ENTRIES,
    SEAL_CACHE_MAX_CHARS,
    SEAL_CACHE_MAX_IMAGES,
    ProofKey,
    Prover,
    policy_hash,
    proof_of,
    proof_patch,
)
from kenner.config.model import (
    Auth,
    Config,
    Features,
    NotaryV1ValidatorConfig,
    Rule,
    RuleOptions,
    StaticValidatorConfig,
    TrustRoot,
)

CONFIG = Config((StaticValidatorConfig("default", True),), (Rule("*:*"),))
KEY = ProofKey(b"k" * 32)
PROVER = Prover.for_config(CONFIG, KEY)
DIGEST = "sha256:" + "a" * 64
IMAGES = [
    ("/spec/containers/0/image", f"docker.io/library/nginx:1.27@{DIGEST}"),
    ("/spec/initContainers/0/image", "registry.k8s.io/pause:3.9"),
]
GENUINE = PROVER.seal("team", IMAGES)


def test_a_genuine_proof_verifies_whatever_the_order_of_the_images() -> None:
    assert GENUINE.startswith(f"v1:{KEY.key_id}:{PROVER.policy_hash[:12]}:")
    result = PROVER.verify(GENUINE, "team", list(reversed(IMAGES)))
    assert result.ok
    assert result.reason == "proof verified"


@pytest.mark.parametrize(
    ("namespace", "images"),
    [
        ("other", IMAGES),  # copied to another namespace
        ("team", [IMAGES[0], (IMAGES[1][0], "registry.k8s.io/pause:3.10")]),  # a tampered image
        ("team", [IMAGES[0], ("/spec/containers/1/image", IMAGES[1][1])]),  # moved elsewhere
        ("team", IMAGES[:1]),  # an image less
        ("team", [*IMAGES, ("/spec/containers/1/image", "evil:1")]),  # one more
    ],
)
def test_a_proof_binds_the_namespace_and_every_image_at_its_place(
    namespace: str, images: list[tuple[str, str]]
) -> None:
    result = PROVER.verify(GENUINE, namespace, images)
    assert not result.ok
    assert result.reason == "its proof does not match its images or namespace"


def test_another_key_or_policy_does_not_verify() -> None:
    other_key = Prover.for_config(CONFIG, ProofKey(b"x" * 32))
    assert other_key.verify(GENUINE, "team", IMAGES).reason == (
        "its proof was made with another key"
    )
    detection = attrs.evolve(CONFIG, features=Features(detection_mode=True))
    other_policy = Prover.for_config(detection, KEY)
    assert other_policy.verify(GENUINE, "team", IMAGES).reason == (
        "its proof was made under another policy"
    )


def _flip(text: str) -> str:
    return text[:-1] + ("B" if text[-1] != "B" else "C")


def test_a_forged_key_id_or_policy_prefix_still_needs_the_mac() -> None:
    version, _, _, mac = GENUINE.split(":")
    other = Prover.for_config(CONFIG, ProofKey(b"x" * 32))
    # An attacker who copies our key id and policy prefix onto another MAC gets nowhere.
    forged = ":".join([version, KEY.key_id, PROVER.policy_hash[:12], _flip(mac)])
    assert not PROVER.verify(forged, "team", IMAGES).ok
    relabelled = ":".join([version, other.key.key_id, PROVER.policy_hash[:12], mac])
    assert not other.verify(relabelled, "team", IMAGES).ok


@pytest.mark.parametrize(
    "value",
    [None, "", 1, 1.5, True, [], {}, [GENUINE], {"v": GENUINE}, GENUINE[:-1], _flip(GENUINE),
     GENUINE + "A", GENUINE[:40], "v2" + GENUINE[2:], GENUINE + ":x", GENUINE.replace(":", ";"),
     GENUINE + " ", " " + GENUINE, GENUINE.upper(), "é" + GENUINE[1:], GENUINE * 3],
)  # fmt: skip
def test_truncated_or_garbage_values_do_not_verify(value: object) -> None:
    assert not PROVER.verify(value, "team", IMAGES).ok


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=300),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)
near_genuine = st.builds(
    lambda cut, noise: GENUINE[:cut] + noise,
    st.integers(0, len(GENUINE)),
    st.text(max_size=5),
)


@given(value=json_values | near_genuine)
def test_any_value_never_raises_and_verifies_only_if_genuine(value: object) -> None:
    result = PROVER.verify(value, "team", IMAGES)
    assert result.ok == (value == GENUINE)


def test_the_policy_hash_covers_what_changes_a_verdict_but_not_credentials() -> None:
    root = TrustRoot("default", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----")
    notary = NotaryV1ValidatorConfig("default", "https://notary.example", (root,))
    base = Config((notary,), (Rule("*:*"),))
    changed = [
        attrs.evolve(base, policy=(Rule("docker.io/*:*"),)),
        attrs.evolve(base, policy=(Rule("*:*", options=RuleOptions(enforce="warn")),)),
        attrs.evolve(base, features=Features(automatic_unchanged_approval=True)),
        attrs.evolve(base, validators=(attrs.evolve(notary, host="https://other.example"),)),
        attrs.evolve(base, validators=(attrs.evolve(notary, trust_roots=()),)),
    ]
    assert len({policy_hash(c) for c in [base, *changed]}) == len(changed) + 1
    with_login = attrs.evolve(notary, auth=Auth(username="u", password="secret"))
    assert policy_hash(attrs.evolve(base, validators=(with_login,))) == policy_hash(base)


def test_short_keys_are_refused_and_the_key_never_shows() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        ProofKey(b"k" * 31)
    assert "kkkk" not in repr(PROVER)
    assert ProofKey.random() != ProofKey.random()


def test_the_patch_adds_or_replaces_the_annotation() -> None:
    assert proof_patch({}, "p") == {
        "op": "add",
        "path": "/metadata",
        "value": {"annotations": {ANNOTATION: "p"}},
    }
    assert proof_patch({"metadata": {"name": "x"}}, "p") == {
        "op": "add",
        "path": "/metadata/annotations",
        "value": {ANNOTATION: "p"},
    }
    existing = {"metadata": {"annotations": {ANNOTATION: "old", "a": "b"}}}
    assert proof_patch(existing, "p") == {"op": "add", "path": ANNOTATION_POINTER, "value": "p"}
    assert ANNOTATION_POINTER == "/metadata/annotations/kenner.dev~1proof"
    # Shapes the API server refuses anyway get no proof.
    assert proof_patch({"metadata": []}, "p") is None
    assert proof_patch({"metadata": {"annotations": "x"}}, "p") is None


def test_proof_of_reads_the_annotation_of_any_shape() -> None:
    assert proof_of({"metadata": {"annotations": {ANNOTATION: 5}}}) == 5
    assert proof_of({"metadata": {"annotations": []}}) is None
    assert proof_of({"metadata": "x"}) is None
    assert proof_of({}) is None


def test_verify_object_reads_the_images_as_stored() -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"annotations": {}},
        "spec": {"containers": [{"name": "a", "image": IMAGES[0][1]}]},
    }
    pod["metadata"]["annotations"][ANNOTATION] = PROVER.seal(  # type: ignore[index]
        "team", [("/spec/containers/0/image", IMAGES[0][1])]
    )
    assert PROVER.verify_object(pod, "team", "Pod").ok
    assert PROVER.verify_object({"kind": "Pod"}, "team", "Pod").reason == (
        "its images cannot be read"
    )


@given(
    st.text(max_size=20),
    st.lists(st.tuples(st.text(max_size=30), st.text(max_size=30)), max_size=12),
)
def test_a_remembered_seal_is_the_one_a_fresh_prover_makes(
    namespace: str, images: list[tuple[str, str]]
) -> None:
    """The per-prover seal memory (performance) never changes a value."""
    first = PROVER.seal(namespace, images)
    assert PROVER.seal(namespace, list(reversed(images))) == first
    assert Prover.for_config(CONFIG, KEY).seal(namespace, images) == first


def test_the_seal_memory_stays_bounded() -> None:
    prover = Prover.for_config(CONFIG, KEY)
    for index in range(3 * SEAL_CACHE_ENTRIES):
        prover.seal(f"ns-{index}", IMAGES)
    many = [(f"/spec/containers/{i}/image", "registry.k8s.io/pause:3.9") for i in range(99)]
    prover.seal("team", many)
    assert len(many) > SEAL_CACHE_MAX_IMAGES
    huge = "n" * SEAL_CACHE_MAX_CHARS
    assert prover.seal(huge, IMAGES) == PROVER.seal(huge, IMAGES)
    assert 0 < len(prover._seals) <= SEAL_CACHE_ENTRIES
    assert ("team", tuple(sorted(many))) not in prover._seals
    assert all(namespace != huge for namespace, _ in prover._seals)
