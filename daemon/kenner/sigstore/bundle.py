"""Parsing a Sigstore bundle (protobuf-specs ``dev.sigstore.bundle.v1.Bundle`` as JSON).

Media types: ``application/vnd.dev.sigstore.bundle+json;version=0.1`` (and 0.2, 0.3) and
``application/vnd.dev.sigstore.bundle.v0.3+json``. Rules, per version as the spec states them:

* content: exactly one of ``messageSignature`` (a signature over an artifact digest) and
  ``dsseEnvelope`` (a DSSE envelope, in practice an in-toto statement);
* verification material: exactly one of ``publicKey`` (a hint naming a key the verifier
  holds), ``x509CertificateChain`` (v0.1/v0.2: the signing certificate first, then
  intermediates) and ``certificate`` (v0.3: the signing certificate alone);
* ``tlogEntries``: the transparency log entries; each names its log id, kind and version,
  carries the canonicalized entry body, and an inclusion promise (SET, Rekor v1) and/or an
  inclusion proof with a signed checkpoint. v0.1 requires the promise; from v0.2 on the proof
  with its checkpoint is required;
* ``timestampVerificationData.rfc3161Timestamps``: RFC 3161 time-stamp tokens over the
  signature.

Everything is bounded: the document's size, the number of entries, timestamps, certificates,
DSSE signatures and proof hashes. Whatever does not fit is a ``BundleError``.
"""

from __future__ import annotations

import json
from typing import Any

import attrs
from cryptography import x509

from kenner.sigstore.errors import BundleError, quoted
from kenner.sigstore.fields import Reader

MEDIA_TYPE_V03 = "application/vnd.dev.sigstore.bundle.v0.3+json"
_VERSIONS = {
    "application/vnd.dev.sigstore.bundle+json;version=0.1": 1,
    "application/vnd.dev.sigstore.bundle+json;version=0.2": 2,
    "application/vnd.dev.sigstore.bundle+json;version=0.3": 3,
    MEDIA_TYPE_V03: 3,
}
MAX_BUNDLE_BYTES = 1024 * 1024
MAX_TLOG_ENTRIES = 4
MAX_TIMESTAMPS = 32  # as sigstore-go and sigstore-python
MAX_CHAIN = 8
MAX_DSSE_SIGNATURES = 8
MAX_PROOF_HASHES = 64  # a log of 2^63 entries needs 63
_MAX_TIME = 253402300799  # 9999-12-31T23:59:59Z, the last second datetime can hold
_r = Reader(BundleError)


@attrs.frozen
class MessageSignature:
    """A signature over an artifact's digest; the digest is optional in the bundle."""

    signature: bytes
    digest_algorithm: str | None
    digest: bytes | None


@attrs.frozen
class DsseSignature:
    """One signature of a DSSE envelope."""

    sig: bytes
    keyid: str


@attrs.frozen
class DsseEnvelope:
    """A DSSE envelope: the signatures are over PAE(payloadType, payload)."""

    payload: bytes
    payload_type: str
    signatures: tuple[DsseSignature, ...]


@attrs.frozen
class InclusionProof:
    """A Merkle inclusion proof of an entry, with the checkpoint that signs its root."""

    log_index: int
    root_hash: bytes
    tree_size: int
    hashes: tuple[bytes, ...]
    checkpoint: str | None


@attrs.frozen
class TlogEntry:
    """One transparency log entry of the bundle."""

    log_index: int
    log_id: bytes
    kind: str
    version: str
    integrated_time: int | None
    inclusion_promise: bytes | None  # the SET
    inclusion_proof: InclusionProof | None
    body: bytes  # the canonicalized entry body


@attrs.frozen
class Bundle:
    """A parsed bundle; nothing in it is verified yet."""

    version: int  # the minor version: 1, 2 or 3
    content: MessageSignature | DsseEnvelope
    certificate: x509.Certificate | None  # the signing certificate (keyless)
    chain: tuple[x509.Certificate, ...]  # intermediates shipped in a v0.1/v0.2 chain
    key_hint: str | None  # a publicKey bundle: the hint (may be empty)
    tlog_entries: tuple[TlogEntry, ...]
    timestamps: tuple[bytes, ...]  # DER RFC 3161 time-stamp tokens

    @property
    def signature(self) -> bytes:
        """The signature that timestamps cover: the message's, or the envelope's (first)."""
        if isinstance(self.content, MessageSignature):
            return self.content.signature
        return self.content.signatures[0].sig


