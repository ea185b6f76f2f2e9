"""The Redis that replicas share verdicts and rollback memory through (``cache.redis``).

Client: coredis (anyio, so it runs under trio), one connection pool per configuration,
opened in the runtime's nursery and replaced when a reload changes the Redis settings.

Rules:

* Redis is an optimisation, never an authority. Every call runs under
  ``cache.redis.timeoutSeconds``; a failure of any kind (refused, slow, TLS, an answer of the
  wrong shape) is a miss: the caller validates as if Redis did not exist. A failure never
  denies and never allows.
* Every value read back is checked by the pure codec (``kenner.sharing``): HMAC-SHA256 under
  the operator's key, bound to the Redis key it was read from. A value that fails is ignored
  and counted (``kenner_redis_values_rejected_total{problem}``).
* After a failure Redis is left alone for ``_PAUSE_S`` seconds (requests do not each wait
  for a dead server), then tried again: recovery needs no restart. The store logs one line
  when Redis becomes unavailable and one when it is back (so at most one line per pause),
  and counts every failure (``kenner_redis_errors_total{operation}``); readiness does not
  depend on it.
* Rollback memory: per repository a hash of ``role -> "<version>:<HMAC>"`` and one sorted set
  of repositories by last use; the Lua script raises versions only, atomically, and refuses
  (returns the stored entries) when any stored version is higher. It keeps at most
  ``maxRepositories`` repositories: the least recently observed are deleted first. The
  script touches keys beyond those it declares, so a Redis Cluster is not supported.
"""

from __future__ import annotations

import logging
import math
import ssl
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import attrs
import trio

from kenner.config.errors import ConfigError
from kenner.config.model import RedisConfig
from kenner.net.clients import CaBundleError, tls_context
from kenner.quoting import quote
from kenner.sharing import (
    MAX_VALUE_BYTES,
    SharedValueError,
    SharedVerdict,
    decode_verdict,
    encode_verdict,
    repository_id,
    rollback_entry,
    rollback_entry_version,
)

log = logging.getLogger(__name__)
# coredis logs every failed connection attempt with a traceback; the store says it once.
logging.getLogger("coredis").setLevel(logging.CRITICAL)

if TYPE_CHECKING:
    import coredis

T = TypeVar("T")
Operation = Literal["get", "set", "rollback"]
_PAUSE_S = 2.0  # after a failure, how long calls are skipped before Redis is tried again
_MAX_CONNECTIONS = 16
_REJECT_LOG_EVERY_S = 60.0
_MAX_FILE_BYTES = 1024 * 1024  # a password or a CA bundle

# KEYS[1] the repository's hash, KEYS[2] the sorted set of repositories by last use.
# ARGV: now (ms), max repositories, the hash-key prefix, the repository id, then role,
# version, entry triples. Returns {} when recorded, else {role, stored entry, ...} for every
# role whose stored version is higher (and records nothing).
_RAISE_ONLY = """
local function stored_version(role)
  local stored = redis.call('HGET', KEYS[1], role)
  -- Longer than "<16 digits>:<64 hex>" is not kenner's: as if absent (and overwritten).
  if not stored or #stored > 81 then return nil, nil end
  return tonumber(string.match(stored, '^(%d+):')), stored
end
local conflicts = {}
for i = 5, #ARGV, 3 do
  local seen, stored = stored_version(ARGV[i])
  if seen and seen > tonumber(ARGV[i + 1]) then
    table.insert(conflicts, ARGV[i])
    table.insert(conflicts, stored)
  end
end
if #conflicts > 0 then return conflicts end
for i = 5, #ARGV, 3 do
  local seen = stored_version(ARGV[i])
  if not seen or seen < tonumber(ARGV[i + 1]) then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 2])
  end
end
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[4])
local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[2])
if excess > 0 then
  for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, excess - 1)) do
    redis.call('DEL', ARGV[3] .. id)
  end
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, excess - 1)
end
return conflicts
"""
# KEYS[1] the repository's hash; ARGV role, entry pairs: delete each field still holding
# exactly that (forged) entry, so a forged high version cannot block sharing for good.
_DELETE_IF_SAME = """
for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    redis.call('HDEL', KEYS[1], ARGV[i])
  end
end
return 0
"""


@attrs.frozen
class RedisSettings:
    """Everything a store is built from: the configuration and what its files held."""

    config: RedisConfig
    password: str | None = attrs.field(default=None, repr=False)
    ca_pem: str | None = None

    @property
    def hmac_key(self) -> bytes:
        return self.config.hmac_key_file.secret


@attrs.frozen
class RedisStatistics:
    """Counters since the store was made, and whether the last call succeeded."""

    up: bool
    errors: Mapping[str, int]  # by operation
    rejected: Mapping[str, int]  # values that failed the codec, by problem


