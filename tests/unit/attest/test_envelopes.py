"""DSSE envelopes and in-toto statements: made here with test keys, and Sigstore's real ones."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from kenner.attest.dsse import Envelope, parse_envelope
from kenner.attest.errors import StatementError
from kenner.attest.policy import first_failure, parse_condition
from kenner.attest.statement import parse_statement, statement_of
from kenner.cosign.keys import from_public_key, load_public_key
from kenner.oci.manifest import digest_of
from kenner.sigstore.dsse import pae
from tests.shared import fixtures_root
from tests.support.attestations import envelope, statement
from tests.support.cosign_signing import new_key, public_pem, sign

DIGEST = digest_of(b"an image manifest")


def test_pae_is_the_spec_example() -> None:
    assert pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )
    # Lengths count bytes, not characters.
    assert pae("t\u00e9", b"\xff") == b"DSSEv1 3 t\xc3\xa9 1 \xff"


@pytest.mark.parametrize("kind", ["ecdsa", "rsa-pkcs1", "ed25519"])
def test_an_envelope_verifies_with_its_signers_key_only(kind: str) -> None:
    key, other = new_key(kind), new_key(kind)
    parsed = parse_envelope(envelope(statement(DIGEST, {"a": 1}), key))
    assert parsed.signed_by(load_public_key(public_pem(key)))
    assert not parsed.signed_by(load_public_key(public_pem(other)))


def test_the_signature_covers_the_payload_type_and_the_payload() -> None:
    key = new_key()
    verifier = load_public_key(public_pem(key))
    parsed = parse_envelope(envelope(statement(DIGEST, {"a": 1}), key))
    assert not Envelope(parsed.payload_type, parsed.payload + b" ", parsed.signatures).signed_by(
        verifier
    )
    assert not Envelope("application/json", parsed.payload, parsed.signatures).signed_by(verifier)
    # A signature over the bare payload (no PAE) does not count.
    bare = Envelope(parsed.payload_type, parsed.payload, (sign(key, parsed.payload),))
    assert not bare.signed_by(verifier)


def test_one_good_signature_among_others_counts() -> None:
    key, stranger = new_key(), new_key()
    parsed = parse_envelope(envelope(statement(DIGEST, {}), stranger, key))
    assert parsed.signed_by(load_public_key(public_pem(key)))


def test_url_safe_and_unpadded_base64_is_read() -> None:
    document = json.loads(envelope(b'{"x": "~~~>>>???"}', new_key()))
    raw = base64.b64decode(document["payload"])
    document["payload"] = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    assert parse_envelope(json.dumps(document).encode()).payload == raw


def _envelope_with(**changes: Any) -> bytes:
    document = json.loads(envelope(statement(DIGEST, {}), new_key()))
    document.update(changes)
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xff", "not UTF-8"),
        (b"[]", "not an object"),
        (b"{", "not JSON"),
        (b'{"payloadType": NaN}', "no NaN"),
        (b'{"a": 1, "a": 2}', "repeats the key 'a'"),
        (b"[" * 100000 + b"]" * 100000, "not JSON|at most"),
        (_envelope_with(payloadType="text/plain"), "payloadType is 'text/plain'"),
        (_envelope_with(payloadType=None), "payloadType is null"),
        (_envelope_with(payload="not base64!"), "payload is not base64"),
        (_envelope_with(payload="A"), "payload is not base64"),
        (_envelope_with(signatures=[]), "no signatures"),
        (_envelope_with(signatures=[{"sig": "AA=="}] * 17), "at most 16"),
        (_envelope_with(signatures=["AA=="]), "not an object"),
        (_envelope_with(signatures=[{"keyid": "x"}]), "sig is not base64"),
    ],
)
def test_bad_envelopes_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(StatementError, match=message):
        parse_envelope(data)


@pytest.mark.parametrize(
    "kind", ["https://in-toto.io/Statement/v0.1", "https://in-toto.io/Statement/v1"]
)
def test_statements_v01_and_v1(kind: str) -> None:
    parsed = parse_statement(statement(DIGEST, {"b": 2}, statement_type=kind))
    assert (parsed.type, parsed.predicate_type) == (kind, "https://slsa.dev/provenance/v1")
    assert parsed.names(DIGEST)
    assert not parsed.names(digest_of(b"another image"))
    assert not parsed.names(DIGEST.replace("sha256:", "sha512:"))
    assert not parsed.names(DIGEST.upper())


def _statement_with(**changes: Any) -> bytes:
    document = json.loads(statement(DIGEST, {}))
    document.update(changes)
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'"x"', "is a string, not an object"),
        (_statement_with(_type="https://in-toto.io/Statement/v2"), "_type is 'https://in-toto"),
        (_statement_with(_type=None), "_type is missing"),
        (_statement_with(predicateType=""), "predicateType is not a non-empty string"),
        (_statement_with(predicateType=["x"]), "predicateType is not"),
        (_statement_with(predicate=[]), "predicate is not an object"),
        (_statement_with(subject=[]), "subject is not a non-empty list"),
        (_statement_with(subject={"digest": {}}), "subject is not a non-empty list"),
        (_statement_with(subject=[{"name": "x"}]), "no digest object of strings"),
        (_statement_with(subject=[{"digest": {"sha256": 1}}]), "no digest object of strings"),
        (_statement_with(subject=[{"digest": {}}] * 1025), "at most 1024"),
        (b" " * (1024 * 1024 + 1), "at most"),
    ],
)
def test_bad_statements_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(StatementError, match=message):
        parse_statement(data)


# --- Sigstore's conformance bundles: real DSSE envelopes over real SLSA provenance ----------


def _conformance(case: str) -> dict[str, Any]:
    path = fixtures_root() / "sigstore" / "conformance" / case / "bundle.sigstore.json"
    if not path.is_file():
        pytest.skip(f"Sigstore fixtures not found at {path.parent.parent}")
    document: dict[str, Any] = json.loads(path.read_bytes())
    return document


def _envelope_and_signer(case: str) -> tuple[Envelope, Any]:
    bundle = _conformance(case)
    material = bundle["verificationMaterial"]
    certificate = material.get("certificate") or material["x509CertificateChain"]["certificates"][0]
    leaf = x509.load_der_x509_certificate(base64.b64decode(certificate["rawBytes"]))
    return parse_envelope(json.dumps(bundle["dsseEnvelope"]).encode()), from_public_key(
        leaf.public_key()
    )


def _artifact_digest() -> str:
    path: Path = fixtures_root() / "sigstore" / "conformance" / "a.txt"
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("case", "signed"),
    [
        ("happy-path-intoto-in-dsse-v3", True),
        ("rekor2-dsse-happy-path", True),
        ("intoto-expired-certificate_fail", True),  # fails on time, not on the envelope
        ("dsse-mismatch-sig_fail", True),  # a second valid signature: the log tells
        ("dsse-invalid-sig_fail", False),
        ("rekor2-dsse-invalid-sig_fail", False),
    ],
)
def test_conformance_envelopes_verify_with_their_certificate_key(case: str, signed: bool) -> None:
    parsed, key = _envelope_and_signer(case)
    assert parsed.signed_by(key) is signed


def test_conformance_statement_and_a_slsa_policy() -> None:
    parsed, _ = _envelope_and_signer("happy-path-intoto-in-dsse-v3")
    provenance = parse_statement(parsed.payload)
    assert provenance.predicate_type == "https://slsa.dev/provenance/v1"
    assert provenance.names(_artifact_digest())
    policy = [
        parse_condition(
            {
                "path": "/predicate/runDetails/builder/id",
                "prefix": "https://github.com/loosebazooka/",
            }
        ),
        parse_condition(
            {
                "path": "/predicate/buildDefinition/externalParameters/workflow/repository",
                "equals": "https://github.com/loosebazooka/aa-test",
            }
        ),
        parse_condition(
            {
                "path": "/predicate/buildDefinition/internalParameters/github/event_name",
                "in": ["push", "workflow_dispatch"],
            }
        ),
        parse_condition(
            {
                "path": "/predicate/buildDefinition/resolvedDependencies/0/digest/gitCommit",
                "exists": True,
            }
        ),
    ]
    now = datetime(2026, 12, 4, tzinfo=UTC)
    assert first_failure(policy, provenance.document, now) is None
    other = [
        parse_condition(
            {"path": "/predicate/runDetails/builder/id", "glob": "https://github.com/my-org/*"}
        )
    ]
    assert first_failure(other, provenance.document, now) == (
        "/predicate/runDetails/builder/id glob 'https://github.com/my-org/*': got "
        "'https://github.com/loosebazooka/aa-test/.github/workflows/provenance.yaml@refs/heads/main'"
    )


def test_a_parsed_document_is_shape_checked_as_bytes_are() -> None:
    document = json.loads(statement(DIGEST, {"a": 1}))
    assert statement_of(document).names(DIGEST)
    with pytest.raises(StatementError, match="is an array, not an object"):
        statement_of([document])
    with pytest.raises(StatementError, match="subject is not a non-empty list"):
        statement_of({**document, "subject": []})
