"""The ``intoto`` 0.0.2 Rekor v1 entry: how cosign v2 ``attest`` logs a DSSE envelope.

Rekor canonicalizes the entry it is given to (``spec.content``):

* ``envelope.payloadType``: the envelope's payload type;
* ``envelope.payload``: the payload, encoded like ``sig`` (base64 of the envelope's base64
  text); entries of the public Rekor carry it, Rekor's current canonical form leaves it out;
* ``envelope.signatures``: one ``{keyid?, sig, publicKey}`` per envelope signature, where
  ``sig`` is the envelope's base64 signature text base64-encoded once more (so the raw
  signature is two base64 decodings away) and ``publicKey`` is the base64 of the PEM of the
  certificate or public key that verifies it;
* ``payloadHash``: ``{algorithm: sha256, value: hex}`` of the (decoded) payload;
* ``hash``: the SHA-256 of the envelope JSON as submitted.

For the entry to be about a bundle's envelope, the payload type and payload hash (and the
payload, when logged) must be the envelope's, the logged signatures must be exactly the
envelope's (same count, same bytes; none extra, none missing) and every one must name the
bundle's signer. ``hash`` is only checked for form: an envelope's JSON has no canonical
form, so the bytes Rekor hashed cannot be rebuilt from the bundle (sigstore-go does not
compare it either); the payload hash and the signatures pin everything that was signed.
``keyid`` is a hint and must only be a string. Anything else (a signature or payload encoded
once, a missing or mistyped field) is refused naming the field.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from kenner.cosign.rekor import recorded_signer_der
from kenner.sigstore.bundle import DsseEnvelope
from kenner.sigstore.errors import BundleError, quoted
from kenner.sigstore.fields import Reader

_r = Reader(BundleError)
_WHERE = "spec.content"
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_BASE64_TEXT = re.compile(rb"[A-Za-z0-9+/_-]+={0,2}")


def check_intoto_v2(spec: Any, envelope: DsseEnvelope, signer_der: bytes) -> None:
    """Check that the ``spec`` of an ``intoto`` 0.0.2 body records ``envelope`` signed by
    ``signer_der`` (the certificate's DER, or the key's SPKI DER for a key).

    Raises:
        BundleError: the body is malformed or about another payload, signature or signer.
    """
    content = _r.obj(spec, "content", "spec")
    logged = _r.obj(content, "envelope", _WHERE)
    where = f"{_WHERE}.envelope"
    if logged.get("payload") is not None and _twice_decoded(logged, "payload", where) != (
        envelope.payload
    ):
        raise BundleError(f"{where}.payload is not the envelope's payload")
    if _r.text(logged, "payloadType", where) != envelope.payload_type:
        raise BundleError(f"{where}.payloadType is not the envelope's payload type")
    if _sha256(content, "payloadHash") != hashlib.sha256(envelope.payload).hexdigest():
        raise BundleError(f"{_WHERE}.payloadHash is not the hash of the envelope's payload")
    _sha256(content, "hash")  # of the submitted envelope JSON, which cannot be rebuilt
    items = _r.array(logged, "signatures", where, len(envelope.signatures))
    if len(items) != len(envelope.signatures):
        raise BundleError(
            f"{where}.signatures has {len(items)} items, the envelope "
            f"{len(envelope.signatures)} signatures"
        )
    recorded = []
    for i, item in enumerate(items):
        path = f"{where}.signatures[{i}]"
        if not isinstance(item, dict):
            raise BundleError(f"{path} is not an object")
        _r.opt_text(item, "keyid", path)  # a hint: only its type is checked
        der = recorded_signer_der(_r.raw(item, "publicKey", path))
        if der != signer_der:
            raise BundleError(f"{path}.publicKey is not the bundle's signer")
        recorded.append(_twice_decoded(item, "sig", path))
    if sorted(recorded) != sorted(signature.sig for signature in envelope.signatures):
        raise BundleError(f"{where}.signatures are not the envelope's signatures")


def _sha256(content: dict[str, Any], key: str) -> str:
    """The hex of a ``{algorithm: sha256, value: <hex>}`` field of ``content``."""
    hashed = _r.obj(content, key, _WHERE)
    path = f"{_WHERE}.{key}"
    algorithm = _r.text(hashed, "algorithm", path)
    if algorithm != "sha256":
        raise BundleError(f"{path}.algorithm {quoted(algorithm)} is not sha256")
    value = _r.text(hashed, "value", path)
    if not _SHA256_HEX.fullmatch(value):
        raise BundleError(f"{path}.value {quoted(value)} is not a lowercase SHA-256 hex digest")
    return value


def _twice_decoded(document: dict[str, Any], key: str, path: str) -> bytes:
    """The raw bytes of a logged ``sig`` or ``payload``: base64 of the envelope's base64."""
    text = _r.raw(document, key, path)
    if not _BASE64_TEXT.fullmatch(text):
        raise BundleError(f"{path}.{key} does not hold base64 text (Rekor encodes it twice)")
    return _r.decode(text.decode("ascii"), f"{path}.{key}")
