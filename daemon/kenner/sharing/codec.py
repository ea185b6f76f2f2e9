"""Keys and authenticated values of the shared verdict cache and the shared rollback memory.

Rules:

* A verdict key names everything the verdict depends on: the image reference as written
  (its digest when it has one; the tag when the validator resolves it), the validator's name,
  a fingerprint of the validator's whole configuration, one of the rule's options and the
  pull-secret login the image was read with (HMAC'd). A changed configuration or rule thus
  never reads an old verdict, and one namespace's login never answers for another's.
* A verdict value is ``b"k1" + HMAC-SHA256(key, domain, redis key, payload) + payload``, the
  payload ``{"d": digest or null, "e": expiry (Unix seconds)}``. The MAC covers the Redis key,
  so a valid value copied under another key (another image, rule or configuration) fails.
  Only allowing verdicts are shared: a value is a proof that a replica holding the key
  validated that exact key's image under that exact configuration.
* A rollback entry is ``"<version>:<hex HMAC>"`` over host, repository, role and version; the
  version comes first so the raise-only Lua script can compare it without the key.
* Anything that is not exactly such a value (wrong length, bad MAC, extra or missing fields,
  expired) raises ``SharedValueError`` with a short reason; nothing else is ever raised.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from collections.abc import Mapping
from typing import Any, Literal

import attrs
import orjson

from kenner.errors import KennerError

MAGIC = b"k1"
MAC_BYTES = 32
MAX_VALUE_BYTES = 512  # a real value is about 130 bytes
# Versions above this are compared inexactly by Lua (doubles); such data is not shared.
MAX_SHARED_VERSION = 2**53
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}", re.ASCII)
_ENTRY = re.compile(rb"([1-9][0-9]{0,15}):([0-9a-f]{64})", re.ASCII)
_VERDICT_DOMAIN = b"kenner shared verdict v1\x00"
_ROLLBACK_DOMAIN = b"kenner rollback entry v1\x00"
_LOGIN_DOMAIN = b"kenner verdict login v1\x00"

Problem = Literal["malformed", "forged", "expired"]


class SharedValueError(KennerError, ValueError):
    """A value read from Redis that must not be used; ``problem`` is the metric's label."""

    def __init__(self, problem: Problem, message: str) -> None:
        self.problem: Problem = problem
        super().__init__(message)


@attrs.frozen
class SharedVerdict:
    """An allowing verdict another replica reached: the signed digest (or None), and until
    when (Unix seconds) it may be used."""

    digest: str | None
    expires_at: float


def fingerprint(value: Any) -> str:
    """A stable SHA-256 (hex) of a configuration value: attrs classes, mappings, sequences,
    strings, numbers, bytes. Equal configurations give equal fingerprints across processes."""
    return hashlib.sha256(orjson.dumps(_plain(value), option=orjson.OPT_SORT_KEYS)).hexdigest()


def _plain(value: Any) -> Any:
    if attrs.has(type(value)):
        plain = {
            field.name: _plain(getattr(value, field.name)) for field in attrs.fields(type(value))
        }
        return {"type": type(value).__name__, **plain}
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | frozenset | set):
        items = [_plain(item) for item in value]
        return sorted(items, key=repr) if isinstance(value, frozenset | set) else items
    if isinstance(value, bytes):
        return {"bytes": hashlib.sha256(value).hexdigest()}  # secrets: only their hash
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return {"object": type(value).__name__, "repr": repr(value)}


def verdict_key(
    prefix: str,
    *,
    reference: str,
    validator: str,
    config_fingerprint: str,
    options_fingerprint: str,
    login_id: str | None = None,
) -> str:
    """The Redis key of one image's verdict under one validator configuration and rule, read
    with one registry login (``login_id``, see ``login_id``; None: none)."""
    material = orjson.dumps(
        [reference, validator, config_fingerprint, options_fingerprint, login_id]
    )
    return f"{prefix}v1:verdict:{hashlib.sha256(material).hexdigest()}"


def login_id(hmac_key: bytes, username: str, password: str) -> str:
    """A registry login as it enters a verdict key: keyed, so whoever reads Redis keys cannot
    test password guesses against it."""
    message = _LOGIN_DOMAIN + orjson.dumps([username, password])
    return hmac.digest(hmac_key, message, "sha256").hex()


