"""The notation-go fixtures in ``../shared/fixtures/notation/`` (skipped when absent)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import cbor2
import pytest
from cryptography import x509

from tests.shared import ROOT_VARIABLE, fixtures_root


def notation_fixtures() -> Path:
    """The ``notation/`` fixture folder; skips the calling test when it is absent."""
    path = fixtures_root() / "notation"
    if not (path / "MANIFEST.md").is_file():
        pytest.skip(
            f"Notation fixtures not found at {path}: set {ROOT_VARIABLE} to the fixtures root"
        )
    return path


def certificates(path: Path) -> list[x509.Certificate]:
    """The certificates of one file, PEM (one or more) or DER."""
    raw = path.read_bytes()
    if b"-----BEGIN" in raw:
        return x509.load_pem_x509_certificates(raw)
    return [x509.load_der_x509_certificate(raw)]


def trust_store(kind_and_name: str) -> list[x509.Certificate]:
    """Every certificate of ``truststore/x509/<kind>/<name>/``, e.g. ``tsa/test-timestamp``."""
    folder = notation_fixtures() / "truststore" / "x509" / kind_and_name
    return [c for path in sorted(folder.iterdir()) for c in certificates(path)]


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def timestamp_and_signature(name: str) -> tuple[bytes | None, bytes]:
    """The RFC 3161 token (if any) and the signature value of ``timestamp/sigEnv/<name>``."""
    raw = (notation_fixtures() / "timestamp" / "sigEnv" / name).read_bytes()
    if raw.startswith(b"{"):  # JWS JSON serialization: base64url strings
        envelope = json.loads(raw)
        token = envelope["header"].get("io.cncf.notary.timestampSignature")
        return (None if token is None else _b64url(token)), _b64url(envelope["signature"])
    _protected, unprotected, _payload, signature = cbor2.loads(raw).value  # COSE_Sign1
    return unprotected.get("io.cncf.notary.timestampSignature"), signature
