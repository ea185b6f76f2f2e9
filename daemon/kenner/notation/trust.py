"""A trust root from configuration text: certificates, TSA roots, identities, CRLs.

Rules: ``cert`` is one or more PEM certificates (roots, CAs, or self-signed signing
certificates; the chain in an envelope is trusted when it holds one of them);
``trustStoreType`` is the spec's store type of ``cert``, ``ca`` (default) or
``signingAuthority``; ``tsCert`` one
or more PEM TSA roots, each a self-issued CA (``kenner.timestamp.check_trust_roots``);
``trustedIdentities`` as ``kenner.notation.identity`` says; ``crl`` one or more PEM
``X509 CRL`` blocks, each of which must be signed by a certificate of ``cert`` or issued for
one of its CAs' names (the signature is checked against the chain at verification).
Everything is parsed when the configuration loads, so a bad value is refused there.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from cryptography import x509

from kenner.errors import KennerError
from kenner.notation.identity import IdentityError, parse_identities
from kenner.notation.verify import STORE_CA, STORE_FOR_SCHEME, TrustRoot
from kenner.timestamp.errors import TimestampError

_CRL_BLOCK = re.compile(
    rb"-----BEGIN X509 CRL-----[A-Za-z0-9+/=\s]+-----END X509 CRL-----", re.ASCII
)
MAX_CERTIFICATES = 64


class TrustRootError(KennerError, ValueError):
    """A trust root value that cannot be used; ``key`` names the configuration key."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(message)


def load_trust_root(
    name: str,
    cert: str,
    ts_cert: str | None = None,
    trusted_identities: Sequence[str] = (),
    crl: str | None = None,
    *,
    store_type: str = STORE_CA,
) -> TrustRoot:
    """Parse one configured trust root.

    Raises:
        TrustRootError: the first value that does not parse or cannot be used.
    """
    if store_type not in STORE_FOR_SCHEME.values():
        known = ", ".join(sorted(STORE_FOR_SCHEME.values()))
        raise TrustRootError("trustStoreType", f"{store_type[:200]!r} is not one of {known}")
    certificates = _certificates(cert, "cert")
    tsa = _certificates(ts_cert, "tsCert") if ts_cert is not None else ()
    if tsa:
        from kenner.timestamp.verify import check_trust_roots  # asn1crypto: only with a tsCert

        try:
            check_trust_roots(tsa)
        except TimestampError as error:
            raise TrustRootError("tsCert", error.message) from None
    try:
        identities = parse_identities(trusted_identities)
    except IdentityError as error:
        raise TrustRootError("trustedIdentities", str(error)) from None
    return TrustRoot(
        name=name,
        certificates=certificates,
        store_type=store_type,
        tsa_certificates=tsa,
        identities=identities,
        crls=_crls(crl) if crl is not None else (),
    )


def _certificates(pem: str, key: str) -> tuple[x509.Certificate, ...]:
    try:
        certificates = tuple(x509.load_pem_x509_certificates(pem.encode("ascii")))
    except (ValueError, UnicodeEncodeError) as error:
        raise TrustRootError(key, f"is not PEM certificates ({error})") from None
    if len(certificates) > MAX_CERTIFICATES:
        raise TrustRootError(key, f"holds more than {MAX_CERTIFICATES} certificates")
    return certificates


def _crls(pem: str) -> tuple[x509.CertificateRevocationList, ...]:
    try:
        blocks = _CRL_BLOCK.findall(pem.encode("ascii"))
    except UnicodeEncodeError:
        raise TrustRootError("crl", "is not PEM CRLs (non-ASCII text)") from None
    if not blocks:
        raise TrustRootError("crl", "holds no PEM 'X509 CRL' block")
    try:
        return tuple(x509.load_pem_x509_crl(block) for block in blocks)
    except ValueError as error:
        raise TrustRootError("crl", f"is not a PEM CRL ({error})") from None
