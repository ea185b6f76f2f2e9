"""Load-time checks of ``cache.redis`` (the Redis replicas share verdicts through).

What the file itself holds is checked here, at its key and line: the URL's form, the key
prefix, the durations. The password and CA files are read when the validators are built
(``kenner.net.redis_store``), like the other mounted secrets. A URL is never quoted back: it
may hold a password.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlsplit

from kenner.config.model import Config, RedisConfig
from kenner.config.source import KeyPath

Report = Callable[[KeyPath, str], None]

SCHEMES = ("redis", "rediss")
# Printable, no spaces or glob characters: the prefix is part of every key kenner writes.
_PREFIX = re.compile(r"[A-Za-z0-9._:/-]{1,64}")
_PATH = ("cache", "redis")


def check_redis(config: Config, report: Report) -> None:
    """Report every problem of ``cache.redis`` (nothing when it is absent)."""
    redis = config.cache.redis
    if redis is None:
        return
    _check_url(redis, report)
    if not _PREFIX.fullmatch(redis.prefix):
        report(
            (*_PATH, "prefix"),
            "must be 1 to 64 characters of letters, digits and . _ : / -",
        )
    if redis.ttl_s <= 0:
        report((*_PATH, "ttlSeconds"), "must be greater than 0")
    if redis.timeout_s <= 0:
        report((*_PATH, "timeoutSeconds"), "must be greater than 0")
    elif redis.timeout_s >= config.deadlines.request_s:
        report(
            (*_PATH, "timeoutSeconds"),
            f"must be below deadlines.requestSeconds ({config.deadlines.request_s:g})",
        )
    if redis.max_repositories < 1:
        report((*_PATH, "maxRepositories"), "must be at least 1")
    if redis.password_file is not None and not redis.password_file:
        report((*_PATH, "passwordFile"), "must not be empty")
    if redis.ca_file is not None and not redis.ca_file:
        report((*_PATH, "caFile"), "must not be empty")


def _check_url(redis: RedisConfig, report: Report) -> None:
    path = (*_PATH, "url")
    try:
        parts = urlsplit(redis.url)
        port = parts.port  # raises ValueError for a port out of range or not a number
    except ValueError:
        report(path, "is not a valid URL (redis://[USER[:PASSWORD]@]HOST[:PORT][/DB])")
        return
    if parts.scheme not in SCHEMES:
        report(path, "must start with redis:// or rediss:// (TLS)")
        return
    if not parts.hostname:
        report(path, "names no host")
    if port == 0:
        report(path, "port must be 1-65535")
    if parts.query or parts.fragment:
        report(path, "must have no query or fragment (use the cache.redis keys)")
    database = parts.path.lstrip("/")
    if database and not (database.isdigit() and int(database) <= 15):
        report(path, "database (the path) must be a number 0-15")
    if parts.password is not None and redis.password_file is not None:
        report(path, "has a password and passwordFile is given too: use one")
    if redis.ca_file is not None and parts.scheme != "rediss":
        report((*_PATH, "caFile"), "needs a rediss:// url (TLS)")