def encode_verdict(hmac_key: bytes, redis_key: str, verdict: SharedVerdict) -> bytes:
    """The authenticated value of ``verdict`` stored under ``redis_key``."""
    if verdict.digest is not None and not _DIGEST.fullmatch(verdict.digest):
        raise SharedValueError("malformed", "the digest is not sha256:<64 hex>")
    if not math.isfinite(verdict.expires_at):
        raise SharedValueError("malformed", "the expiry is not a finite number")
    payload = orjson.dumps({"d": verdict.digest, "e": verdict.expires_at})
    return MAGIC + _verdict_mac(hmac_key, redis_key, payload) + payload


def decode_verdict(hmac_key: bytes, redis_key: str, value: bytes, *, now: float) -> SharedVerdict:
    """The verdict in ``value`` read from ``redis_key``, authenticated and still valid at ``now``.

    Raises:
        SharedValueError: not a value kenner wrote for this key (malformed, forged), or expired.
    """
    header = len(MAGIC) + MAC_BYTES
    if not header < len(value) <= MAX_VALUE_BYTES:
        raise SharedValueError("malformed", "not a kenner verdict value (size)")
    if not value.startswith(MAGIC):
        raise SharedValueError("malformed", "not a kenner verdict value (version)")
    mac, payload = value[len(MAGIC) : header], value[header:]
    if not hmac.compare_digest(mac, _verdict_mac(hmac_key, redis_key, payload)):
        raise SharedValueError("forged", "the value's HMAC does not verify")
    # Authenticated from here on, yet still parsed strictly: a bug in a writer must not allow.
    try:
        document = orjson.loads(payload)
    except orjson.JSONDecodeError as error:
        raise SharedValueError("malformed", "the payload is not JSON") from error
    if not isinstance(document, dict) or set(document) != {"d", "e"}:
        raise SharedValueError("malformed", "the payload is not {d, e}")
    digest, expires_at = document["d"], document["e"]
    if digest is not None and not (isinstance(digest, str) and _DIGEST.fullmatch(digest)):
        raise SharedValueError("malformed", "the digest is not sha256:<64 hex>")
    if isinstance(expires_at, bool) or not isinstance(expires_at, int | float):
        raise SharedValueError("malformed", "the expiry is not a number")
    if not expires_at > now:
        raise SharedValueError("expired", "the verdict has expired")
    return SharedVerdict(digest, float(expires_at))


def _verdict_mac(hmac_key: bytes, redis_key: str, payload: bytes) -> bytes:
    message = _VERDICT_DOMAIN + redis_key.encode() + b"\x00" + payload
    return hmac.digest(hmac_key, message, "sha256")


def repository_id(host: str, gun: str) -> str:
    """The fixed-size name of one Notary repository in Redis keys."""
    return hashlib.sha256(orjson.dumps([host, gun])).hexdigest()


def rollback_entry(hmac_key: bytes, host: str, gun: str, role: str, version: int) -> str:
    """The stored form of "``role`` of ``gun`` at ``host`` was verified at ``version``".

    Raises:
        SharedValueError: the version is outside 1 .. ``MAX_SHARED_VERSION``.
    """
    if not 1 <= version <= MAX_SHARED_VERSION:
        raise SharedValueError("malformed", f"version {version} cannot be shared")
    return f"{version}:{_rollback_mac(hmac_key, host, gun, role, version)}"


def rollback_entry_version(hmac_key: bytes, host: str, gun: str, role: str, stored: bytes) -> int:
    """The version an entry read back from Redis vouches for.

    Raises:
        SharedValueError: not an entry kenner wrote for this host, repository and role.
    """
    match = _ENTRY.fullmatch(stored)
    if match is None:
        raise SharedValueError("malformed", "not a kenner rollback entry")
    version = int(match[1])
    expected = _rollback_mac(hmac_key, host, gun, role, version).encode()
    if version > MAX_SHARED_VERSION or not hmac.compare_digest(match[2], expected):
        raise SharedValueError("forged", "the rollback entry's HMAC does not verify")
    return version


def _rollback_mac(hmac_key: bytes, host: str, gun: str, role: str, version: int) -> str:
    message = _ROLLBACK_DOMAIN + orjson.dumps([host, gun, role, version])
    return hmac.digest(hmac_key, message, "sha256").hex()