def parse_bundle(data: bytes | str) -> Bundle:
    """Parse a bundle's JSON.

    Raises:
        BundleError: too big, not JSON, an unknown media type, or a malformed part.
    """
    if len(data) > MAX_BUNDLE_BYTES:
        raise BundleError(f"the bundle has {len(data)} bytes, more than {MAX_BUNDLE_BYTES}")
    try:
        document = json.loads(data)
    except (ValueError, RecursionError):
        raise BundleError("the bundle is not JSON") from None
    if not isinstance(document, dict):
        raise BundleError("the bundle is not a JSON object")
    media_type = document.get("mediaType")
    version = _VERSIONS.get(media_type) if isinstance(media_type, str) else None
    if version is None:
        raise BundleError(f"the bundle's mediaType {quoted(media_type)} is not supported")
    material = _r.obj(document, "verificationMaterial", "bundle")
    certificate, chain, key_hint = _material(material, version)
    entries = tuple(
        _tlog_entry(item, f"tlogEntries[{i}]", version)
        for i, item in enumerate(_r.array(material, "tlogEntries", "", MAX_TLOG_ENTRIES))
    )
    return Bundle(
        version=version,
        content=_content(document),
        certificate=certificate,
        chain=chain,
        key_hint=key_hint,
        tlog_entries=entries,
        timestamps=_timestamps(material),
    )


def _content(document: dict[str, Any]) -> MessageSignature | DsseEnvelope:
    message = _r.opt_obj(document, "messageSignature", "bundle")
    envelope = _r.opt_obj(document, "dsseEnvelope", "bundle")
    if (message is None) == (envelope is None):
        raise BundleError("the bundle needs exactly one of messageSignature and dsseEnvelope")
    if message is not None:
        digest = _r.opt_obj(message, "messageDigest", "messageSignature")
        return MessageSignature(
            signature=_r.raw(message, "signature", "messageSignature"),
            digest_algorithm=None
            if digest is None
            else _r.text(digest, "algorithm", "messageSignature.messageDigest"),
            digest=None if digest is None else _r.raw(digest, "digest", "messageDigest"),
        )
    assert envelope is not None
    items = _r.array(envelope, "signatures", "dsseEnvelope", MAX_DSSE_SIGNATURES)
    signatures = []
    for i, item in enumerate(items):
        where = f"dsseEnvelope.signatures[{i}]"
        if not isinstance(item, dict):
            raise BundleError(f"{where} is not an object")
        signatures.append(
            DsseSignature(_r.raw(item, "sig", where), _r.opt_text(item, "keyid", where) or "")
        )
    if not signatures:
        raise BundleError("dsseEnvelope has no signature")
    return DsseEnvelope(
        payload=_r.raw(envelope, "payload", "dsseEnvelope"),
        payload_type=_r.text(envelope, "payloadType", "dsseEnvelope"),
        signatures=tuple(signatures),
    )


def _material(
    material: dict[str, Any], version: int
) -> tuple[x509.Certificate | None, tuple[x509.Certificate, ...], str | None]:
    where = "verificationMaterial"
    public_key = _r.opt_obj(material, "publicKey", where)
    chain = _r.opt_obj(material, "x509CertificateChain", where)
    single = _r.opt_obj(material, "certificate", where)
    given = [name for name, part in (("publicKey", public_key), ("x509CertificateChain", chain),
                                     ("certificate", single)) if part is not None]  # fmt: skip
    if len(given) != 1:
        raise BundleError(
            f"{where} needs exactly one of publicKey, x509CertificateChain and certificate"
        )
    if public_key is not None:
        return None, (), _r.opt_text(public_key, "hint", f"{where}.publicKey") or ""
    if single is not None:
        if version < 3:
            raise BundleError(f"{where}.certificate needs bundle version 0.3")
        return _certificate(single, f"{where}.certificate"), (), None
    assert chain is not None
    if version >= 3:
        raise BundleError(f"{where}.x509CertificateChain is not allowed in bundle version 0.3")
    items = _r.array(chain, "certificates", f"{where}.x509CertificateChain", MAX_CHAIN)
    if not items:
        raise BundleError(f"{where}.x509CertificateChain has no certificate")
    certificates = tuple(
        _certificate(item, f"{where}.x509CertificateChain.certificates[{i}]")
        for i, item in enumerate(items)
    )
    return certificates[0], certificates[1:], None