class RedisStore:
    """Shared verdicts and rollback entries in one Redis, through one connection pool."""

    def __init__(
        self,
        settings: RedisSettings,
        *,
        ssl_context: ssl.SSLContext | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        config = settings.config
        self.settings = settings
        self._timeout_s = config.timeout_s
        self._clock = clock
        options: dict[str, Any] = {
            "max_connections": _MAX_CONNECTIONS,
            "connect_timeout": config.timeout_s,
            "stream_timeout": config.timeout_s,
        }
        if settings.password is not None:
            options["password"] = settings.password
        if ssl_context is not None:
            options["ssl_context"] = ssl_context
        # coredis (with its beartype) takes 15 MB of memory: loaded only when Redis is configured.
        import coredis

        pool = coredis.ConnectionPool.from_url(config.url, **options)
        # verify_version would send HELLO/INFO round trips on connect; kenner needs Redis 6+
        # commands only (EVALSHA, HSET with pairs), which Debian's 7 has.
        self._client: coredis.Redis[bytes] = coredis.Redis(
            connection_pool=pool, verify_version=False
        )
        self._raise_only = self._client.register_script(_RAISE_ONLY)
        self._delete_if_same = self._client.register_script(_DELETE_IF_SAME)
        self._open = trio.Event()
        self._closed = False
        self._paused_until = -math.inf
        self._up = True
        self._errors: Counter[str] = Counter()
        self._rejected: Counter[str] = Counter()
        self._next_reject_log = -math.inf

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Hold the pool open until cancelled (a background task of the runtime)."""
        try:
            async with self._client:
                self._open.set()
                task_status.started()
                await trio.sleep_forever()
        finally:
            self._closed = True

    def statistics(self) -> RedisStatistics:
        return RedisStatistics(self._up, dict(self._errors), dict(self._rejected))

    # --- verdicts --------------------------------------------------------------------------

    async def get_verdict(self, key: str) -> SharedVerdict | None:
        """The shared verdict under ``key``, or None: absent, unusable or Redis unavailable."""
        # GETRANGE, not GET: a huge value someone planted costs at most this many bytes.
        read = partial(self._client.getrange, key, 0, MAX_VALUE_BYTES)
        raw = await self._call("get", read)
        if not raw:
            return None  # GETRANGE answers "" for a missing key
        try:
            if not isinstance(raw, bytes):
                raise SharedValueError("malformed", f"GETRANGE answered {type(raw).__name__}")
            return decode_verdict(self.settings.hmac_key, key, raw, now=self._clock())
        except SharedValueError as error:
            self._reject(error, key)
            return None

    async def put_verdict(self, key: str, digest: str | None, lifetime_s: float) -> None:
        """Share an allowing verdict for ``min(lifetime_s, ttlSeconds)``; failures are counted
        and otherwise ignored."""
        lifetime_s = min(lifetime_s, self.settings.config.ttl_s)
        if not lifetime_s >= 0.001:
            return
        verdict = SharedVerdict(digest, self._clock() + lifetime_s)
        value = encode_verdict(self.settings.hmac_key, key, verdict)
        await self._call("set", lambda: self._client.set(key, value, px=int(lifetime_s * 1000)))

    # --- rollback memory -------------------------------------------------------------------

    async def raise_versions(
        self, host: str, gun: str, versions: Mapping[str, int]
    ) -> dict[str, int] | None:
        """Record ``versions`` unless another replica verified a higher one of some role.

        Returns:
            {} when recorded; the higher versions (by role) that authenticated entries vouch
            for when refused; None when Redis could not be asked (the caller relies on its
            own memory). Forged entries are counted, removed and the update tried once more.
        """
        key = self._rollback_key(host, gun)
        for _ in range(2):
            try:
                entries = [
                    (
                        role,
                        version,
                        rollback_entry(self.settings.hmac_key, host, gun, role, version),
                    )
                    for role, version in sorted(versions.items())
                ]
            except SharedValueError:
                return None  # a version Lua cannot compare exactly: not shared
            conflicts = await self._run_raise_only(key, host, gun, entries)
            if conflicts is None:
                return None
            higher, forged = self._verify_conflicts(host, gun, conflicts, key)
            if higher or not forged:
                return higher
            delete = partial(
                self._delete_if_same, [key], [part for pair in forged for part in pair]
            )
            if await self._call("rollback", delete) is None:
                return None
        return None

    def _rollback_key(self, host: str, gun: str) -> str:
        return f"{self.settings.config.prefix}v1:rollback:{repository_id(host, gun)}"

    async def _run_raise_only(
        self, key: str, host: str, gun: str, entries: Sequence[tuple[str, int, str]]
    ) -> list[Any] | None:
        prefix = f"{self.settings.config.prefix}v1:rollback:"
        args: list[str | int] = [
            int(self._clock() * 1000),
            self.settings.config.max_repositories,
            prefix,
            repository_id(host, gun),
        ]
        for role, version, entry in entries:
            args += [role, version, entry]
        index = f"{prefix}index"
        answer = await self._call("rollback", lambda: self._raise_only([key, index], args))
        if answer is None:
            return None
        if not isinstance(answer, list) or len(answer) % 2:
            self._fail("rollback", TypeError(f"the script answered {type(answer).__name__}"))
            return None
        return answer

    def _verify_conflicts(
        self, host: str, gun: str, conflicts: list[Any], key: str
    ) -> tuple[dict[str, int], list[tuple[str, bytes]]]:
        higher: dict[str, int] = {}
        forged: list[tuple[str, bytes]] = []
        for raw_role, stored in zip(conflicts[::2], conflicts[1::2], strict=True):
            role = raw_role.decode(errors="replace") if isinstance(raw_role, bytes) else ""
            try:
                if not isinstance(stored, bytes):
                    raise SharedValueError("malformed", "a stored entry is not a string")
                higher[role] = rollback_entry_version(
                    self.settings.hmac_key, host, gun, role, stored
                )
            except SharedValueError as error:
                self._reject(error, key)
                if isinstance(stored, bytes):
                    forged.append((role, stored))
        return higher, forged

    # --- calls -----------------------------------------------------------------------------

    async def _call(self, operation: Operation, call: Callable[[], Any]) -> Any:
        """``await call()`` under the timeout; None after any failure (counted, logged once
        per outage) or while paused after one."""
        if self._closed or trio.current_time() < self._paused_until:
            return None
        try:
            with trio.fail_after(self._timeout_s):
                await self._open.wait()
                result = await call()
        except Exception as error:  # any failure of Redis is a miss, never an answer
            self._fail(operation, error)
            return None
        if not self._up:
            self._up = True
            log.info("Redis is reachable again; sharing verdicts and rollback memory")
        return result

    def _fail(self, operation: Operation, error: Exception) -> None:
        self._errors[operation] += 1
        self._paused_until = trio.current_time() + _PAUSE_S
        if self._up:
            self._up = False
            log.warning(
                "Redis unavailable (%s: %s); validating without shared state, retrying every %g s",
                operation,
                _describe(error),
                _PAUSE_S,
            )

    def _reject(self, error: SharedValueError, key: str) -> None:
        self._rejected[error.problem] += 1
        now = trio.current_time()
        if now >= self._next_reject_log:  # a flood of bad values writes one line a minute
            self._next_reject_log = now + _REJECT_LOG_EVERY_S
            log.warning("ignored a shared value at %s (%s); counting the rest", key, error)


def _describe(error: Exception) -> str:
    if isinstance(error, trio.TooSlowError):
        return "no answer in time"
    text = str(error) or type(error).__name__
    return text[:200]


class RedisStores:
    """The store of the current configuration (or none), opened in ``nursery``.

    ``use`` keeps the store when the settings are unchanged (a reload of an unrelated key)
    and otherwise closes it and opens a new one: calls still running on the old pool fail,
    which is a miss.
    """

    def __init__(self, nursery: trio.Nursery) -> None:
        self._nursery = nursery
        self._current: tuple[RedisStore, trio.CancelScope] | None = None

    @property
    def current(self) -> RedisStore | None:
        return None if self._current is None else self._current[0]

    def use(self, settings: RedisSettings | None, ssl_context: ssl.SSLContext | None) -> None:
        """Serve ``settings`` from now on (None: no Redis)."""
        if self._current is not None and self._current[0].settings == settings:
            return
        if self._current is not None:
            self._current[1].cancel()
            self._current = None
        if settings is None:
            return
        store, scope = RedisStore(settings, ssl_context=ssl_context), trio.CancelScope()
        self._current = (store, scope)

        async def hold() -> None:
            with scope:
                await store.run()

        self._nursery.start_soon(hold)


def redis_settings(
    config: RedisConfig | None, *, read_secrets: bool = True
) -> tuple[RedisSettings | None, ssl.SSLContext | None]:
    """The settings of ``cache.redis`` with its files read, and the TLS context for
    ``rediss://`` (None for plain ``redis://``).

    ``read_secrets=False`` (``check-config --content-only``) leaves ``passwordFile`` unread.

    Raises:
        ConfigError: ``passwordFile`` or ``caFile`` cannot be read, or the CA bundle is not
            usable; the message names the key.
    """
    if config is None:
        return None, None
    password = None
    if config.password_file is not None and read_secrets:
        password = _read_text(config.password_file, "passwordFile").rstrip("\r\n")
    ca_pem = None if config.ca_file is None else _read_text(config.ca_file, "caFile")
    context = None
    if config.url.startswith("rediss://"):
        try:
            context = tls_context(ca_pem)
        except CaBundleError as error:
            raise ConfigError(f"cache.redis.caFile: {error}") from error
    return RedisSettings(config, password, ca_pem), context


def _read_text(path: str, key: str) -> str:
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read(_MAX_FILE_BYTES + 1)
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cache.redis.{key}: cannot read {quote(path)}: {error}") from error
    if len(text) > _MAX_FILE_BYTES:
        raise ConfigError(
            f"cache.redis.{key}: {quote(path)} is larger than {_MAX_FILE_BYTES} bytes"
        )
    return text
