"""Real Fulcio leaves of the public Sigstore instances against the library-backed chain check.

The leaves come from the Sigstore conformance bundles in ``../shared/fixtures/sigstore``
(found beside the Connaisseur fixtures, so ``$KENNER_SHARED_FIXTURES`` moves both). The
anchors are the roots of a trusted root's Fulcio CAs, and the intermediates the rest of their
chains, as cosign ships them in the chain annotation; the time is the Rekor integrated time.
These leaves carry what the Web PKI profile does not: a code-signing EKU, a critical SAN with
an e-mail or URI and no subject, and Fulcio's private extensions.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from kenner.cosign.errors import Failure, Rejected
from kenner.cosign.fulcio import identity_of, verify_chain
from tests.shared import connaisseur_fixtures

BEACON = (
    "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
    ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
)


def _sigstore() -> Path:
    path = connaisseur_fixtures().parent / "sigstore"
    if not (path / "MANIFEST.md").is_file():
        pytest.skip(f"Sigstore fixtures not found at {path} (../shared is absent)")
    return path


def _der(text: str) -> x509.Certificate:
    return x509.load_der_x509_certificate(base64.b64decode(text))


def _trust(root: str) -> tuple[list[x509.Certificate], list[x509.Certificate]]:
    """The anchors (each CA chain's last certificate) and the intermediates of ``root``."""
    document: dict[str, Any] = json.loads((_sigstore() / root).read_text())
    anchors, intermediates = [], []
    for authority in document["certificateAuthorities"]:
        *chain, anchor = [_der(c["rawBytes"]) for c in authority["certChain"]["certificates"]]
        anchors.append(anchor)
        intermediates += chain
    return anchors, intermediates


def _leaf_and_time(case: str) -> tuple[x509.Certificate, datetime]:
    bundle = json.loads((_sigstore() / "conformance" / case / "bundle.sigstore.json").read_text())
    material = bundle["verificationMaterial"]
    raw = (
        material["certificate"]["rawBytes"]
        if "certificate" in material
        else material["x509CertificateChain"]["certificates"][0]["rawBytes"]
    )
    [entry] = material["tlogEntries"]
    return _der(raw), datetime.fromtimestamp(int(entry["integratedTime"]), UTC)


PRODUCTION = "trusted-roots/production.json"


@pytest.mark.parametrize(
    "case",
    [
        "happy-path-v0.1",
        "happy-path-v0.3",
        "happy-path-intoto-in-dsse-v3",
        # Valid certificates; these bundles fail for their artifact or signature.
        "wrong-hashedrekord-artifact_fail",
        "wrong-hashedrekord-cert-and-sig_fail",
    ],
)
def test_production_fulcio_leaves_chain_at_the_integrated_time(case: str) -> None:
    leaf, logged = _leaf_and_time(case)
    anchors, intermediates = _trust(PRODUCTION)
    issuer = verify_chain(leaf, intermediates, anchors, logged)
    assert issuer.subject.rfc4514_string() == "CN=sigstore-intermediate,O=sigstore.dev"
    leaf.verify_directly_issued_by(issuer)
    assert identity_of(leaf).subjects == (BEACON,)


def test_a_staging_leaf_does_not_chain_to_the_production_roots() -> None:
    leaf, logged = _leaf_and_time("bundle-from-wrong-instance_fail")
    anchors, intermediates = _trust(PRODUCTION)
    with pytest.raises(Rejected) as info:
        verify_chain(leaf, intermediates, anchors, logged)
    assert info.value.failure == Failure.BAD_CERTIFICATE
    assert "does not chain to a configured Fulcio certificate" in info.value.message
    # With the staging roots it does: the refusal above is about the instance only.
    staging_anchors, staging_intermediates = _trust("trusted-roots/staging.json")
    issuer = verify_chain(leaf, staging_intermediates, staging_anchors, logged)
    assert issuer.subject.rfc4514_string() == "CN=sigstore-intermediate,O=sigstore.dev"


def test_a_leaf_issued_outside_its_validity_is_refused_naming_the_times() -> None:
    case = "intoto-expired-certificate_fail"
    leaf, logged = _leaf_and_time(case)
    anchors, intermediates = _trust(f"conformance/{case}/trusted_root.json")
    with pytest.raises(Rejected) as info:
        verify_chain(leaf, intermediates, anchors, logged)
    assert info.value.message.startswith("the signing certificate is valid ")
    assert f"not at {logged.isoformat()} (the Rekor integration time)" in info.value.message
