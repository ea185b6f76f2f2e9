"""Typed values the harness hands to tests: one expected admission outcome per case."""

from __future__ import annotations

from typing import Literal

import attrs

Verdict = Literal["allow", "deny"]
#: Why a case is allowed or denied (the reference policy of docs/testing.md).
Reason = Literal[
    "signed",
    "no_trust_data",
    "root_key_mismatch",
    "tag_not_signed",
    "digest_not_signed",
    "delegation_not_signed",
    "ambiguous_digest",
]

#: The root key an admission controller is configured with unless a case says otherwise.
TRUSTED_ROOT = "root-main"


@attrs.frozen
class Case:
    """One image reference under one policy, with the outcome known from how it was built.

    Attributes:
        id: ``<scenario>/<reference name>/<policy>``, stable across runs (see ``CASE_IDS``).
        scenario: Scenario (repository) name, e.g. ``delegated``.
        gun: Notary GUN, ``<registry host:port>/kenner-test/<scenario>``.
        image: The image reference a pod would use (``host:port/repo:tag`` or ``...@sha256:...``).
        root_key: Label of the pinned root key (``root-main``, ``root-other``, ``root-rotated``).
        root_key_pem: That root key's public key (SubjectPublicKeyInfo PEM).
        required_delegations: Roles (with ``targets/`` prefix) that must all have signed.
        verdict: ``allow`` or ``deny``.
        reason: Reason code, ``signed`` for every allow.
        digest: For allow, the signed digest the pod must be pinned to; None for deny.
        registry_digest: What the registry serves for ``image`` right now (differs from
            ``digest`` for a moved tag).
    """

    id: str
    scenario: str
    gun: str
    image: str
    root_key: str
    root_key_pem: str
    required_delegations: tuple[str, ...]
    verdict: Verdict
    reason: Reason
    digest: str | None
    registry_digest: str
