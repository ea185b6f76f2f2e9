"""Transparency log entries of a bundle: in the log, and about this very signature.

An entry is in the log when its log id names a log of the trusted root and either

* its inclusion promise (SET, Rekor v1) verifies with the log's key: a signature over the
  canonical JSON (RFC 8785) of ``{body, integratedTime, logID (hex), logIndex}``; this also
  proves ``integratedTime``; or
* its inclusion proof leads from the entry body's leaf hash to a root hash that a checkpoint
  signed by the log commits to (``kenner.sigstore.merkle``, ``kenner.sigstore.checkpoint``).

Both are checked when both are there. The body must describe exactly the bundle's content
and signer (else a valid entry of someone else's signature could be replayed):

* ``hashedrekord`` 0.0.1: the artifact's SHA-256, the signature, the signer's PEM;
* ``dsse`` 0.0.1: the payload's SHA-256 and the envelope's signatures with the signer's PEM
  (the envelope hash is not checked: the envelope JSON has no canonical form);
* ``hashedrekord`` 0.0.2 (Rekor v2): digest and algorithm of the artifact, or of the DSSE PAE
  for an envelope, the signature and the signer's DER;
* ``dsse`` 0.0.2 (Rekor v2): the payload's digest and the envelope's signatures;
* ``intoto`` 0.0.2 (cosign v2 ``attest``): the payload type, the payload's SHA-256, the
  envelope's signatures (encoded twice) with the signer's PEM (``kenner.sigstore.intoto``).

Other kinds (``rekord``, ``intoto`` 0.0.1, ...) are refused.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import attrs

from kenner.cosign.rekor import recorded_signer_der
from kenner.sigstore import keys
from kenner.sigstore.bundle import DsseEnvelope, MessageSignature, TlogEntry
from kenner.sigstore.checkpoint import parse_checkpoint, verify_checkpoint
from kenner.sigstore.dsse import pae
from kenner.sigstore.errors import BundleError, quoted
from kenner.sigstore.fields import Reader
from kenner.sigstore.intoto import check_intoto_v2
from kenner.sigstore.merkle import verify_inclusion
from kenner.sigstore.trustroot import LogKey, TrustedRoot

_r = Reader(BundleError)
_HASHES = {"SHA2_256": hashlib.sha256, "SHA2_384": hashlib.sha384, "SHA2_512": hashlib.sha512}


@attrs.frozen
class Signer:
    """Who signed, as log entries record it: a certificate's DER or a key's SPKI DER."""

    der: bytes
    is_certificate: bool


@attrs.frozen
class VerifiedEntry:
    """A verified entry: its log and the integration time its SET proves (if any)."""

    log: LogKey
    integrated_time: int | None


def verify_entry(
    entry: TlogEntry,
    trusted_root: TrustedRoot,
    content: MessageSignature | DsseEnvelope,
    signer: Signer,
    artifact_sha256: bytes | None,
) -> VerifiedEntry:
    """Check that ``entry`` is in a trusted log and records ``content`` by ``signer``.

    ``artifact_sha256`` is the signed artifact's digest (message signatures only).

    Raises:
        BundleError: an unknown log, no verifying promise or proof, or another entry.
    """
    log = trusted_root.tlog(entry.log_id)
    if log is None:
        shown = entry.log_id.hex()[:64]  # a SHA-256 log id; anything longer is cut
        raise BundleError(f"logged by a log the trusted root does not know ({shown})")
    proven = False
    proof = entry.inclusion_proof
    if proof is not None and proof.checkpoint is not None:
        verify_inclusion(
            proof.log_index, proof.tree_size, entry.body, proof.hashes, proof.root_hash
        )
        checkpoint = parse_checkpoint(proof.checkpoint)
        verify_checkpoint(checkpoint, log)
        if checkpoint.size != proof.tree_size or checkpoint.root_hash != proof.root_hash:
            raise BundleError("the checkpoint is for another tree than the inclusion proof")
        proven = True
    integrated_time = None
    if entry.inclusion_promise is not None and entry.integrated_time is not None:
        _verify_set(entry, log)
        integrated_time = entry.integrated_time
        proven = True
    if not proven:
        raise BundleError("the log entry has neither an inclusion proof nor a promise")
    _check_body(entry, content, signer, artifact_sha256)
    return VerifiedEntry(log, integrated_time)


def _verify_set(entry: TlogEntry, log: LogKey) -> None:
    canonical = json.dumps(
        {
            "body": base64.b64encode(entry.body).decode(),
            "integratedTime": entry.integrated_time,
            "logID": entry.log_id.hex(),
            "logIndex": entry.log_index,
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode()
    assert entry.inclusion_promise is not None
    if not keys.verify(log.key, entry.inclusion_promise, canonical):
        raise BundleError(f"the inclusion promise does not verify with the key of {log.name}")


def _check_body(
    entry: TlogEntry,
    content: MessageSignature | DsseEnvelope,
    signer: Signer,
    artifact_sha256: bytes | None,
) -> None:
    try:
        body = json.loads(entry.body)
    except (ValueError, RecursionError):
        raise BundleError("the log entry body is not JSON") from None
    if not isinstance(body, dict):
        raise BundleError("the log entry body is not a JSON object")
    kind, version = body.get("kind"), body.get("apiVersion")
    if (kind, version) != (entry.kind, entry.version):
        raise BundleError("the log entry body's kind or version is not the entry's")
    spec = _r.obj(body, "spec", "body")
    if isinstance(content, MessageSignature):
        assert artifact_sha256 is not None
        if (kind, version) == ("hashedrekord", "0.0.1"):
            return _hashedrekord_v1(spec, content.signature, artifact_sha256, signer)
        if (kind, version) == ("hashedrekord", "0.0.2"):
            data = _r.obj(spec, "hashedRekordV002", "spec")
            hashed = _r.obj(data, "data", "hashedRekordV002")
            if (_r.text(hashed, "algorithm", "data"), _r.raw(hashed, "digest", "data")) != (
                "SHA2_256",
                artifact_sha256,
            ):
                raise BundleError("the log entry is about another artifact")
            return _v2_signature(data, content.signature, signer)
    else:
        if (kind, version) == ("dsse", "0.0.1"):
            return _dsse_v1(spec, content, signer)
        if (kind, version) == ("hashedrekord", "0.0.2"):
            data = _r.obj(spec, "hashedRekordV002", "spec")
            if len(content.signatures) != 1:
                raise BundleError("a DSSE envelope logged as hashedrekord has one signature")
            _digest_of(
                _r.obj(data, "data", "hashedRekordV002"), pae(content.payload_type, content.payload)
            )
            return _v2_signature(data, content.signatures[0].sig, signer)
        if (kind, version) == ("dsse", "0.0.2"):
            return _dsse_v2(_r.obj(spec, "dsseV002", "spec"), content, signer)
        if (kind, version) == ("intoto", "0.0.2"):
            return check_intoto_v2(spec, content, signer.der)
    raise BundleError(f"log entries of kind {quoted(kind)} {quoted(version)} are not supported")


def _hashedrekord_v1(
    spec: dict[str, Any], signature: bytes, artifact_sha256: bytes, signer: Signer
) -> None:
    hashed = _r.obj(_r.obj(spec, "data", "spec"), "hash", "spec.data")
    if (_r.text(hashed, "algorithm", "hash"), _r.text(hashed, "value", "hash")) != (
        "sha256",
        artifact_sha256.hex(),
    ):
        raise BundleError("the log entry is about another artifact")
    logged = _r.obj(spec, "signature", "spec")
    if _r.raw(logged, "content", "spec.signature") != signature:
        raise BundleError("the log entry records another signature")
    pem = _r.raw(_r.obj(logged, "publicKey", "spec.signature"), "content", "publicKey")
    if _pem_der(pem) != signer.der:
        raise BundleError("the log entry records another signer")


def _dsse_v1(spec: dict[str, Any], envelope: DsseEnvelope, signer: Signer) -> None:
    hashed = _r.obj(spec, "payloadHash", "spec")
    if (_r.text(hashed, "algorithm", "payloadHash"), _r.text(hashed, "value", "payloadHash")) != (
        "sha256",
        hashlib.sha256(envelope.payload).hexdigest(),
    ):
        raise BundleError("the log entry is about another DSSE payload")
    logged = []
    for item in _r.array(spec, "signatures", "spec", len(envelope.signatures)):
        item = item if isinstance(item, dict) else {}
        logged.append(
            (
                _r.raw(item, "signature", "spec.signatures"),
                _pem_der(_r.raw(item, "verifier", "spec.signatures")),
            )
        )
    expected = [(signature.sig, signer.der) for signature in envelope.signatures]
    if sorted(logged) != sorted(expected):
        raise BundleError("the log entry records other DSSE signatures or another signer")


def _dsse_v2(spec: dict[str, Any], envelope: DsseEnvelope, signer: Signer) -> None:
    _digest_of(_r.obj(spec, "payloadHash", "dsseV002"), envelope.payload)
    logged = []
    for item in _r.array(spec, "signatures", "dsseV002", len(envelope.signatures)):
        item = item if isinstance(item, dict) else {}
        logged.append(
            (
                _r.raw(item, "content", "dsseV002.signatures"),
                _v2_verifier(_r.obj(item, "verifier", "dsseV002.signatures"), signer),
            )
        )
    expected = [(signature.sig, True) for signature in envelope.signatures]
    if sorted(logged) != sorted(expected):
        raise BundleError("the log entry records other DSSE signatures or another signer")


def _digest_of(data: dict[str, Any], message: bytes) -> None:
    """Check that ``data`` (``{algorithm, digest}``) is the digest of ``message``."""
    algorithm = _r.text(data, "algorithm", "data")
    function = _HASHES.get(algorithm)
    if function is None:
        raise BundleError(f"the log entry's hash algorithm {quoted(algorithm)} is not supported")
    digest = function(message).digest()
    if _r.raw(data, "digest", "data") != digest:
        raise BundleError("the log entry is about another artifact")


def _v2_signature(data: dict[str, Any], signature: bytes, signer: Signer) -> None:
    logged = _r.obj(data, "signature", "hashedRekordV002")
    if _r.raw(logged, "content", "signature") != signature:
        raise BundleError("the log entry records another signature")
    if not _v2_verifier(_r.obj(logged, "verifier", "signature"), signer):
        raise BundleError("the log entry records another signer")


def _v2_verifier(verifier: dict[str, Any], signer: Signer) -> bool:
    if signer.is_certificate:
        part = _r.opt_obj(verifier, "x509Certificate", "verifier")
    else:
        part = _r.opt_obj(verifier, "publicKey", "verifier")
    return part is not None and _r.raw(part, "rawBytes", "verifier") == signer.der


def _pem_der(pem: bytes) -> bytes:
    der = recorded_signer_der(pem)
    if der is None:
        raise BundleError("the log entry's signer is neither a PEM certificate nor key")
    return der
