"""One legacy cosign attestation (a layer of the ``sha256-<hex>.att`` manifest) checked
against one trust root, as ``kenner.cosign.signature`` checks a ``.sig`` layer.

A layer counts for a trust root when, in this order: its blob is a DSSE envelope with an
in-toto payload one of whose signatures verifies over the PAE with the root's key, or, for a
keyless root, with the key of the leaf certificate the layer carries, which must chain to a
configured Fulcio certificate at the Rekor integration time, carry an SCT of the configured CT
log (when one is configured) and name the expected identity; when the transparency log is
required (always for keyless), the Rekor bundle annotation verifies offline (its SET, with
the configured Rekor key) and its entry (``intoto`` 0.0.2 or ``dsse`` 0.0.1) records this
payload, this signature and this signer; and the payload is an in-toto statement. Whether the
statement is about the image, and what it says, is judged later (``kenner.attest.judge``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import UTC, datetime
from typing import Any

import attrs
from cryptography.hazmat.primitives import serialization

from kenner.attest.dsse import ENVELOPE_MEDIA_TYPE, Envelope, parse_envelope
from kenner.attest.errors import StatementError
from kenner.attest.statement import Statement, parse_statement
from kenner.cosign.errors import Failure, Rejected
from kenner.cosign.keys import VerificationKey
from kenner.cosign.rekor import recorded_signer_der, verify_logged_entry
from kenner.cosign.signature import (
    BUNDLE_ANNOTATION,
    CERTIFICATE_ANNOTATION,
    CHAIN_ANNOTATION,
    KeylessRoot,
    KeyRoot,
    Sigstore,
    TrustRoot,
    check_certified,
    signing_certificate,
)
from kenner.oci.manifest import ImageManifest, check_digest_syntax
from kenner.quoting import quote

PREDICATE_TYPE_ANNOTATION = "predicateType"


@attrs.frozen
class AttestationLayer:
    """An ``.att`` layer's descriptor data: the envelope blob's digest and the annotations.

    ``predicate_type`` is cosign's unsigned hint (the ``predicateType`` annotation): it may
    spare fetching an envelope of another type, never make one count.
    """

    envelope_digest: str
    envelope_size: int
    certificate: str | None = None
    chain: str | None = None
    bundle: str | None = None
    predicate_type: str | None = None


def attestation_tag(digest: str) -> str:
    """Cosign's attestation tag for a manifest digest: ``sha256-<hex>.att``."""
    return check_digest_syntax(digest).replace(":", "-", 1) + ".att"


def attestation_layers(manifest: ImageManifest) -> tuple[AttestationLayer, ...]:
    """The DSSE envelope layers of an ``.att`` manifest, in manifest order."""
    return tuple(
        AttestationLayer(
            layer.digest,
            layer.size,
            layer.annotations.get(CERTIFICATE_ANNOTATION) or None,
            layer.annotations.get(CHAIN_ANNOTATION) or None,
            layer.annotations.get(BUNDLE_ANNOTATION) or None,
            layer.annotations.get(PREDICATE_TYPE_ANNOTATION) or None,
        )
        for layer in manifest.layers
        if layer.media_type == ENVELOPE_MEDIA_TYPE
    )


def verify_attestation(
    layer: AttestationLayer,
    blob: bytes,
    root: TrustRoot,
    sigstore: Sigstore,
    *,
    require_tlog: bool,
) -> Statement:
    """The statement of ``layer`` (whose verified blob bytes are ``blob``), if it counts for
    ``root``.

    Raises:
        Rejected: why the layer does not count for the root.
    """
    envelope = _envelope(blob)
    if isinstance(root, KeyRoot):
        signature = _signature_by(envelope, root.key, "the key")
        if require_tlog:
            _tlog(layer, sigstore, envelope, signature, root.key.der)
        return _statement(envelope)
    return _verify_keyless(layer, envelope, root, sigstore)


def _verify_keyless(
    layer: AttestationLayer, envelope: Envelope, root: KeylessRoot, sigstore: Sigstore
) -> Statement:
    leaf, key = signing_certificate(layer.certificate, "attestation")
    signature = _signature_by(envelope, key, "the certificate")
    logged_at = _tlog(
        layer, sigstore, envelope, signature, leaf.public_bytes(serialization.Encoding.DER)
    )
    check_certified(leaf, layer.chain, root, sigstore, logged_at)
    return _statement(envelope)


