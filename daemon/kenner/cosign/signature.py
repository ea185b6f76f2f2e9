"""One Cosign signature (a layer of the ``.sig`` manifest) checked against one trust root.

A layer counts for a trust root when, in this order: its payload is a Cosign simple-signing
payload for the expected digest (and, as the rule asks, the image's repository); the signature
verifies with the root's key, or, for a keyless root, with the leaf certificate that chains to
a configured Fulcio certificate at the Rekor integration time, carries an SCT of the configured
CT log (only when one is configured) and names the expected identity; and, when the
transparency log is required (always for keyless), the Rekor bundle verifies offline and
describes exactly this payload, signature and signer.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Literal

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from kenner.cosign.errors import Failure, Rejected, UnusableKey
from kenner.cosign.fulcio import IdentityPolicy, identity_of, load_certificates, verify_chain
from kenner.cosign.keys import VerificationKey, from_public_key
from kenner.cosign.payload import SIMPLE_SIGNING_MEDIA_TYPE, parse_payload
from kenner.cosign.rekor import RekorEntry, verify_bundle
from kenner.cosign.sct import CtLog, verify_embedded_sct
from kenner.oci.manifest import ImageManifest
from kenner.oci.naming import same_path, same_repository

SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
CERTIFICATE_ANNOTATION = "dev.sigstore.cosign/certificate"
CHAIN_ANNOTATION = "dev.sigstore.cosign/chain"
BUNDLE_ANNOTATION = "dev.sigstore.cosign/bundle"

#: How the payload's ``docker-reference`` must relate to the image: same registry and
#: repository, same repository path on any registry (signatures copied between registries),
#: or not at all (the digest alone binds, as in Cosign's default).
ReferenceCheck = Literal["repository", "path", "any"]


@attrs.frozen
class SignatureLayer:
    """A signature layer's descriptor data: the payload's digest and the annotations."""

    payload_digest: str
    payload_size: int
    signature: str
    certificate: str | None = None
    chain: str | None = None
    bundle: str | None = None


def signature_layers(manifest: ImageManifest) -> tuple[SignatureLayer, ...]:
    """The simple-signing layers carrying a signature annotation, in manifest order."""
    layers = []
    for layer in manifest.layers:
        signature = layer.annotations.get(SIGNATURE_ANNOTATION)
        if layer.media_type != SIMPLE_SIGNING_MEDIA_TYPE or signature is None:
            continue
        notes = layer.annotations
        layers.append(
            SignatureLayer(
                layer.digest,
                layer.size,
                signature,
                notes.get(CERTIFICATE_ANNOTATION) or None,
                notes.get(CHAIN_ANNOTATION) or None,
                notes.get(BUNDLE_ANNOTATION) or None,
            )
        )
    return tuple(layers)


@attrs.frozen
class KeyRoot:
    """A trust root that is a public key."""

    name: str
    key: VerificationKey


@attrs.frozen
class KeylessRoot:
    """A trust root that is a Fulcio-certified identity."""

    name: str
    identity: IdentityPolicy


TrustRoot = KeyRoot | KeylessRoot


@attrs.frozen
class Sigstore:
    """The configured Sigstore anchors, each of which may be missing.

    Rekor's key, Fulcio's certificates, and the CT log whose SCT every Fulcio certificate must
    carry (without a CT log, SCTs are not checked).
    """

    rekor_key: VerificationKey | None = None
    fulcio_certificates: tuple[x509.Certificate, ...] = ()
    ct_log: CtLog | None = None


@attrs.frozen
class Expectation:
    """What every signature must be about, and how strictly it is checked."""

    digest: str
    registry: str
    repository: str
    reference_check: ReferenceCheck = "repository"
    require_tlog: bool = True


def verify_layer(
    layer: SignatureLayer,
    payload: bytes,
    root: TrustRoot,
    expectation: Expectation,
    sigstore: Sigstore,
) -> RekorEntry | None:
    """Check that ``layer`` (whose verified payload bytes are ``payload``) counts for ``root``.

    Returns the verified Rekor entry, if one was checked.

    Raises:
        Rejected: why the layer does not count for the root.
    """
    signature = _signature_bytes(layer.signature)
    if isinstance(root, KeyRoot):
        if not root.key.verify(signature, payload):
            raise Rejected(Failure.BAD_SIGNATURE, "the signature does not verify with the key")
        # Only after the signature: a payload problem is reported for the root that signed it.
        _check_payload(payload, expectation)
        if not expectation.require_tlog:
            return None
        return _tlog(layer, sigstore, payload, signature, root.key.der)
    return _verify_keyless(layer, payload, signature, root, expectation, sigstore)


def _check_payload(payload: bytes, expectation: Expectation) -> None:
    signed = parse_payload(payload)
    if signed.manifest_digest != expectation.digest:
        raise Rejected(
            Failure.DIGEST_MISMATCH,
            f"the payload signs {signed.manifest_digest}, not {expectation.digest}",
        )
    reference = signed.docker_reference
    check = expectation.reference_check
    if (
        check == "repository"
        and not same_repository(reference, expectation.registry, expectation.repository)
    ) or (check == "path" and not same_path(reference, expectation.repository)):
        wanted = f"{expectation.registry}/{expectation.repository}"
        raise Rejected(
            Failure.REFERENCE_MISMATCH,
            f"the payload names {reference!r}, not {wanted!r} (with.signedReference: {check})",
        )


def _verify_keyless(
    layer: SignatureLayer,
    payload: bytes,
    signature: bytes,
    root: KeylessRoot,
    expectation: Expectation,
    sigstore: Sigstore,
) -> RekorEntry:
    leaf, key = signing_certificate(layer.certificate, "signature")
    if not key.verify(signature, payload):
        raise Rejected(Failure.BAD_SIGNATURE, "the signature does not verify with the certificate")
    _check_payload(payload, expectation)
    entry = _tlog(
        layer, sigstore, payload, signature, leaf.public_bytes(serialization.Encoding.DER)
    )
    logged_at = datetime.fromtimestamp(entry.integrated_time, UTC)
    check_certified(leaf, layer.chain, root, sigstore, logged_at)
    return entry


def signing_certificate(
    certificate: str | None, what: str
) -> tuple[x509.Certificate, VerificationKey]:
    """The leaf certificate of a keyless ``what`` (its certificate annotation) and its key.

    Raises:
        Rejected: no certificate, not exactly one, or a key kenner cannot verify with.
    """
    if certificate is None:
        raise Rejected(Failure.NO_CERTIFICATE, f"the {what} carries no certificate")
    certificates = load_certificates(certificate, "the signing certificate")
    if len(certificates) != 1:
        raise Rejected(Failure.BAD_CERTIFICATE, "the certificate annotation is not one cert")
    leaf = certificates[0]
    try:
        return leaf, from_public_key(leaf.public_key())
    except UnusableKey as error:
        raise Rejected(Failure.BAD_CERTIFICATE, f"the certificate's key: {error}") from None


def check_certified(
    leaf: x509.Certificate,
    chain: str | None,
    root: KeylessRoot,
    sigstore: Sigstore,
    at: datetime,
) -> None:
    """Check that ``leaf`` chains (through ``chain``, PEM) to a configured Fulcio certificate
    at ``at`` (a verified log time), carries an SCT of the configured CT log if there is one,
    and names ``root``'s identity.

    Raises:
        Rejected: the first of these that fails.
    """
    intermediates = load_certificates(chain, "the chain") if chain else ()
    issuer = verify_chain(leaf, intermediates, sigstore.fulcio_certificates, at)
    if sigstore.ct_log is not None:
        verify_embedded_sct(leaf, issuer, sigstore.ct_log)
    identity = identity_of(leaf)
    if not root.identity.matches(identity):
        subjects = ", ".join(identity.subjects) or "no subject"
        raise Rejected(
            Failure.IDENTITY_MISMATCH,
            f"certified {subjects} from issuer {identity.issuer!r}, expected {root.identity}",
        )


def _tlog(
    layer: SignatureLayer, sigstore: Sigstore, payload: bytes, signature: bytes, signer: bytes
) -> RekorEntry:
    if sigstore.rekor_key is None:
        raise Rejected(Failure.NO_TLOG_ENTRY, "no Rekor public key is configured")
    if layer.bundle is None:
        raise Rejected(Failure.NO_TLOG_ENTRY, "the signature carries no Rekor bundle")
    return verify_bundle(
        layer.bundle, sigstore.rekor_key, payload=payload, signature=signature, signer_der=signer
    )


def _signature_bytes(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise Rejected(Failure.MALFORMED, "the signature annotation is not base64") from None
