"""DSSE (Dead Simple Signing Envelope) pre-authentication encoding and in-toto statements.

PAE per the DSSE v1 protocol: ``"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body``, where
LEN is the byte length in ASCII decimal with no leading zeros and SP one space. Signers sign
PAE(payloadType, payload), never the payload alone, so a payload cannot be replayed under
another type.

An in-toto statement (payload type ``application/vnd.in-toto+json``, ``_type``
``https://in-toto.io/Statement/v0.1`` or ``/v1``) names what it is about in ``subject``: a
list of ``{name, digest: {algorithm: hex}}``. A statement is about an artifact when one of its
subjects has the artifact's SHA-256 digest.
"""

from __future__ import annotations

import json
from typing import Any

from kenner.sigstore.errors import BundleError, quoted

IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPES = frozenset(
    {"https://in-toto.io/Statement/v0.1", "https://in-toto.io/Statement/v1"}
)
MAX_SUBJECTS = 1024


def pae(payload_type: str, payload: bytes) -> bytes:
    """The pre-authentication encoding that DSSE signatures sign."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def parse_statement(payload_type: str, payload: bytes) -> dict[str, Any]:
    """The in-toto statement of a DSSE payload.

    Raises:
        BundleError: another payload type, not JSON, or not a statement.
    """
    if payload_type != IN_TOTO_PAYLOAD_TYPE:
        raise BundleError(f"the DSSE payload type {quoted(payload_type)} is not in-toto")
    try:
        statement = json.loads(payload)
    except (ValueError, RecursionError):
        raise BundleError("the in-toto statement is not JSON") from None
    if not isinstance(statement, dict) or statement.get("_type") not in STATEMENT_TYPES:
        raise BundleError("the DSSE payload is not an in-toto statement")
    return statement


def subject_digests(statement: dict[str, Any]) -> frozenset[str]:
    """The statement's subjects' SHA-256 digests, as ``sha256:<hex>``.

    Raises:
        BundleError: ``subject`` is not a list of objects with a ``digest`` object.
    """
    subjects = statement.get("subject")
    if not isinstance(subjects, list) or not subjects or len(subjects) > MAX_SUBJECTS:
        raise BundleError(f"the in-toto statement needs 1 to {MAX_SUBJECTS} subjects")
    digests = set()
    for subject in subjects:
        digest = subject.get("digest") if isinstance(subject, dict) else None
        if not isinstance(digest, dict):
            raise BundleError("an in-toto subject has no digest object")
        value = digest.get("sha256")
        if isinstance(value, str):
            digests.add(f"sha256:{value.lower()}")
    return frozenset(digests)
