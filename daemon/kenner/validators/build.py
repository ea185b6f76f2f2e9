"""Build the validators named in a configuration, on the process-wide runtime.

A reload keeps the validator object (and so its warm caches and their statistics) of every
validator whose build inputs did not change: its own configuration, the global settings its
builder reads, and the credentials it loads from mounted secrets. Only the others are built
anew, so a certificate rotation or a policy edit does not send every image back to Notary and
the registries.

Building reads and checks everything a validator will use (keys, certificates, CA bundles,
secrets) and opens no connection, so ``kenner check-config`` and a reload run it too: any
failure is a ``ConfigError`` naming the validator (``validators[INDEX] ('NAME')``) before a
configuration is taken.

Each validator kind's module is imported when a validator of that kind is first built: it brings
that kind's verifier and libraries, memory a configuration without the kind never uses.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import attrs
import httpx
import trio

from kenner.config.errors import ConfigError
from kenner.config.login_scope import plain_login_scope
from kenner.config.model import (
    CacheConfig,
    Config,
    CosignValidatorConfig,
    Deadlines,
    NotaryV1ValidatorConfig,
    NotationValidatorConfig,
    StaticValidatorConfig,
    ValidatorConfig,
)
from kenner.errors import KennerError
from kenner.net.auth import AuthSession, Credentials
from kenner.net.cache import TtlCache
from kenner.net.clients import CaBundleError
from kenner.net.http import Fetcher, Fetchers
from kenner.net.loader import CachedLoader
from kenner.net.redis_store import RedisStores, redis_settings
from kenner.tuf.rollback import RollbackGuard
from kenner.validators.credentials import load_credentials
from kenner.validators.driver import Driven, Driver, Links, NeedCache
from kenner.validators.network import NotaryServer, ValidatorNetwork
from kenner.validators.registry_access import (
    Logins,
    LoginSource,
    RegistryAccess,
    load_logins,
    registry_fetchers,
)
from kenner.validators.shared import SharedVerdicts, shared_versions
from kenner.validators.static import StaticValidator

# Facts cached per validator (verified trust data, tags, signer sets): at a few KiB each,
# a bounded share of memory however many images come by.
MAX_CACHED_FACTS = 4096


@attrs.frozen
class Runtime:
    """What outlives one configuration: the background nursery for shared fetches, the HTTP
    connection pools, the rollback memory (it must survive reloads) and the Redis store."""

    nursery: trio.Nursery
    fetchers: Fetchers
    rollback: RollbackGuard
    redis: RedisStores


@asynccontextmanager
async def open_runtime(
    transport: httpx.AsyncBaseTransport | None = None,
) -> AsyncIterator[Runtime]:
    """A runtime for the duration of the block; shared fetches are cancelled at its end.

    ``transport`` replaces the network for every fetch (tests on a virtual clock).
    """
    async with Fetchers(transport=transport) as fetchers, trio.open_nursery() as nursery:
        yield Runtime(nursery, fetchers, RollbackGuard(), RedisStores(nursery))
        nursery.cancel_scope.cancel()


@attrs.frozen
class BuildInputs:
    """Everything one validator's builder reads; equal inputs build an equivalent validator.

    ``credentials`` are the values read from the validator's secret, so a rotated secret file
    makes the inputs unequal even when the configuration is the same (they are compared, never
    shown: not in the repr). ``secretsDir`` itself is not an input: it only says where those
    files are, and the values read from them stand for it.
    """

    validator: ValidatorConfig
    cache: CacheConfig | None = None  # None for a static validator: it reads neither
    deadlines: Deadlines | None = None
    credentials: Credentials | LoginSource | None = attrs.field(default=None, repr=False)


@attrs.frozen(eq=False)  # a Mapping: equal to any mapping with the same validators
class BuiltValidators(Mapping[str, Driven]):
    """The validators of one configuration by name, with the inputs each was built from.

    A mapping, so callers look validators up by name; ``inputs`` lets the next reload tell
    which validators it may keep.
    """

    by_name: Mapping[str, Driven]
    inputs: Mapping[str, BuildInputs]

    def __getitem__(self, name: str) -> Driven:
        return self.by_name[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.by_name)

    def __len__(self) -> int:
        return len(self.by_name)


def build_validators(
    config: Config,
    runtime: Runtime,
    previous: Mapping[str, Driven] | None = None,
    *,
    read_secrets: bool = True,
) -> BuiltValidators:
    """One validator object per configured validator, by name.

    With ``previous`` (the validators serving until now), a validator whose build inputs equal
    the ones it was built from is kept, the same object with its caches; the others are built
    anew. A plain mapping (a snapshot made by hand) records no inputs, so none of it is kept.
    ``read_secrets=False`` builds without the files of ``secretsDir`` (``check-config
    --content-only`` away from the host or pod they are mounted in).

    Raises:
        ConfigError: a validator cannot be built (a secret that cannot be read, a key or CA
            bundle its code refuses); the message names the validator.
    """
    reusable = previous if isinstance(previous, BuiltValidators) else None
    validators: dict[str, Driven] = {}
    inputs: dict[str, BuildInputs] = {}
    for index, validator_config in enumerate(config.validators):
        name = validator_config.name
        try:
            inputs[name] = build_inputs(validator_config, config, read_secrets=read_secrets)
            if reusable is not None and reusable.inputs.get(name) == inputs[name]:
                validators[name] = reusable[name]
            else:
                validators[name] = _build(inputs[name], config, runtime)
        except KennerError as error:
            # The loader refuses what it can see; this names the rest (files, OpenSSL).
            raise ConfigError(f"validators[{index}] ({name!r}): {error}") from error
    # Last, so that a configuration refused above leaves the Redis store as it was.
    runtime.redis.use(*redis_settings(config.cache.redis, read_secrets=read_secrets))
    return BuiltValidators(validators, inputs)


def build_inputs(
    validator: ValidatorConfig, config: Config, *, read_secrets: bool = True
) -> BuildInputs:
    """What building ``validator`` reads: its configuration, the global settings its builder
    uses, and the credentials of its secret (read now, unless ``read_secrets`` is False).

    Raises:
        ConfigError: a credential secret cannot be read.
    """
    if isinstance(validator, StaticValidatorConfig):
        return BuildInputs(validator)
    credentials: Credentials | LoginSource | None
    if isinstance(validator, CosignValidatorConfig | NotationValidatorConfig):
        if read_secrets:
            scope = plain_login_scope(validator, config.policy)
            credentials = load_logins(validator.auth, config.secrets_dir, scope)
        else:
            credentials = LoginSource()
    elif read_secrets:
        credentials = load_credentials(validator.auth, config.secrets_dir, validator.host)
    else:
        credentials = None
    return BuildInputs(validator, config.cache, config.deadlines, credentials)


def _build(inputs: BuildInputs, config: Config, runtime: Runtime) -> Driven:
    validator = inputs.validator
    if isinstance(validator, StaticValidatorConfig):
        return Driver(StaticValidator(validator))
    built = _build_fetching(inputs, config, runtime)
    if config.cache.redis is None:
        return built
    return SharedVerdicts(
        built, validator, runtime.redis, runtime.nursery, memo_ttl_s=config.cache.ttl_s
    )


def _build_fetching(inputs: BuildInputs, config: Config, runtime: Runtime) -> Driver:
    validator = inputs.validator
    assert not isinstance(validator, StaticValidatorConfig)
    credentials = inputs.credentials  # read once, by build_inputs
    if isinstance(validator, CosignValidatorConfig):
        from kenner.validators.cosign import CosignValidator

        assert isinstance(credentials, LoginSource)
        # The registries' fetchers are made on first use; make them now, so a CA bundle
        # OpenSSL refuses fails the build instead of the first admission request.
        _fetcher(runtime, validator.cert, "cert")
        for host, pem in validator.registry_certs.items():
            _fetcher(runtime, pem, f"registryCerts.{host}")
        use_pull_secrets = validator.auth is not None and validator.auth.k8s_keychain
        access = RegistryAccess(registry_fetchers(validator, runtime.fetchers))
        return Driver(
            CosignValidator(validator, logins=Logins(credentials, use_pull_secrets)),
            _links(ValidatorNetwork(registries=access), config, runtime),
        )
    if isinstance(validator, NotationValidatorConfig):
        from kenner.validators.notation import NotationValidator

        assert isinstance(credentials, LoginSource)
        fetcher = _fetcher(runtime, validator.cert, "cert")  # one CA bundle for all registries
        access = RegistryAccess(lambda _registry: fetcher)
        return Driver(
            NotationValidator(validator, logins=Logins(credentials)),
            _links(ValidatorNetwork(registries=access), config, runtime),
        )
    assert not isinstance(credentials, LoginSource)
    return _notary_v1(validator, credentials, config, runtime)


def _fetcher(runtime: Runtime, ca_pem: str | None, key: str) -> Fetcher:
    try:
        return runtime.fetchers.for_ca_bundle(ca_pem)
    except CaBundleError as error:
        raise ConfigError(f"{key}: {error}") from error


def _notary_v1(
    validator: NotaryV1ValidatorConfig,
    credentials: Credentials | None,
    config: Config,
    runtime: Runtime,
) -> Driver:
    from kenner.validators.notaryv1 import NotaryV1Validator

    session = AuthSession(_fetcher(runtime, validator.cert, "cert"), credentials)
    network = ValidatorNetwork(notary=NotaryServer(validator.host, session))
    return Driver(
        NotaryV1Validator(validator, rollback=runtime.rollback),
        _links(network, config, runtime),
    )


def _links(network: ValidatorNetwork, config: Config, runtime: Runtime) -> Links:
    """A validator's links: its network, a cache of its own with single-flight loads in the
    background nursery (each under the request deadline), the per-fetch deadline."""
    cache: TtlCache[Any, Any] = TtlCache(
        ttl_s=config.cache.ttl_s,
        failure_ttl_s=config.cache.failure_ttl_s,
        max_entries=MAX_CACHED_FACTS,
    )
    loader: NeedCache = CachedLoader(
        cache, runtime.nursery, work_deadline_s=config.deadlines.request_s
    )
    return Links(network, loader, config.deadlines.fetch_s, partial(shared_versions, runtime.redis))
