"""Verifying a parsed bundle against a trusted root: the order of checks and what each proves.

1. The material fits the trust root asked for: a Fulcio certificate for a keyless root, a
   public key hint for a key root (the key is the configured one, never the bundle's).
2. Verified times: each RFC 3161 timestamp over the signature that a trusted TSA signed
   within the TSA's validity, and each log integration time that a verified SET proves.
   Timestamps that do not verify are not counted (as sigstore-go and sigstore-python).
3. Every transparency log entry is in a trusted log that was valid at the entry's verified
   time (the integration time its SET proves; without a SET, every TSA time: sigstore-go
   checks Rekor v2 entries at no time), whose checkpoint names that log, and records this
   signature by this signer (``kenner.sigstore.tlog``). Keyless bundles need one; key
   bundles need one when the rule requires the log.
4. Keyless: at least one verified time, and at each of them the signing certificate is valid
   and chains to a Fulcio CA of the trusted root that is valid then (the clock is never used);
   an embedded SCT of a trusted CT log verifies (when the root has CT logs), dated within
   that log's validity (the SCT's own timestamp, as sigstore-go); the certificate is for
   digital signatures and code signing.
5. The signature verifies with the signer's key: over the artifact's SHA-256 digest for a
   message signature (whose recorded digest, if any, must be the artifact's), over
   PAE(payloadType, payload) for every DSSE signature; an envelope must be an in-toto
   statement with the artifact's digest among its subjects.

The identity in the certificate is checked by the caller (``kenner.sigstore.identity``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from kenner.cosign.errors import Rejected
from kenner.cosign.fulcio import verify_chain
from kenner.cosign.sct import CtLog, verify_embedded_scts
from kenner.errors import KennerError
from kenner.sigstore import keys
from kenner.sigstore.bundle import Bundle, DsseEnvelope, MessageSignature
from kenner.sigstore.dsse import pae, parse_statement, subject_digests
from kenner.sigstore.errors import BundleError
from kenner.sigstore.tlog import Signer, verify_entry
from kenner.sigstore.trustroot import Authority, TrustedRoot

#: Verifies one RFC 3161 time-stamp response (DER) over ``message`` with one TSA of the
#: trusted root; returns the time it proves, or raises a ``KennerError``.
TimestampCheck = Callable[[bytes, bytes, Authority], datetime]

_SHA256_PREFIX = "sha256:"


@attrs.frozen
class Verified:
    """What a verified bundle proves."""

    certificate: x509.Certificate | None  # the Fulcio certificate of a keyless bundle
    times: tuple[datetime, ...]  # the verified times
    statement: dict[str, Any] | None  # the in-toto statement of a DSSE bundle


def verify_bundle(
    bundle: Bundle,
    trusted_root: TrustedRoot,
    *,
    artifact_digest: str,
    key: PublicKeyTypes | None = None,
    check_timestamp: TimestampCheck | None = None,
    require_tlog: bool = True,
) -> Verified:
    """Check ``bundle`` for the artifact ``artifact_digest`` (``sha256:<hex>``).

    ``key`` is the key of a key trust root; None means keyless (a Fulcio certificate).

    Raises:
        BundleError: the first check that fails, in the order of the module docstring.
    """
    artifact = _sha256(artifact_digest)
    signer_key, signer = _signer(bundle, key)
    times = _timestamp_times(bundle, trusted_root, check_timestamp)
    if bundle.tlog_entries or require_tlog or key is None:
        if not bundle.tlog_entries:
            raise BundleError("the bundle has no transparency log entry")
        for entry in bundle.tlog_entries:
            verified = verify_entry(entry, trusted_root, bundle.content, signer, artifact)
            if verified.integrated_time is not None:
                times += (datetime.fromtimestamp(verified.integrated_time, UTC),)
                at = times[-1:]
            else:
                at = times
            if not at:
                raise BundleError("no verified time for the log entry (no SET, no timestamp)")
            for when in at:
                if not verified.log.validity.contains(when):
                    raise BundleError(
                        f"the log {verified.log.name} was not trusted at {when.isoformat()}"
                    )
    if bundle.certificate is not None:
        if not times:
            raise BundleError("the bundle has no verified time (no timestamp, no SET)")
        _check_certificate(bundle, trusted_root, times)
    statement = _check_signature(bundle.content, signer_key, artifact, artifact_digest)
    return Verified(bundle.certificate, tuple(sorted(set(times))), statement)


def _sha256(artifact_digest: str) -> bytes:
    hexdigest = artifact_digest.removeprefix(_SHA256_PREFIX)
    if not artifact_digest.startswith(_SHA256_PREFIX) or len(hexdigest) != 64:
        raise BundleError(f"only sha256 digests are supported, not {artifact_digest[:80]!r}")
    return bytes.fromhex(hexdigest)


def _signer(bundle: Bundle, key: PublicKeyTypes | None) -> tuple[PublicKeyTypes, Signer]:
    if key is None:
        if bundle.certificate is None:
            raise BundleError("the bundle is signed with a key, the trust root is keyless")
        der = bundle.certificate.public_bytes(serialization.Encoding.DER)
        try:
            return bundle.certificate.public_key(), Signer(der, is_certificate=True)
        except ValueError:
            raise BundleError("the signing certificate's key cannot be read") from None
    if bundle.certificate is not None:
        raise BundleError("the bundle is signed with a Fulcio certificate, the trust root is a key")
    spki = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return key, Signer(spki, is_certificate=False)


def _timestamp_times(
    bundle: Bundle, trusted_root: TrustedRoot, check: TimestampCheck | None
) -> tuple[datetime, ...]:
    if not bundle.timestamps or check is None:
        return ()
    times = []
    for token in bundle.timestamps:
        for authority in trusted_root.timestamp_authorities:
            try:
                when = check(token, bundle.signature, authority)
            except KennerError:
                continue
            if authority.validity.contains(when):
                times.append(when)
                break
    return tuple(times)


def _check_certificate(
    bundle: Bundle, trusted_root: TrustedRoot, times: tuple[datetime, ...]
) -> None:
    leaf = bundle.certificate
    assert leaf is not None
    issuer = None
    for at in times:
        start, end = leaf.not_valid_before_utc, leaf.not_valid_after_utc
        if not start <= at <= end:
            raise BundleError(
                f"the signing certificate is valid {start.isoformat()} to {end.isoformat()}, "
                f"not at the verified time {at.isoformat()}"
            )
        authorities = [
            ca for ca in trusted_root.certificate_authorities if ca.validity.contains(at)
        ]
        if not authorities:
            raise BundleError(
                f"Fulcio CA validity check: no Fulcio CA of the trusted root is valid at "
                f"the verified time {at.isoformat()}"
            )
        intermediates = [cert for ca in authorities for cert in ca.intermediates]
        try:
            issuer = verify_chain(
                leaf, [*bundle.chain, *intermediates], [ca.root for ca in authorities], at
            )
        except Rejected as rejected:
            raise BundleError(f"at {at.isoformat()}: {rejected.message}") from None
    assert issuer is not None
    if trusted_root.ctlogs:
        _check_sct(leaf, issuer, trusted_root)
    try:
        usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if usage is None or not usage.digital_signature:
        raise BundleError("the signing certificate is not for digital signatures")


def _check_sct(leaf: x509.Certificate, issuer: x509.Certificate, trusted_root: TrustedRoot) -> None:
    logs = [
        CtLog(log.log_id, log.key, log.name, log.validity.start, log.validity.end)
        for log in trusted_root.ctlogs
    ]
    try:
        verify_embedded_scts(leaf, issuer, logs)
    except Rejected as rejected:
        raise BundleError(
            f"no SCT of a trusted CT log verifies: {rejected.message[:300]}"
        ) from None


def _check_signature(
    content: MessageSignature | DsseEnvelope,
    key: PublicKeyTypes,
    artifact: bytes,
    artifact_digest: str,
) -> dict[str, Any] | None:
    if isinstance(content, MessageSignature):
        if content.digest is not None and (content.digest_algorithm, content.digest) != (
            "SHA2_256",
            artifact,
        ):
            raise BundleError(f"the bundle's message digest is not {artifact_digest}")
        if not keys.verify_prehashed(key, content.signature, artifact):
            raise BundleError(f"the signature over {artifact_digest} does not verify")
        return None
    signed = pae(content.payload_type, content.payload)
    if not all(keys.verify(key, signature.sig, signed) for signature in content.signatures):
        raise BundleError("the DSSE envelope's signature does not verify")
    statement = parse_statement(content.payload_type, content.payload)
    if artifact_digest.lower() not in subject_digests(statement):
        raise BundleError(f"the in-toto statement is not about {artifact_digest}")
    return statement


def sha256_digest(data: bytes) -> str:
    """``sha256:<hex>`` of ``data``."""
    return _SHA256_PREFIX + hashlib.sha256(data).hexdigest()
