"""Verify one Notation signature envelope for one trust root, as the Notary Project says.

The steps, in order (trust-store-trust-policy.md "Signature Verification"); the verification
level (``kenner.notation.levels``) decides whether a failed step denies or is logged:

1. Integrity (always enforced): the envelope parses (``kenner.notation.jws`` / ``cose``), its
   certificates parse, its algorithm is the one the leaf's key allows and the signature
   verifies (``kenner.notation.algorithms``).
2. Target (always enforced): the signed descriptor is the image's manifest
   (``kenner.notation.payload``).
3. Authenticity: the trust root's store type fits the envelope's signing scheme (a ``ca``
   store verifies only ``notary.x509``, a ``signingAuthority`` store only
   ``notary.x509.signingAuthority``, as notation-go does: a ``ca`` signer's self-stated
   signing time is not authentic), the chain's shape and certificate requirements
   (``kenner.notation.chain``), one of its certificates is a certificate of the trust root;
   then the trusted identities (``kenner.notation.identity``).
4. Expiry: ``io.cncf.notary.expiry``, if signed, lies after ``now``.
5. Authentic timestamp. ``notary.x509``: the timestamp is checked when the trust root has TSA
   certificates (``tsCert``) and either ``verifyTimestamp`` is ``always`` or a certificate of
   the chain has expired at ``now`` (``afterCertExpiry``); then the envelope must carry an
   RFC 3161 token over its signature value, valid under those TSA certificates
   (``kenner.timestamp``), and its time range (genTime +/- accuracy) must lie entirely within
   every certificate's validity. Otherwise every certificate must be valid at ``now``.
   ``notary.x509.signingAuthority``: the authentic signing time must lie within every
   certificate's validity (no RFC 3161 token is read).
6. Revocation against the trust root's configured CRLs (``kenner.notation.revocation``).

Not done: verification plugins (an envelope that marks a plugin header critical fails step
1), OCSP and CRL fetching, the RFC 3628 baseline-policy default accuracy of one second
(without an accuracy the range is genTime alone).
"""

from __future__ import annotations

import datetime

import attrs
from cryptography import x509

from kenner.notation.algorithms import verify_signature
from kenner.notation.chain import check_chain, is_trusted, load_chain, validity_problem
from kenner.notation.envelope import SCHEME_AUTHORITY, SCHEME_X509, Envelope
from kenner.notation.errors import Check, NotationError
from kenner.notation.formats import parse_envelope
from kenner.notation.identity import TrustedIdentities
from kenner.notation.levels import Level, enforced
from kenner.notation.payload import Target, check_target
from kenner.notation.revocation import revocation_problem
from kenner.timestamp.errors import TimestampError

STORE_CA = "ca"
STORE_SIGNING_AUTHORITY = "signingAuthority"
# The one store type each signing scheme is verified against (trust-store-trust-policy.md).
STORE_FOR_SCHEME = {SCHEME_X509: STORE_CA, SCHEME_AUTHORITY: STORE_SIGNING_AUTHORITY}
ALWAYS = "always"
AFTER_CERT_EXPIRY = "afterCertExpiry"


@attrs.frozen
class TrustRoot:
    """One configured trust root: the ``ca`` or ``signingAuthority`` store (``store_type``),
    the ``tsa`` store, identities, CRLs."""

    name: str
    certificates: tuple[x509.Certificate, ...]
    tsa_certificates: tuple[x509.Certificate, ...] = ()
    identities: TrustedIdentities = attrs.field(factory=lambda: TrustedIdentities(None))
    crls: tuple[x509.CertificateRevocationList, ...] = ()
    store_type: str = STORE_CA


@attrs.frozen
class Policy:
    """What a rule asks: the verification level and when to verify the timestamp."""

    level: Level = Level.STRICT
    verify_timestamp: str = ALWAYS


@attrs.frozen
class Verified:
    """A signature that counts; ``logged`` holds the failures the level only logs."""

    signer: str  # the leaf's subject, RFC 4514
    logged: tuple[NotationError, ...]


def verify_envelope(
    media_type: str,
    raw: bytes,
    *,
    target: Target,
    root: TrustRoot,
    policy: Policy,
    now: datetime.datetime,
) -> Verified:
    """Verify the envelope ``raw`` of ``media_type`` (module rules).

    Raises:
        NotationError: the first enforced check that fails.
    """
    envelope = parse_envelope(media_type, raw)
    chain = load_chain(envelope.certificates)
    verify_signature(envelope, chain[0])
    check_target(envelope.payload, target)
    logged: list[NotationError] = []

    def step(check: Check, problem: str | None) -> None:
        if problem is None:
            return
        error = NotationError(check, problem)
        if enforced(policy.level, check):
            raise error
        logged.append(error)

    step(Check.AUTHENTICITY, _authenticity(envelope.scheme, chain, root))
    if not root.identities.trusts(chain[0].subject):
        subject = chain[0].subject.rfc4514_string()
        step(Check.IDENTITY, f"the signer {subject!r} is not a trusted identity of {root.name!r}")
    if envelope.expiry is not None and now >= envelope.expiry:
        step(Check.EXPIRY, f"the signature expired at {envelope.expiry.isoformat()}")
    stamped_at, problem = _authentic_time(envelope, chain, root, policy, now)
    step(Check.TIMESTAMP, problem)
    step(Check.REVOCATION, revocation_problem(chain, root.crls, now=now, stamped_at=stamped_at))
    return Verified(chain[0].subject.rfc4514_string(), tuple(logged))


def _authenticity(scheme: str, chain: tuple[x509.Certificate, ...], root: TrustRoot) -> str | None:
    needed = STORE_FOR_SCHEME[scheme]  # the envelope parser admits only these two schemes
    if root.store_type != needed:
        return (
            f"trust root {root.name!r} is a {root.store_type!r} trust store; a {scheme!r} "
            f"signature is verified only against a {needed!r} trust store"
        )
    try:
        check_chain(chain)
    except NotationError as error:
        return error.message
    if not is_trusted(chain, root.certificates):
        return f"the signature's certificate chain does not lead to trust root {root.name!r}"
    return None


def _authentic_time(
    envelope: Envelope,
    chain: tuple[x509.Certificate, ...],
    root: TrustRoot,
    policy: Policy,
    now: datetime.datetime,
) -> tuple[datetime.datetime | None, str | None]:
    """The authentic time (for revocation) and why the timestamp step fails, if it does."""
    if envelope.scheme != SCHEME_X509:
        signed_at = envelope.authentic_signing_time
        assert signed_at is not None  # the envelope parser requires it for this scheme
        return signed_at, validity_problem(chain, signed_at, signed_at)
    expired = any(now > certificate.not_valid_after_utc for certificate in chain)
    wanted = bool(root.tsa_certificates) and (policy.verify_timestamp == ALWAYS or expired)
    if not wanted:
        return None, validity_problem(chain, now, now)
    if envelope.timestamp is None:
        return None, "no timestamp countersignature was found in the signature envelope"
    from kenner.timestamp.verify import verify_timestamp_token  # asn1crypto: the first timestamp

    try:
        stamped = verify_timestamp_token(
            envelope.timestamp, message=envelope.signature, trusted_roots=root.tsa_certificates
        )
    except TimestampError as error:
        return None, f"the timestamp countersignature does not verify: {error}"
    return stamped.time, validity_problem(chain, stamped.earliest, stamped.latest)
