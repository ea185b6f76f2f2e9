"""Build the validators named in a configuration."""

from __future__ import annotations

from collections.abc import Mapping

from kenner.config.model import Config, StaticValidatorConfig
from kenner.validators.base import Validator
from kenner.validators.static import StaticValidator


def build_validators(config: Config) -> Mapping[str, Validator]:
    """One validator object per configured validator, by name."""
    validators: dict[str, Validator] = {}
    for validator_config in config.validators:
        if isinstance(validator_config, StaticValidatorConfig):
            validators[validator_config.name] = StaticValidator(validator_config)
        else:
            raise NotImplementedError(f"validator type {validator_config.type!r}")
    return validators
