"""The sigstore-conformance bundles of ``../shared/fixtures/sigstore`` and how to verify them.

kenner's verdict uses the product's own pieces (``kenner.sigstore.tsa`` for timestamps); the
oracle is sigstore-python 4.5.1, a dev dependency.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from kenner.cosign.fulcio import IdentityPolicy
from kenner.sigstore.bundle import parse_bundle
from kenner.sigstore.errors import BundleError
from kenner.sigstore.identity import identity_problem
from kenner.sigstore.trustroot import parse_trusted_root
from kenner.sigstore.tsa import check_timestamp
from kenner.sigstore.verify import sha256_digest, verify_bundle
from tests.shared import ROOT_VARIABLE, fixtures_root


def sigstore_fixtures() -> Path:
    """The ``sigstore/`` fixture folder; skips the calling test when it is absent."""
    path = fixtures_root() / "sigstore"
    if not (path / "cases.json").is_file():
        pytest.skip(
            f"sigstore fixtures not found at {path}: set {ROOT_VARIABLE} to the fixtures root"
        )
    return path


@attrs.frozen
class Case:
    """One conformance case, its files resolved."""

    id: str
    expect_pass: bool
    folder: Path
    artifact: bytes
    trusted_root: Path
    key: Path | None
    identity: str
    issuer: str


def cases() -> list[Case]:
    root = sigstore_fixtures()
    found = []
    for item in json.loads((root / "cases.json").read_text())["cases"]:
        folder = root / "conformance" / item["id"]
        own_root = folder / "trusted_root.json"
        found.append(
            Case(
                id=item["id"],
                expect_pass=item["expect"] == "pass",
                folder=folder,
                artifact=(folder / item["artifact"]).read_bytes(),
                trusted_root=own_root
                if own_root.is_file()
                else root / "trusted-roots" / "production.json",
                key=folder / "key.pub" if item["key"] else None,
                identity=item["identity"],
                issuer=item["issuer"],
            )
        )
    return found


def case_ids() -> list[str]:
    """The case ids, for parametrising (empty when the fixtures are absent)."""
    path = fixtures_root() / "sigstore" / "cases.json"
    if not path.is_file():
        return ["fixtures-absent"]
    return [item["id"] for item in json.loads(path.read_text())["cases"]]


def case(case_id: str) -> Case:
    found = {case.id: case for case in cases()}
    if case_id not in found:
        pytest.skip("sigstore fixtures absent")
    return found[case_id]


def managed_key(case: Case) -> PublicKeyTypes | None:
    if case.key is None:
        return None
    return serialization.load_pem_public_key(case.key.read_bytes())


def kenner_verdict(case: Case) -> str | None:
    """None when kenner verifies the case, else why not."""
    try:
        trusted_root = parse_trusted_root(case.trusted_root.read_bytes())
        bundle = parse_bundle((case.folder / "bundle.sigstore.json").read_bytes())
        verified = verify_bundle(
            bundle,
            trusted_root,
            artifact_digest=sha256_digest(case.artifact),
            key=managed_key(case),
            check_timestamp=check_timestamp,
        )
    except (BundleError, ValueError) as error:
        return str(error)
    if verified.certificate is None:
        return None
    return identity_problem(
        verified.certificate, IdentityPolicy(issuer=case.issuer, subject=case.identity), ()
    )


def oracle_verdict(case: Case) -> str | None:
    """sigstore-python 4.5.1's answer (offline, the case's trusted root, identity policy)."""
    from sigstore.errors import Error
    from sigstore.models import Bundle, TrustedRoot
    from sigstore.verify import Verifier, policy

    try:
        verifier = Verifier(trusted_root=TrustedRoot.from_file(str(case.trusted_root)))
        bundle = Bundle.from_json((case.folder / "bundle.sigstore.json").read_bytes())
        identity = policy.Identity(identity=case.identity, issuer=case.issuer)
        if bundle._inner.dsse_envelope is not None:
            verifier.verify_dsse(bundle, identity)
            statement: Any = json.loads(bundle._inner.dsse_envelope.payload)
            if sha256_digest(case.artifact) not in {
                f"sha256:{subject['digest'].get('sha256')}" for subject in statement["subject"]
            }:
                return "the statement is about another artifact"
        else:
            verifier.verify_artifact(case.artifact, bundle, identity)
    except (Error, ValueError) as error:
        return str(error) or type(error).__name__
    return None
