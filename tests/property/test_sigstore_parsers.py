"""Hostile bundles, trusted roots, checkpoints, statements and proofs: every parser and the
verifier fail only with their own error (a ``KennerError``), with a bounded message.

The bundles are real conformance bundles with one field replaced by a hostile value (wrong
type, huge, negative, deep, empty), so the mutations reach the checks behind the first ones.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kenner.sigstore.bundle import parse_bundle
from kenner.sigstore.checkpoint import parse_checkpoint, verify_checkpoint
from kenner.sigstore.dsse import parse_statement, subject_digests
from kenner.sigstore.errors import BundleError, TrustRootError
from kenner.sigstore.merkle import root_from_proof
from kenner.sigstore.trustroot import LogKey, Validity, parse_trusted_root
from kenner.sigstore.tsa import check_timestamp
from kenner.sigstore.verify import sha256_digest, verify_bundle
from tests.support.sigstore_cases import Case, case, managed_key

MAX_MESSAGE = 1200
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
CASES = ("happy-path-v0.1", "happy-path-intoto-in-dsse-v3", "rekor2-happy-path",
         "rekor2-dsse-happy-path", "managed-key-happy-path")  # fmt: skip

HOSTILE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    st.text(max_size=50),
    st.just("A" * 5000),
    st.just("-1"),
    st.just("99999999999999999999"),
    st.just("\u2014 x AAAA\n"),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
    st.just([[[[[[]]]]]]),
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _replaced(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copied = copy.deepcopy(document)
    target = copied
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return copied


def _failure(call: Callable[[], object]) -> str:
    """The message of the module's own error (a test fails on any other exception)."""
    try:
        call()
    except (BundleError, TrustRootError) as error:
        return str(error)
    return ""


def _verify(found: Case, bundle_text: bytes | str, root_text: bytes | str) -> None:
    verify_bundle(
        parse_bundle(bundle_text),
        parse_trusted_root(root_text),
        artifact_digest=sha256_digest(found.artifact),
        key=managed_key(found),
        check_timestamp=check_timestamp,
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(CASES), st.data(), HOSTILE)
def test_a_bundle_with_one_hostile_field_fails_only_with_bundle_error(
    case_id: str, data: st.DataObject, value: Any
) -> None:
    found = case(case_id)
    document = json.loads((found.folder / "bundle.sigstore.json").read_text())
    path = data.draw(st.sampled_from(_paths(document)))
    hostile = json.dumps(_replaced(document, path, value))
    root = found.trusted_root.read_bytes()
    assert len(_failure(lambda: _verify(found, hostile, root))) <= MAX_MESSAGE


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), HOSTILE)
def test_a_trusted_root_with_one_hostile_field_fails_only_with_its_error(
    data: st.DataObject, value: Any
) -> None:
    found = case("rekor2-happy-path")
    document = json.loads(found.trusted_root.read_text())
    path = data.draw(st.sampled_from(_paths(document)))
    hostile = json.dumps(_replaced(document, path, value))
    bundle = (found.folder / "bundle.sigstore.json").read_bytes()
    assert len(_failure(lambda: _verify(found, bundle, hostile))) <= MAX_MESSAGE


@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_arbitrary_bytes_are_no_bundle_and_no_trusted_root(data: bytes) -> None:
    assert len(_failure(lambda: parse_bundle(data))) <= MAX_MESSAGE
    assert len(_failure(lambda: parse_trusted_root(data))) <= MAX_MESSAGE


CHECKPOINT_LINES = st.lists(
    st.one_of(
        st.text(max_size=40),
        st.just(""),
        st.just("\u2014 log AAAAAAAA"),
        st.just("\u2014 log " + "QUFBQUFBQUFBQUFB"),
        st.just("log - 12"),
        st.just(" - 1 - 2"),
        st.just("12"),
        st.just("rs1YPY0ydAV0lxgfrq5pE4oRpUJwo3syeps5+eGUTDI="),
    ),
    max_size=8,
)
_CHECKPOINT_KEY = ec.generate_private_key(ec.SECP256R1()).public_key()


@given(CHECKPOINT_LINES, st.sampled_from([(), ("log",), ("rekor.test", "rekor.test/x")]))
def test_checkpoint_text_fails_only_with_bundle_error(
    lines: list[str], names: tuple[str, ...]
) -> None:
    try:
        checkpoint = parse_checkpoint("\n".join(lines) + "\n")
    except BundleError:
        return
    log = LogKey("log", b"AAAA" + bytes(28), _CHECKPOINT_KEY, Validity(EPOCH, None), names)
    assert len(_failure(lambda: verify_checkpoint(checkpoint, log))) <= MAX_MESSAGE


@given(st.text(max_size=300) | st.just("https://[::1") | st.just("//") | st.just("a@:1"))
def test_any_rekor_base_url_loads_or_fails_with_trust_root_error(base_url: str) -> None:
    document = json.loads(case("rekor2-happy-path").trusted_root.read_text())
    document["tlogs"][0]["baseUrl"] = base_url
    assert len(_failure(lambda: parse_trusted_root(json.dumps(document)))) <= MAX_MESSAGE


@given(
    st.text(max_size=30), st.binary(max_size=300) | HOSTILE.map(lambda v: json.dumps(v).encode())
)
def test_statements_fail_only_with_bundle_error(payload_type: str, payload: bytes) -> None:
    for kind in (payload_type, "application/vnd.in-toto+json"):
        with contextlib.suppress(BundleError):
            subject_digests(parse_statement(kind, payload))


@given(
    st.integers(min_value=-5, max_value=2**64),
    st.integers(min_value=-5, max_value=2**64),
    st.lists(st.binary(min_size=31, max_size=33), max_size=70),
)
def test_merkle_proofs_fail_only_with_bundle_error(
    index: int, size: int, path: list[bytes]
) -> None:
    try:
        root = root_from_proof(index, size, bytes(32), path)
    except BundleError:
        return
    assert len(root) == 32


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(min_size=1, max_size=600))
def test_hostile_timestamp_bytes_are_no_verified_time(token: bytes) -> None:
    found = case("rekor2-happy-path")
    document = json.loads((found.folder / "bundle.sigstore.json").read_text())
    material = document["verificationMaterial"]
    material["timestampVerificationData"]["rfc3161Timestamps"][0]["signedTimestamp"] = (
        base64.b64encode(token).decode()
    )
    hostile = json.dumps(document)
    root = found.trusted_root.read_bytes()
    message = _failure(lambda: _verify(found, hostile, root))
    assert message == "no verified time for the log entry (no SET, no timestamp)"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_a_real_timestamp_with_one_byte_changed_fails_only_with_bundle_error(
    data: st.DataObject,
) -> None:
    found = case("rekor2-happy-path")
    document = json.loads((found.folder / "bundle.sigstore.json").read_text())
    stamp = document["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"][0]
    token = bytearray(base64.b64decode(stamp["signedTimestamp"]))
    position = data.draw(st.integers(min_value=0, max_value=len(token) - 1))
    token[position] ^= data.draw(st.integers(min_value=1, max_value=255))
    stamp["signedTimestamp"] = base64.b64encode(bytes(token)).decode()
    hostile = json.dumps(document)
    root = found.trusted_root.read_bytes()
    assert len(_failure(lambda: _verify(found, hostile, root))) <= MAX_MESSAGE
