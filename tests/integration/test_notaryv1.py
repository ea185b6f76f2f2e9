"""The notaryv1 validator against the real Notary test bed: every case of the verdict table.

Each case's expected verdict, reason and pinned digest are written down by the harness from
how the scenario was built (tests/harness/scenarios.py), never computed by a verifier, so a
pass here means kenner reads real notary-server trust data the way Docker Content Trust means it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from kenner.admission.image import parse_image
from kenner.admission.verdict import Trusted, Untrusted, Verdict
from kenner.config.model import Config, NotaryV1ValidatorConfig, RuleOptions, TrustRoot
from kenner.validators.build import Runtime, build_validators, open_runtime
from tests.harness import CASE_IDS, Testbed
from tests.unit.tuf.builder import generate_key

pytestmark = pytest.mark.testbed


@pytest.fixture
async def runtime() -> AsyncIterator[Runtime]:
    async with open_runtime() as opened:
        yield opened


async def validate(
    testbed: Testbed,
    runtime: Runtime,
    image: str,
    roots: dict[str, str],
    options: RuleOptions,
) -> Verdict:
    """Build a validator for the test bed's Notary with ``roots`` (name → PEM) and ask it."""
    validator_config = NotaryV1ValidatorConfig(
        name="notary",
        host=testbed.notary_url,
        trust_roots=tuple(TrustRoot(name, pem) for name, pem in roots.items()),
        cert=testbed.ca_pem,
    )
    validator = build_validators(Config(validators=(validator_config,), policy=()), runtime)
    return await validator["notary"].answer(parse_image(image), options)


@pytest.mark.parametrize("case_id", CASE_IDS)
async def test_verdict_table(testbed: Testbed, runtime: Runtime, case_id: str) -> None:
    case = testbed.case(case_id)
    verdict = await validate(
        testbed,
        runtime,
        case.image,
        {"default": case.root_key_pem},
        RuleOptions(delegations=case.required_delegations),
    )
    if case.verdict == "allow":
        assert verdict == Trusted(case.digest)
    else:
        assert isinstance(verdict, Untrusted)
        assert verdict.reason.startswith(f"{case.reason}: "), verdict.reason


async def test_moved_tag_is_pinned_to_the_signed_digest_not_the_served_one(
    testbed: Testbed, runtime: Runtime
) -> None:
    case = testbed.case("moved-tag/v1/trusted-root")
    assert case.digest != case.registry_digest  # the registry really serves something else
    verdict = await validate(
        testbed, runtime, case.image, {"default": case.root_key_pem}, RuleOptions()
    )
    assert verdict == Trusted(case.digest)


async def test_any_trust_root_admits_repositories_of_either_root(
    testbed: Testbed, runtime: Runtime
) -> None:
    main = testbed.case("signed/v1/trusted-root")
    other = testbed.case("other-root/v1/own-root")
    roots = {"main": main.root_key_pem, "other": other.root_key_pem}
    any_root = RuleOptions(trust_root="*")
    assert await validate(testbed, runtime, main.image, roots, any_root) == Trusted(main.digest)
    assert await validate(testbed, runtime, other.image, roots, any_root) == Trusted(other.digest)
    # Naming one of the two roots still refuses the other repository.
    only_main = RuleOptions(trust_root="main")
    denied = await validate(testbed, runtime, other.image, roots, only_main)
    assert isinstance(denied, Untrusted)
    assert denied.reason.startswith("root_key_mismatch: ")


async def test_a_wrong_pinned_key_is_a_root_key_mismatch(
    testbed: Testbed, runtime: Runtime
) -> None:
    case = testbed.case("signed/v1/trusted-root")
    stranger = generate_key("ecdsa").pem()
    verdict = await validate(testbed, runtime, case.image, {"default": stranger}, RuleOptions())
    assert isinstance(verdict, Untrusted)
    assert verdict.reason.startswith("root_key_mismatch: ")
    assert "root.json" in verdict.reason


async def test_a_rule_naming_an_unconfigured_trust_root_is_denied(
    testbed: Testbed, runtime: Runtime
) -> None:
    case = testbed.case("signed/v1/trusted-root")
    verdict = await validate(
        testbed,
        runtime,
        case.image,
        {"default": case.root_key_pem},
        RuleOptions(trust_root="missing"),
    )
    assert verdict == Untrusted("notaryv1 validator 'notary' has no trust root 'missing'")
