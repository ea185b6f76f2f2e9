"""Build the validators named in a configuration, on the process-wide runtime."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import attrs
import httpx
import trio

from kenner.config.model import (
    Config,
    CosignValidatorConfig,
    NotaryV1ValidatorConfig,
    StaticValidatorConfig,
)
from kenner.net.auth import AuthSession
from kenner.net.cache import TtlCache
from kenner.net.http import Fetchers
from kenner.net.loader import CachedLoader
from kenner.tuf import RollbackGuard, TrustedTargets
from kenner.validators.base import Validator
from kenner.validators.cosign import cosign_validator
from kenner.validators.credentials import load_credentials
from kenner.validators.notaryv1 import NotaryFetchSettings, NotaryV1Validator, TrustKey
from kenner.validators.static import StaticValidator

MAX_CACHED_REPOSITORIES = 4096


@attrs.frozen
class Runtime:
    """What outlives one configuration: the background nursery for shared fetches, the HTTP
    connection pools, and the rollback memory (it must survive reloads)."""

    nursery: trio.Nursery
    fetchers: Fetchers
    rollback: RollbackGuard


@asynccontextmanager
async def open_runtime(
    transport: httpx.AsyncBaseTransport | None = None,
) -> AsyncIterator[Runtime]:
    """A runtime for the duration of the block; shared fetches are cancelled at its end.

    ``transport`` replaces the network for every fetch (tests on a virtual clock).
    """
    async with Fetchers(transport=transport) as fetchers, trio.open_nursery() as nursery:
        yield Runtime(nursery, fetchers, RollbackGuard())
        nursery.cancel_scope.cancel()


def build_validators(config: Config, runtime: Runtime) -> Mapping[str, Validator]:
    """One validator object per configured validator, by name.

    Raises:
        ConfigError: a credential secret cannot be read.
    """
    validators: dict[str, Validator] = {}
    for validator_config in config.validators:
        if isinstance(validator_config, StaticValidatorConfig):
            validators[validator_config.name] = StaticValidator(validator_config)
        elif isinstance(validator_config, CosignValidatorConfig):
            validators[validator_config.name] = cosign_validator(
                validator_config, config, runtime.fetchers, runtime.nursery
            )
        else:
            validators[validator_config.name] = _notary_v1(validator_config, config, runtime)
    return validators


def _notary_v1(
    validator: NotaryV1ValidatorConfig, config: Config, runtime: Runtime
) -> NotaryV1Validator:
    credentials = load_credentials(validator.auth, config.secrets_dir, validator.host)
    cache: TtlCache[TrustKey, TrustedTargets] = TtlCache(
        ttl_s=config.cache.ttl_s,
        failure_ttl_s=config.cache.failure_ttl_s,
        max_entries=MAX_CACHED_REPOSITORIES,
    )
    return NotaryV1Validator(
        validator,
        session=AuthSession(runtime.fetchers.for_ca_bundle(validator.cert), credentials),
        loader=CachedLoader(cache, runtime.nursery, work_deadline_s=config.deadlines.request_s),
        rollback=runtime.rollback,
        settings=NotaryFetchSettings(fetch_s=config.deadlines.fetch_s),
    )