def _envelope(blob: bytes) -> Envelope:
    try:
        return parse_envelope(blob)
    except StatementError as error:
        raise Rejected(Failure.MALFORMED, str(error)) from None


def _statement(envelope: Envelope) -> Statement:
    try:
        return parse_statement(envelope.payload)
    except StatementError as error:
        raise Rejected(Failure.WRONG_TYPE, str(error)) from None


def _signature_by(envelope: Envelope, key: VerificationKey, what: str) -> bytes:
    signature = envelope.signature_by(key)
    if signature is None:
        raise Rejected(Failure.BAD_SIGNATURE, f"the envelope does not verify with {what}")
    return signature


def _tlog(
    layer: AttestationLayer,
    sigstore: Sigstore,
    envelope: Envelope,
    signature: bytes,
    signer_der: bytes,
) -> datetime:
    """Check the layer's Rekor bundle records this envelope; return when it was logged."""
    if sigstore.rekor_key is None:
        raise Rejected(Failure.NO_TLOG_ENTRY, "no Rekor public key is configured")
    if layer.bundle is None:
        raise Rejected(Failure.NO_TLOG_ENTRY, "the attestation carries no Rekor bundle")
    entry, body = verify_logged_entry(layer.bundle, sigstore.rekor_key)
    check_entry_body(body, envelope.payload, signature, signer_der)
    return datetime.fromtimestamp(entry.integrated_time, UTC)


def check_entry_body(body: Any, payload: bytes, signature: bytes, signer_der: bytes) -> None:
    """Check that a logged ``intoto`` (0.0.2) or ``dsse`` (0.0.1) entry records ``payload``
    (by its SHA-256), ``signature`` and the signer ``signer_der`` (certificate or key DER).

    Rekor stores an intoto entry's signature base64-encoded twice (the envelope's base64
    text, encoded again; once is accepted too, both name the same bytes) and the signer as
    base64 PEM; a dsse entry's signature once.

    Raises:
        Rejected: (``bad_tlog_entry``) another kind, payload, signature or signer.
    """
    kind = body.get("kind") if isinstance(body, dict) else None
    spec = body.get("spec") if isinstance(body, dict) else None
    if kind == "intoto" and isinstance(spec, dict):
        content = spec.get("content")
        content = content if isinstance(content, dict) else {}
        payload_hash = content.get("payloadHash")
        envelope = content.get("envelope")
        listed = envelope.get("signatures") if isinstance(envelope, dict) else None
        pairs = [(item.get("sig"), item.get("publicKey")) for item in _objects(listed)]
        signatures = [(_unb64(_unb64_text(sig)), _unb64(key)) for sig, key in pairs]
        signatures += [(_unb64(sig), _unb64(key)) for sig, key in pairs]  # encoded once
    elif kind == "dsse" and isinstance(spec, dict):
        payload_hash = spec.get("payloadHash")
        listed = spec.get("signatures")
        pairs = [(item.get("signature"), item.get("verifier")) for item in _objects(listed)]
        signatures = [(_unb64(sig), _unb64(key)) for sig, key in pairs]
    else:
        raise _bad(f"entry kind {quote(kind)} is not an attestation entry (intoto or dsse)")
    wanted = {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()}
    if not isinstance(payload_hash, dict) or payload_hash != wanted:
        raise _bad("the entry is about another payload (hash mismatch)")
    for logged, signer_pem in signatures:
        if (
            logged == signature
            and signer_pem is not None
            and recorded_signer_der(signer_pem) == signer_der
        ):
            return
    raise _bad("the entry records another signature or signer")


def _objects(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _unb64(value: Any) -> bytes | None:
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def _unb64_text(value: Any) -> str | None:
    decoded = _unb64(value)
    return decoded.decode("ascii", "replace") if decoded is not None else None


def _bad(message: str) -> Rejected:
    return Rejected(Failure.BAD_TLOG_ENTRY, message)
