"""Certificate parts the tests build with: one place for the key-usage extension.

A CA (anchor included) must be allowed to sign certificates and CRLs (RFC 5280 s4.2.1.3); a
leaf signs data and nothing else. Built here independently of kenner's own certificate code, so
the checks under test never see certificates made by the code beside them.
"""

from __future__ import annotations

from cryptography import x509


def key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    """A CA's key usage (``cert_sign``: certificate and CRL signing) or a leaf's (signatures)."""
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )
