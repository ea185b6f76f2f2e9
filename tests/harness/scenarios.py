"""The scenarios: what is pushed and signed, and the outcome each reference must get.

The expected outcomes below are declared from how each scenario is built (what was signed, by
whom, under which root) and never computed by a verifier. They follow the reference policy in
docs/testing.md: a controller pinned to ``root-main`` with no required delegations unless a
case says otherwise. The table is static, so case ids are known before anything runs.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from tests.harness.model import TRUSTED_ROOT, Reason, Verdict

REPO_PREFIX = "kenner-test"
RELEASES = "targets/releases"
ALICE = "targets/alice"

#: scenario -> label of the root key its trust data was created with (None: no trust data).
OWN_ROOT: Mapping[str, str | None] = {
    "signed": "root-main",
    "unsigned": None,
    "moved-tag": "root-main",
    "delegated": "root-main",
    "other-root": "root-other",
    "root-rotated": "root-rotated",
    "multi-arch": "root-main",
    "delegation-unused": "root-main",
}


@attrs.frozen
class Outcome:
    verdict: Verdict
    reason: Reason
    signed_image: str | None  # image key whose served digest is the signed (pinned) digest


def allow(image: str) -> Outcome:
    return Outcome("allow", "signed", image)


def deny(reason: Reason) -> Outcome:
    return Outcome("deny", reason, None)


@attrs.frozen
class Policy:
    label: str  # "trusted-root", "own-root" or "delegations=<roles>"
    root_key: str
    required_delegations: tuple[str, ...]


@attrs.frozen
class CaseSpec:
    """A case before the test bed exists; image keys resolve to digests once pushed.

    Image keys are ``<scenario>/<image>`` for pushed images and ``<key>@<os/arch>`` for a
    platform manifest inside a pushed list or index.
    """

    scenario: str
    name: str
    tag: str | None
    by_digest_of: str | None
    served_image: str  # what the registry serves for the reference
    policy: Policy
    outcome: Outcome

    @property
    def id(self) -> str:
        return f"{self.scenario}/{self.name}/{self.policy.label}"


_TRUSTED = Policy("trusted-root", TRUSTED_ROOT, ())


def _delegations(*roles: str) -> Policy:
    return Policy(
        "delegations=" + "+".join(r.removeprefix("targets/") for r in roles), TRUSTED_ROOT, roles
    )


def _reference(
    scenario: str,
    name: str,
    outcome: Outcome,
    *,
    served: str,
    tag: str | None = None,
    by_digest_of: str | None = None,
    own_root: Outcome | None = None,
    delegations: tuple[tuple[tuple[str, ...], Outcome], ...] = (),
) -> list[CaseSpec]:
    def spec(policy: Policy, result: Outcome) -> CaseSpec:
        return CaseSpec(scenario, name, tag, by_digest_of, served, policy, result)

    specs = [spec(_TRUSTED, outcome)]
    own = OWN_ROOT[scenario]
    if own_root is not None and own is not None:
        specs.append(spec(Policy("own-root", own, ()), own_root))
    specs.extend(spec(_delegations(*roles), result) for roles, result in delegations)
    return specs


def _case_specs() -> tuple[CaseSpec, ...]:
    r = _reference
    not_delegated = deny("delegation_not_signed")
    specs = [
        # signed: v1 Docker schema 2, v2 OCI manifest, both signed with the targets key.
        *r("signed", "v1", allow("signed/v1"), tag="v1", served="signed/v1"),
        *r("signed", "v2", allow("signed/v2"), tag="v2", served="signed/v2"),
        *r(
            "signed",
            "unsigned-tag",
            deny("tag_not_signed"),
            tag="unsigned-tag",
            served="signed/unsigned-tag",
        ),
        *r(
            "signed",
            "v1-by-digest",
            allow("signed/v1"),
            by_digest_of="signed/v1",
            served="signed/v1",
        ),
        # unsigned: pushed, never any trust data (notary 404 for root.json).
        *r("unsigned", "v1", deny("no_trust_data"), tag="v1", served="unsigned/v1"),
        # moved-tag: v1 signed for A, then the registry's v1 re-pointed to B. The pod is pinned
        # to the signed A; the registry's tag is never trusted and B never admitted.
        *r("moved-tag", "v1", allow("moved-tag/A"), tag="v1", served="moved-tag/B"),
        *r(
            "moved-tag",
            "A-by-digest",
            allow("moved-tag/A"),
            by_digest_of="moved-tag/A",
            served="moved-tag/A",
        ),
        *r(
            "moved-tag",
            "B-by-digest",
            deny("digest_not_signed"),
            by_digest_of="moved-tag/B",
            served="moved-tag/B",
        ),
        # delegated: targets.json has no targets, only targets/releases and targets/alice.
        # Without required delegations only targets/releases is consulted.
        *r(
            "delegated",
            "both",
            allow("delegated/both"),
            tag="both",
            served="delegated/both",
            delegations=(
                ((ALICE,), allow("delegated/both")),
                ((RELEASES,), allow("delegated/both")),
                ((ALICE, RELEASES), allow("delegated/both")),
            ),
        ),
        *r(
            "delegated",
            "releases-only",
            allow("delegated/releases-only"),
            tag="releases-only",
            served="delegated/releases-only",
            delegations=(
                ((ALICE,), not_delegated),
                ((RELEASES,), allow("delegated/releases-only")),
                ((ALICE, RELEASES), not_delegated),
            ),
        ),
        *r(
            "delegated",
            "alice-only",
            deny("tag_not_signed"),
            tag="alice-only",
            served="delegated/alice-only",
            delegations=(
                ((ALICE,), allow("delegated/alice-only")),
                ((RELEASES,), not_delegated),
                ((ALICE, RELEASES), not_delegated),
            ),
        ),
        # conflict: alice signed X, releases signed Y, the registry serves Y.
        *r(
            "delegated",
            "conflict",
            allow("delegated/conflict-Y"),
            tag="conflict",
            served="delegated/conflict-Y",
            delegations=(
                ((ALICE,), allow("delegated/conflict-X")),
                ((RELEASES,), allow("delegated/conflict-Y")),
                ((ALICE, RELEASES), deny("ambiguous_digest")),
            ),
        ),
        *r(
            "delegated",
            "conflict-X-by-digest",
            deny("digest_not_signed"),
            by_digest_of="delegated/conflict-X",
            served="delegated/conflict-X",
            delegations=(
                ((ALICE,), allow("delegated/conflict-X")),
                ((RELEASES,), not_delegated),
                ((ALICE, RELEASES), not_delegated),
            ),
        ),
        # other-root: properly signed under root-other (client-managed snapshot key).
        *r(
            "other-root",
            "v1",
            deny("root_key_mismatch"),
            tag="v1",
            served="other-root/v1",
            own_root=allow("other-root/v1"),
        ),
        # root-rotated: created under root-main, v1 signed, root rotated to root-rotated, v2
        # signed. Pinned root-main reaches the current root through the signed root chain.
        *r(
            "root-rotated",
            "v1",
            allow("root-rotated/v1"),
            tag="v1",
            served="root-rotated/v1",
            own_root=allow("root-rotated/v1"),
        ),
        *r(
            "root-rotated",
            "v2",
            allow("root-rotated/v2"),
            tag="v2",
            served="root-rotated/v2",
            own_root=allow("root-rotated/v2"),
        ),
        # multi-arch: the list / index digest is signed, its platform manifests are not.
        *r("multi-arch", "v1", allow("multi-arch/v1"), tag="v1", served="multi-arch/v1"),
        *r("multi-arch", "v2", allow("multi-arch/v2"), tag="v2", served="multi-arch/v2"),
        *r(
            "multi-arch",
            "v1-amd64-by-digest",
            deny("digest_not_signed"),
            by_digest_of="multi-arch/v1@linux/amd64",
            served="multi-arch/v1@linux/amd64",
        ),
        # delegation-unused: targets/releases declared but never published (its json is 404);
        # v1 is signed with the targets key, which is consulted instead.
        *r(
            "delegation-unused",
            "v1",
            allow("delegation-unused/v1"),
            tag="v1",
            served="delegation-unused/v1",
            delegations=(((RELEASES,), not_delegated),),
        ),
    ]
    return tuple(specs)


CASE_SPECS: tuple[CaseSpec, ...] = _case_specs()
#: Every case id, for ``pytest.mark.parametrize`` before the test bed is started.
CASE_IDS: tuple[str, ...] = tuple(spec.id for spec in CASE_SPECS)
