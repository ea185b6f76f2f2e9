"""Offline verification of a Rekor bundle (the ``dev.sigstore.cosign/bundle`` annotation).

The bundle is ``{"SignedEntryTimestamp": b64, "Payload": {"body": b64, "integratedTime": int,
"logIndex": int, "logID": hex}}``. The signed entry timestamp (SET) is Rekor's signature over
the canonical JSON (RFC 8785: sorted keys, no whitespace) of ``Payload``; checking it with the
configured Rekor public key proves the log accepted the entry at ``integratedTime`` without
asking the log. ``logID`` must be the SHA-256 of that key, and the entry body (a
``hashedrekord``) must be about this very signature: the payload's hash, the signature bytes
and the signer's key or certificate.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

import attrs
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from kenner.cosign.errors import Failure, Rejected
from kenner.cosign.keys import VerificationKey


@attrs.frozen
class RekorEntry:
    """What a verified bundle proves: the entry's log position and when it was logged."""

    integrated_time: int  # seconds since the epoch
    log_index: int
    log_id: str


def verify_bundle(
    bundle_text: str,
    rekor_key: VerificationKey,
    *,
    payload: bytes,
    signature: bytes,
    signer_der: bytes,
) -> RekorEntry:
    """Verify a bundle for the signature ``signature`` over ``payload``.

    ``signer_der`` is the DER of the signing certificate, or of the public key
    (SubjectPublicKeyInfo) for a key-based signature.

    Raises:
        Rejected: (``bad_tlog_entry``) malformed, signed by another log, SET invalid, or the
            entry describes another payload, signature or signer.
    """
    entry, body = verify_logged_entry(bundle_text, rekor_key)
    _check_body(body, payload, signature, signer_der)
    return entry


def verify_logged_entry(bundle_text: str, rekor_key: VerificationKey) -> tuple[RekorEntry, Any]:
    """The entry a bundle's SET proves the log accepted, and its body (parsed JSON, not yet
    compared with anything: the caller checks it is about its signature).

    Raises:
        Rejected: (``bad_tlog_entry``) malformed, signed by another log, or SET invalid.
    """
    try:
        bundle = json.loads(bundle_text)
    except (ValueError, RecursionError):  # RecursionError: nested too deeply
        raise _bad("the bundle is not JSON") from None
    entry = _field(bundle, "Payload", dict)
    set_b64 = _field(bundle, "SignedEntryTimestamp", str)
    body_b64 = _field(entry, "body", str)
    integrated_time = _field(entry, "integratedTime", int)
    log_index = _field(entry, "logIndex", int)
    log_id = _field(entry, "logID", str)
    expected_log_id = hashlib.sha256(rekor_key.der).hexdigest()
    if log_id != expected_log_id:
        shown = repr(log_id)[:200]  # the bundle is hostile text: quote a bounded part
        raise _bad(f"logged by {shown}, not by the configured Rekor key {expected_log_id}")
    if _has_lone_surrogate(body_b64):
        raise _bad("the entry body is not valid Unicode")
    canonical = json.dumps(
        {
            "body": body_b64,
            "integratedTime": integrated_time,
            "logID": log_id,
            "logIndex": log_index,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()
    if not rekor_key.verify(_b64(set_b64, "SignedEntryTimestamp"), canonical):
        raise _bad("the signed entry timestamp does not verify with the Rekor key")
    return RekorEntry(integrated_time, log_index, log_id), _json(_b64(body_b64, "body"))


def _check_body(body: Any, payload: bytes, signature: bytes, signer_der: bytes) -> None:
    kind = body.get("kind") if isinstance(body, dict) else None
    if kind != "hashedrekord":
        raise _bad(f"entry kind {kind!r} is not supported (only hashedrekord)")
    spec = _field(body, "spec", dict)
    hashed = _field(_field(spec, "data", dict), "hash", dict)
    algorithm, value = _field(hashed, "algorithm", str), _field(hashed, "value", str)
    if algorithm != "sha256" or value != hashlib.sha256(payload).hexdigest():
        raise _bad("the entry is about another payload (hash mismatch)")
    logged_signature = _field(spec, "signature", dict)
    content = _b64(_field(logged_signature, "content", str), "signature.content")
    if content != signature:
        raise _bad("the entry records another signature")
    public_key = _field(logged_signature, "publicKey", dict)
    signer_pem = _b64(_field(public_key, "content", str), "publicKey.content")
    recorded = recorded_signer_der(signer_pem)
    if recorded is None:
        raise _bad("the entry's public key is neither a PEM certificate nor key")
    if recorded != signer_der:
        raise _bad("the entry records another signer key or certificate")


def recorded_signer_der(pem: bytes) -> bytes | None:
    """The DER public key of a PEM certificate or public key a log entry records, or None
    when it is neither (bad PEM, an unknown key algorithm: anything but a readable key)."""
    try:
        if b"CERTIFICATE" in pem:
            return x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)
        return serialization.load_pem_public_key(pem).public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return None


def _field(document: Any, key: str, kind: type) -> Any:
    value = document.get(key) if isinstance(document, dict) else None
    if type(value) is not kind:
        raise _bad(f"'{key}' is missing or not {kind.__name__}")
    return value


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise _bad(f"{what} is not base64") from None


def _json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except (ValueError, RecursionError):  # RecursionError: nested too deeply
        raise _bad("the entry body is not JSON") from None


def _has_lone_surrogate(text: str) -> bool:
    # JSON may escape half a UTF-16 pair ("\\ud800"); such text has no UTF-8 form to verify.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _bad(message: str) -> Rejected:
    return Rejected(Failure.BAD_TLOG_ENTRY, message)
