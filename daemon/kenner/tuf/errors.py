"""Typed denials of Notary v1 trust data.

Every reason kenner refuses trust data for is a :class:`TrustError` carrying a machine-readable
:class:`Reason`, the TUF role the problem was found in, and a sentence naming the role and the
cause. :class:`RootRotationNeeded` is not a denial: it asks the fetcher for the versioned roots.
"""

from __future__ import annotations

from enum import StrEnum

import attrs

from kenner.errors import KennerError


class Reason(StrEnum):
    """Why trust data was refused (stable codes for metrics, logs and admission messages)."""

    NO_TRUST_DATA = "no_trust_data"
    ROOT_KEY_MISMATCH = "root_key_mismatch"
    BAD_SIGNATURE = "bad_signature"
    THRESHOLD_NOT_MET = "threshold_not_met"
    EXPIRED = "expired"
    HASH_MISMATCH = "hash_mismatch"
    LENGTH_MISMATCH = "length_mismatch"
    TAG_NOT_SIGNED = "tag_not_signed"
    DIGEST_NOT_SIGNED = "digest_not_signed"
    DELEGATION_NOT_SIGNED = "delegation_not_signed"
    AMBIGUOUS_DIGEST = "ambiguous_digest"
    ROLLBACK = "rollback"
    MALFORMED = "malformed"


@attrs.frozen(str=False)
class TrustError(KennerError):
    """Trust data does not establish a signed digest.

    Attributes:
        reason: the denial class.
        role: the TUF role concerned (``root``, ``targets/releases``, ...).
        message: a sentence naming the role and the reason, fit for an admission response.
    """

    reason: Reason
    role: str
    message: str

    def __str__(self) -> str:
        return f"{self.reason}: {self.message}"


@attrs.frozen(str=False)
class RootRotationNeeded(KennerError):
    """The pinned key does not sign the current root.json: the root chain must be walked.

    The fetcher answers by fetching ``1.root.json`` .. ``<current_version - 1>.root.json`` (404s
    may be left out) and calling ``verify_repository`` again with ``rotation_roots``.
    """

    current_version: int

    def __str__(self) -> str:
        return (
            f"root.json version {self.current_version} is not signed by the pinned root key; "
            "versioned roots are needed to follow the root rotation chain"
        )