def _certificate(item: Any, where: str) -> x509.Certificate:
    if not isinstance(item, dict):
        raise BundleError(f"{where} is not an object")
    try:
        return x509.load_der_x509_certificate(_r.raw(item, "rawBytes", where))
    except ValueError:
        raise BundleError(f"{where} is not a DER certificate") from None


def _tlog_entry(item: Any, where: str, version: int) -> TlogEntry:
    if not isinstance(item, dict):
        raise BundleError(f"{where} is not an object")
    kind_version = _r.obj(item, "kindVersion", where)
    promise = _r.opt_obj(item, "inclusionPromise", where)
    proof = _r.opt_obj(item, "inclusionProof", where)
    entry = TlogEntry(
        log_index=_r.integer(item, "logIndex", where),
        log_id=_r.raw(_r.obj(item, "logId", where), "keyId", f"{where}.logId"),
        kind=_r.text(kind_version, "kind", f"{where}.kindVersion"),
        version=_r.text(kind_version, "version", f"{where}.kindVersion"),
        integrated_time=_r.opt_integer(item, "integratedTime", where) or None,
        inclusion_promise=None
        if promise is None
        else _r.raw(promise, "signedEntryTimestamp", f"{where}.inclusionPromise"),
        inclusion_proof=None if proof is None else _proof(proof, f"{where}.inclusionProof"),
        body=_r.raw(item, "canonicalizedBody", where),
    )
    if entry.integrated_time is not None and entry.integrated_time > _MAX_TIME:
        raise BundleError(f"{where}.integratedTime is after the year 9999")
    if version == 1 and entry.inclusion_promise is None:
        raise BundleError(f"{where} has no inclusion promise, which bundle version 0.1 requires")
    if version >= 2 and (entry.inclusion_proof is None or entry.inclusion_proof.checkpoint is None):
        raise BundleError(
            f"{where} has no inclusion proof with a checkpoint, which bundle version 0.{version} "
            "requires"
        )
    return entry


def _proof(proof: dict[str, Any], where: str) -> InclusionProof:
    checkpoint = _r.opt_obj(proof, "checkpoint", where)
    hashes = _r.array(proof, "hashes", where, MAX_PROOF_HASHES)
    if not all(isinstance(value, str) for value in hashes):
        raise BundleError(f"{where}.hashes holds a non-string")
    return InclusionProof(
        log_index=_r.integer(proof, "logIndex", where),
        root_hash=_r.raw(proof, "rootHash", where),
        tree_size=_r.integer(proof, "treeSize", where),
        hashes=tuple(_r.decode(value, f"{where}.hashes") for value in hashes),
        checkpoint=None
        if checkpoint is None
        else _r.opt_text(checkpoint, "envelope", f"{where}.checkpoint"),
    )


def _timestamps(material: dict[str, Any]) -> tuple[bytes, ...]:
    data = _r.opt_obj(material, "timestampVerificationData", "verificationMaterial")
    if data is None:
        return ()
    items = _r.array(data, "rfc3161Timestamps", "timestampVerificationData", MAX_TIMESTAMPS)
    tokens = []
    for i, item in enumerate(items):
        where = f"timestampVerificationData.rfc3161Timestamps[{i}]"
        tokens.append(_r.raw(item if isinstance(item, dict) else {}, "signedTimestamp", where))
    if len(set(tokens)) != len(tokens):
        raise BundleError("timestampVerificationData holds the same timestamp twice")
    return tuple(tokens)
