"""``cache.redis``: the keys, their load-time checks (at key and line), the v3 spelling, and
the files read at build time (``kenner.net.redis_store.redis_settings``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import trustme
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from kenner.cli import _offline_snapshot
from kenner.config.errors import ConfigError
from kenner.config.load import load_config
from kenner.net.redis_store import redis_settings
from kenner.validators.driver import Driver

BASE = "validators: [{name: default, type: static, approve: true}]\npolicy: [{pattern: '*:*'}]\n"
V3 = (
    "application:\n  validators: [{name: default, type: static, approve: true}]\n"
    "  policy: [{pattern: '*:*'}]\n  features:\n    cache:\n      redis:\n"
)


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "hmac.key"
    path.write_bytes(bytes(range(32)))
    return path


def _redis(key_file: Path, **keys: str) -> str:
    lines = [f"    {key}: {value}" for key, value in {"hmacKeyFile": key_file, **keys}.items()]
    return BASE + "cache:\n  redis:\n" + "\n".join(lines) + "\n"


def _problems(text: str) -> list[tuple[str, int | None, str]]:
    with pytest.raises(ConfigError) as caught:
        load_config(text, "kenner.yaml")
    return [(p.path, p.line, p.message) for p in caught.value.problems]


def test_defaults_and_the_url_is_never_shown(key_file: Path) -> None:
    config = load_config(_redis(key_file, url="redis://:s3cret@127.0.0.1:6379/2"))
    redis = config.cache.redis
    assert redis is not None
    assert (redis.prefix, redis.ttl_s, redis.timeout_s, redis.max_repositories) == (
        "kenner:",
        300.0,
        0.25,
        100_000,
    )
    assert redis.hmac_key_file.secret == bytes(range(32))
    assert "s3cret" not in repr(config)


def test_without_redis_nothing_changes() -> None:
    assert load_config(BASE).cache.redis is None


def test_connaisseur_v3_spelling(key_file: Path) -> None:
    text = V3 + f"        url: redis://127.0.0.1\n        hmacKeyFile: {key_file}\n"
    redis = load_config(text).cache.redis
    assert redis is not None
    assert redis.hmac_key_file.path == str(key_file)
    problems = _problems(V3 + "        url: http://x\n" + f"        hmacKeyFile: {key_file}\n")
    assert problems == [
        (
            "application.features.cache.redis.url",
            7,
            "must start with redis:// or rediss:// (TLS)",
        )
    ]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1", "must start with redis:// or rediss:// (TLS)"),
        ("redis://", "names no host"),
        ("redis://h:99999", "is not a valid URL (redis://[USER[:PASSWORD]@]HOST[:PORT][/DB])"),
        ("redis://h:0", "port must be 1-65535"),
        ("redis://h/16", "database (the path) must be a number 0-15"),
        ("redis://h?db=1", "must have no query or fragment (use the cache.redis keys)"),
    ],
)
def test_bad_urls_are_named_at_their_line(key_file: Path, url: str, message: str) -> None:
    assert _problems(_redis(key_file, url=f'"{url}"')) == [("cache.redis.url", 6, message)]


def test_other_values_are_checked(key_file: Path) -> None:
    text = _redis(
        key_file,
        url='"redis://:pw@h"',
        passwordFile="/run/pw",
        caFile="/run/ca.crt",
        prefix='"a b"',
        ttlSeconds="0",
        timeoutSeconds="8",
        maxRepositories="0",
    )
    assert _problems(text) == [
        ("cache.redis.url", 6, "has a password and passwordFile is given too: use one"),
        ("cache.redis.caFile", 8, "needs a rediss:// url (TLS)"),
        ("cache.redis.prefix", 9, "must be 1 to 64 characters of letters, digits and . _ : / -"),
        ("cache.redis.ttlSeconds", 10, "must be greater than 0"),
        ("cache.redis.timeoutSeconds", 11, "must be below deadlines.requestSeconds (8)"),
        ("cache.redis.maxRepositories", 12, "must be at least 1"),
    ]


def test_the_url_and_key_file_are_required(tmp_path: Path) -> None:
    problems = _problems(BASE + "cache:\n  redis: {prefix: x}\n")
    assert {message for _, _, message in problems} == {
        "missing required key 'url'",
        "missing required key 'hmacKeyFile'",
    }


def test_files_are_read_at_build_naming_the_key(key_file: Path, tmp_path: Path) -> None:
    password = tmp_path / "password"
    password.write_text("s3cret\n")
    ca = trustme.CA()
    ca_file = tmp_path / "ca.crt"
    ca.cert_pem.write_to_path(str(ca_file))
    config = load_config(
        _redis(key_file, url="rediss://h", passwordFile=str(password), caFile=str(ca_file))
    ).cache.redis
    settings, context = redis_settings(config)
    assert settings is not None
    assert context is not None
    assert settings.password == "s3cret"  # the trailing newline is dropped
    assert "s3cret" not in repr(settings)
    assert redis_settings(config, read_secrets=False)[0].password is None  # type: ignore[union-attr]
    password.unlink()
    with pytest.raises(ConfigError, match=r"^cache\.redis\.passwordFile: cannot read"):
        redis_settings(config)
    ca_file.write_text("not PEM")
    with pytest.raises(ConfigError, match=r"^cache\.redis\.caFile: "):
        redis_settings(config, read_secrets=False)


def test_plain_redis_has_no_tls_context(key_file: Path) -> None:
    config = load_config(_redis(key_file, url="redis://h")).cache.redis
    assert redis_settings(config)[1] is None
    assert redis_settings(None) == (None, None)


async def test_review_and_verify_build_their_validators_without_redis(key_file: Path) -> None:
    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    key_yaml = pem.replace("\n", "\n          ")
    text = (
        "validators:\n  - name: notary\n    type: notaryv1\n    host: notary.example\n"
        f"    trustRoots:\n      - name: default\n        key: |\n          {key_yaml}\n"
        "policy: [{pattern: '*:*', validator: notary}]\n"
        f"cache:\n  redis:\n    url: redis://127.0.0.1:1/0\n    hmacKeyFile: {key_file}\n"
    )
    config = load_config(text)
    assert config.cache.redis is not None
    async with _offline_snapshot(config) as snapshot:
        # Plain drivers: no SharedVerdicts around them, so nothing is read from or written
        # to the replicas' shared state (docs/verify.md).
        assert all(type(v) is Driver for v in snapshot.validators.values())
        assert snapshot.config.cache.redis is not None  # the policy is the file's, unchanged
