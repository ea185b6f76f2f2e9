"""Signed checkpoints: the signed-note format (C2SP ``signed-note``, ``tlog-checkpoint``).

A note is text that ends with a newline, a blank line, then one signature line per signer:
``"\u2014 " name " " base64(key hint (4 bytes) || signature) "\n"``. A checkpoint's text is
the log's origin, the tree size (decimal) and the root hash (base64), one per line, maybe
followed by extension lines. Signatures are over the text, final newline included.

A checkpoint counts when a signature whose key hint is the first four bytes of the log's id
(as Rekor v1 and v2 both write it) verifies with the log's key from the trusted root; other
signatures (witness cosignatures, other logs) are ignored, as are lines this verifier does not
know. The checkpoint must then be for the tree of the inclusion proof: same size, same root.
"""

from __future__ import annotations

import base64
import binascii
import re

import attrs
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from kenner.sigstore import keys
from kenner.sigstore.errors import BundleError

MAX_CHECKPOINT_BYTES = 64 * 1024
MAX_SIGNATURES = 64
_SIGNATURE_LINE = re.compile("\u2014 ([^ \n]+) ([A-Za-z0-9+/=]+)")
_SIZE = re.compile("[0-9]{1,20}")


@attrs.frozen
class Checkpoint:
    """A checkpoint's text, parsed; its signatures as (name, key hint, signature)."""

    text: bytes
    origin: str
    size: int
    root_hash: bytes
    signatures: tuple[tuple[str, bytes, bytes], ...]


def parse_checkpoint(envelope: str) -> Checkpoint:
    """Parse a signed checkpoint.

    Raises:
        BundleError: too big, no blank line before the signatures, a malformed text or
            signature line.
    """
    if len(envelope) > MAX_CHECKPOINT_BYTES:
        raise BundleError(f"the checkpoint is longer than {MAX_CHECKPOINT_BYTES} characters")
    text, separator, block = envelope.partition("\n\n")
    if not separator or not block.endswith("\n"):
        raise BundleError("the checkpoint is not a signed note (text, blank line, signatures)")
    lines = text.split("\n")
    if len(lines) < 3 or not lines[0]:
        raise BundleError("the checkpoint text needs an origin, a tree size and a root hash")
    if not _SIZE.fullmatch(lines[1]):
        raise BundleError("the checkpoint's tree size is not a decimal number")
    try:
        root_hash = base64.b64decode(lines[2], validate=True)
    except (binascii.Error, ValueError):
        raise BundleError("the checkpoint's root hash is not base64") from None
    signature_lines = block[:-1].split("\n")
    if len(signature_lines) > MAX_SIGNATURES:
        raise BundleError(f"the checkpoint has more than {MAX_SIGNATURES} signatures")
    signatures = []
    for line in signature_lines:
        match = _SIGNATURE_LINE.fullmatch(line)
        if match is None:
            raise BundleError("a checkpoint signature line is malformed")
        try:
            raw = base64.b64decode(match[2], validate=True)
        except (binascii.Error, ValueError):
            raise BundleError("a checkpoint signature is not base64") from None
        if len(raw) < 5:
            raise BundleError("a checkpoint signature is too short")
        signatures.append((match[1], raw[:4], raw[4:]))
    return Checkpoint(
        text=(text + "\n").encode(),
        origin=lines[0],
        size=int(lines[1]),
        root_hash=root_hash,
        signatures=tuple(signatures),
    )


def verify_checkpoint(
    checkpoint: Checkpoint, log_id: bytes, key: PublicKeyTypes, log_name: str
) -> None:
    """Check that the log ``log_id`` (with ``key``) signed ``checkpoint``.

    Raises:
        BundleError: no signature with the log's key hint, or none of them verifies.
    """
    hint = log_id[:4]
    candidates = [signature for _name, kh, signature in checkpoint.signatures if kh == hint]
    if not candidates:
        raise BundleError(f"the checkpoint carries no signature of the log {log_name}")
    if not any(keys.verify(key, signature, checkpoint.text) for signature in candidates):
        raise BundleError(f"the checkpoint's signature does not verify with the key of {log_name}")
