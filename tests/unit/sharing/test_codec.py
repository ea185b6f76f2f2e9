"""The shared-value codec: what another replica (or an attacker with Redis access) may write.

Any bytes decode to a verdict only when kenner wrote exactly them under exactly that key with
the same HMAC key; everything else raises ``SharedValueError`` and nothing else.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kenner.config.model import NotaryV1ValidatorConfig, RuleOptions, TrustRoot
from kenner.sharing import (
    SharedValueError,
    SharedVerdict,
    decode_verdict,
    encode_verdict,
    fingerprint,
    rollback_entry,
    rollback_entry_version,
    verdict_key,
)
from kenner.sharing.codec import MAX_SHARED_VERSION

KEY = b"k" * 32
OTHER_KEY = b"o" * 32
RKEY = "kenner:v1:verdict:abc"
NOW = 1_700_000_000.0
DIGEST = "sha256:" + "ab" * 32

digests = st.one_of(st.none(), st.text("0123456789abcdef", min_size=64, max_size=64))
verdicts = st.builds(
    SharedVerdict,
    digest=digests.map(lambda hex_: None if hex_ is None else f"sha256:{hex_}"),
    expires_at=st.floats(NOW + 0.001, NOW + 1e6, allow_nan=False),
)


@given(verdicts)
def test_what_is_encoded_decodes_to_itself(verdict: SharedVerdict) -> None:
    value = encode_verdict(KEY, RKEY, verdict)
    assert decode_verdict(KEY, RKEY, value, now=NOW) == verdict


@given(st.binary(max_size=700))
def test_arbitrary_bytes_raise_only_the_codec_error(value: bytes) -> None:
    with pytest.raises(SharedValueError) as caught:
        decode_verdict(KEY, RKEY, value, now=NOW)
    assert caught.value.problem in ("malformed", "forged")


@given(verdicts, st.data())
def test_any_changed_byte_is_refused(verdict: SharedVerdict, data: st.DataObject) -> None:
    value = bytearray(encode_verdict(KEY, RKEY, verdict))
    index = data.draw(st.integers(0, len(value) - 1))
    value[index] ^= data.draw(st.integers(1, 255))
    with pytest.raises(SharedValueError):
        decode_verdict(KEY, RKEY, bytes(value), now=NOW)


@given(verdicts, st.binary(max_size=64))
def test_appended_or_cut_bytes_are_refused(verdict: SharedVerdict, extra: bytes) -> None:
    value = encode_verdict(KEY, RKEY, verdict)
    with pytest.raises(SharedValueError):
        decode_verdict(KEY, RKEY, value[:-1], now=NOW)
    if extra:
        with pytest.raises(SharedValueError):
            decode_verdict(KEY, RKEY, value + extra, now=NOW)


def test_a_value_copied_under_another_key_is_forged() -> None:
    value = encode_verdict(KEY, RKEY, SharedVerdict(DIGEST, NOW + 60))
    with pytest.raises(SharedValueError) as caught:
        decode_verdict(KEY, "kenner:v1:verdict:other-image", value, now=NOW)
    assert caught.value.problem == "forged"


def test_a_value_made_with_another_hmac_key_is_forged() -> None:
    value = encode_verdict(OTHER_KEY, RKEY, SharedVerdict(DIGEST, NOW + 60))
    with pytest.raises(SharedValueError) as caught:
        decode_verdict(KEY, RKEY, value, now=NOW)
    assert caught.value.problem == "forged"


def test_an_expired_verdict_is_refused() -> None:
    value = encode_verdict(KEY, RKEY, SharedVerdict(DIGEST, NOW))
    with pytest.raises(SharedValueError) as caught:
        decode_verdict(KEY, RKEY, value, now=NOW)
    assert caught.value.problem == "expired"


@pytest.mark.parametrize(
    "payload",
    [
        b'{"d":null}',
        b'{"d":null,"e":1e20,"x":1}',
        b'{"d":"sha256:short","e":1e20}',
        b'{"d":null,"e":true}',
        b'{"d":null,"e":"1e20"}',
        b"[1,2]",
        b"not json",
    ],
)
def test_an_authenticated_payload_of_the_wrong_shape_is_still_refused(payload: bytes) -> None:
    # A writer's bug must not become an allow: the payload is parsed strictly after the MAC.
    from kenner.sharing.codec import MAGIC, _verdict_mac

    value = MAGIC + _verdict_mac(KEY, RKEY, payload) + payload
    with pytest.raises(SharedValueError) as caught:
        decode_verdict(KEY, RKEY, value, now=NOW)
    assert caught.value.problem == "malformed"


def test_a_bad_digest_or_expiry_is_never_encoded() -> None:
    with pytest.raises(SharedValueError):
        encode_verdict(KEY, RKEY, SharedVerdict("sha256:xyz", NOW + 1))
    with pytest.raises(SharedValueError):
        encode_verdict(KEY, RKEY, SharedVerdict(DIGEST, float("inf")))


def test_the_key_depends_on_reference_validator_configuration_and_rule() -> None:
    config = NotaryV1ValidatorConfig(
        name="dockerhub", host="https://notary.docker.io", trust_roots=(TrustRoot("default", "K"),)
    )
    rotated = NotaryV1ValidatorConfig(
        name="dockerhub", host="https://notary.docker.io", trust_roots=(TrustRoot("default", "L"),)
    )
    base = {
        "reference": "docker.io/library/nginx:1.27",
        "validator": "dockerhub",
        "config_fingerprint": fingerprint(config),
        "options_fingerprint": fingerprint(RuleOptions()),
    }
    key = verdict_key("kenner:", **base)
    assert key.startswith("kenner:v1:verdict:")
    assert verdict_key("kenner:", **base) == key  # stable
    changed = [
        {**base, "reference": "docker.io/library/nginx:1.28"},
        {**base, "validator": "other"},
        {**base, "config_fingerprint": fingerprint(rotated)},
        {**base, "options_fingerprint": fingerprint(RuleOptions(delegations=("targets/a",)))},
    ]
    assert len({verdict_key("kenner:", **other) for other in changed} | {key}) == 5
    assert verdict_key("other:", **base) != key


roles = st.text(min_size=1, max_size=40)


@given(roles, st.integers(1, MAX_SHARED_VERSION))
def test_a_rollback_entry_vouches_for_its_version(role: str, version: int) -> None:
    entry = rollback_entry(KEY, "h", "g", role, version).encode()
    assert rollback_entry_version(KEY, "h", "g", role, entry) == version
    with pytest.raises(SharedValueError):
        rollback_entry_version(KEY, "h", "other-gun", role, entry)
    with pytest.raises(SharedValueError):
        rollback_entry_version(OTHER_KEY, "h", "g", role, entry)


@given(st.binary(max_size=200))
def test_arbitrary_rollback_entries_raise_only_the_codec_error(stored: bytes) -> None:
    with pytest.raises(SharedValueError):
        rollback_entry_version(KEY, "h", "g", "timestamp", stored)


@given(st.integers(1, 10_000), st.integers(1, 10_000))
def test_a_rollback_entry_with_a_raised_version_is_forged(version: int, more: int) -> None:
    entry = rollback_entry(KEY, "h", "g", "timestamp", version)
    mac = entry.split(":")[1]
    with pytest.raises(SharedValueError):
        rollback_entry_version(KEY, "h", "g", "timestamp", f"{version + more}:{mac}".encode())


@pytest.mark.parametrize("version", [0, -1, MAX_SHARED_VERSION + 1])
def test_versions_lua_cannot_compare_exactly_are_not_shared(version: int) -> None:
    with pytest.raises(SharedValueError):
        rollback_entry(KEY, "h", "g", "timestamp", version)
