"""Signed checkpoints: the signed-note format (C2SP ``signed-note``, ``tlog-checkpoint``).

A note is text that ends with a newline, a blank line, then one signature line per signer:
``"\u2014 " name " " base64(key hint (4 bytes) || signature) "\n"``. A checkpoint's text is
the log's origin, the tree size (decimal) and the root hash (base64), one per line, maybe
followed by extension lines. Signatures are over the text, final newline included.

A checkpoint counts when it names the log and the log signed it:

* **Origin.** The origin carries the log's name: the whole origin (C2SP ``tlog-checkpoint``,
  Rekor v2: the host, as sigstore-go requires of a Rekor v2 log's ``baseUrl``) or the part
  before ``" - <tree id>"`` (Rekor v1 writes ``"<host> - <tree id>"``). When the trusted root
  gives the log's base URL, that name must be one it allows (``LogKey.checkpoint_names``, case
  insensitive). sigstore-go checks this for Rekor v2 checkpoints only and sigstore-python not
  at all; the tree id of a Rekor v1 origin is in no trusted root, so it is not compared.
* **Signature.** A signature is the log's when its key name is the origin's log name and its
  key id the first four bytes of the log id (``signed-note``: a key is the pair of name and
  id; Rekor v1 and v2 both write them so). Every such signature must verify with the log's
  key, and there must be one (the spec says a note with a failing known signature SHOULD be
  rejected; sigstore-go and sigstore-python reject it). Other signatures (witness
  cosignatures, other logs, the same name with another key) are ignored, as are lines this
  verifier does not know.

The checkpoint must then be for the tree of the inclusion proof: same size, same root.
"""

from __future__ import annotations

import base64
import binascii
import re

import attrs

from kenner.sigstore import keys
from kenner.sigstore.errors import BundleError, quoted
from kenner.sigstore.trustroot import LogKey

MAX_CHECKPOINT_BYTES = 64 * 1024
MAX_SIGNATURES = 64
_SIGNATURE_LINE = re.compile("\u2014 ([^ \n]+) ([A-Za-z0-9+/=]+)")
_SIZE = re.compile("[0-9]{1,20}")
_REKOR_V1_ORIGIN = re.compile("(.+) - [0-9]{1,20}")


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


def log_name(origin: str) -> str:
    """The log name an origin carries: the host of a Rekor v1 origin, else the origin."""
    match = _REKOR_V1_ORIGIN.fullmatch(origin)
    return origin if match is None else match[1]


def verify_checkpoint(checkpoint: Checkpoint, log: LogKey) -> None:
    """Check that ``checkpoint`` names the log ``log`` and that the log signed it.

    Raises:
        BundleError: the origin names another log, no signature has the log's key name and
            id, or one of those does not verify.
    """
    name = log_name(checkpoint.origin)
    allowed = log.checkpoint_names
    if allowed and name.lower() not in allowed:
        raise BundleError(
            f"checkpoint origin check: {quoted(checkpoint.origin[:80])} does not name the log "
            f"{log.name[:100]} ({allowed[0][:80]!r})"
        )
    hint = log.log_id[:4]
    by_key = [(key_name, sig) for key_name, kh, sig in checkpoint.signatures if kh == hint]
    if not by_key:
        raise BundleError(f"the checkpoint carries no signature of the log {log.name}")
    ours = [sig for key_name, sig in by_key if key_name == name]
    if not ours:
        raise BundleError(
            f"checkpoint key name check: the signature of the log {log.name} is under the "
            f"name {quoted(by_key[0][0][:80])}, not the origin's {quoted(name[:80])}"
        )
    if not all(keys.verify(log.key, signature, checkpoint.text) for signature in ours):
        raise BundleError(f"the checkpoint's signature does not verify with the key of {log.name}")
