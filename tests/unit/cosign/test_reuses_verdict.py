"""Which cosign answers the driver may give again without the step (``reuses_verdict``).

An attestation's ``maxAge`` is judged against the clock in the step itself, so a rule with
attestations is stepped every time; any other rule's verdict is a function of the image and
the cached facts (docs/architecture.md; the mechanism: tests/flow/test_driver.py).
"""

from __future__ import annotations

import yaml

from kenner.admission.image import parse_image
from kenner.attest.policy import AttestationRule, parse_condition
from kenner.config.load import load_config
from kenner.config.model import RuleOptions
from kenner.validators.base import Ask
from kenner.validators.build import build_validators, open_runtime
from kenner.validators.driver import Driver
from tests.support.cosign_signing import new_key, public_pem

IMAGE = parse_image("registry.example/team/app:v1")


async def test_a_rule_with_attestations_is_stepped_every_time() -> None:
    validator = {
        "name": "cosign",
        "type": "cosign",
        "trustRoots": [{"name": "default", "key": public_pem(new_key())}],
    }
    rule = {
        "pattern": "registry.example/*:*",
        "validator": "cosign",
        "with": {"verifyInTransparencyLog": False},
    }
    config = load_config(yaml.safe_dump({"validators": [validator], "policy": [rule]}))
    aged = AttestationRule(
        "https://slsa.dev/provenance/v1",
        "default",
        (parse_condition({"path": "/predicate/startedOn", "maxAge": "30d"}),),
    )
    async with open_runtime() as runtime:
        driver = build_validators(config, runtime)["cosign"]
        assert isinstance(driver, Driver)
        cosign = driver.validator
        assert cosign.reuses_verdict(Ask(IMAGE, RuleOptions()))
        assert not cosign.reuses_verdict(Ask(IMAGE, RuleOptions(attestations=(aged,))))
