"""The Fulcio chain check on certificates made here: what the library refuses, and why.

``REFUSED_NOW`` and the leaf configured as its own anchor are what changed: the hand-written
builder before ``cryptography.x509.verification`` accepted them (checked against it).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import attrs
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kenner.certs import key_usage
from kenner.cosign.errors import Failure, Rejected
from kenner.cosign.fulcio import verify_chain

AT = datetime(2024, 5, 30, 15, 20, tzinfo=UTC)
Key = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
Extensions = list[tuple[x509.ExtensionType, bool]]


@attrs.frozen
class Ca:
    """A CA certificate and its key."""

    key: Key
    certificate: x509.Certificate


def _ca_extensions(path_length: int | None = None) -> Extensions:
    return [
        (x509.BasicConstraints(ca=True, path_length=path_length), True),
        (key_usage(cert_sign=True), True),
    ]


def _certificate(
    subject: str,
    key: Key,
    issuer: Ca | None,
    extensions: Extensions,
    valid: tuple[datetime, datetime] = (AT - timedelta(days=1), AT + timedelta(days=1)),
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)] if subject else [])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.certificate.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid[0])
        .not_valid_after(valid[1])
    )
    if issuer is not None:
        identifier = x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key())
        builder = builder.add_extension(identifier, critical=False)
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(issuer.key if issuer else key, hashes.SHA256())


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _root(extensions: Extensions | None = None, **kwargs: object) -> Ca:
    key = _key()
    return Ca(key, _certificate("root", key, None, extensions or _ca_extensions(), **kwargs))  # type: ignore[arg-type]


def _intermediate(issuer: Ca, name: str = "intermediate", **kwargs: object) -> Ca:
    key: Key = kwargs.pop("key", None) or _key()  # type: ignore[assignment]
    extensions: Extensions = kwargs.pop("extensions", None) or _ca_extensions()  # type: ignore[assignment]
    return Ca(key, _certificate(name, key, issuer, extensions, **kwargs))  # type: ignore[arg-type]


def _leaf_extensions(
    usages: list[x509.ObjectIdentifier] | None = None, san: bool = True
) -> Extensions:
    extensions: Extensions = [(key_usage(cert_sign=False), True)]
    if usages is None:
        usages = [ExtendedKeyUsageOID.CODE_SIGNING]
    if usages:
        extensions.append((x509.ExtendedKeyUsage(usages), False))
    if san:
        name = x509.RFC822Name("dev@example.test")
        extensions.append((x509.SubjectAlternativeName([name]), True))
    return extensions


def _leaf(issuer: Ca, extensions: Extensions | None = None) -> x509.Certificate:
    return _certificate(
        "",
        _key(),
        issuer,
        _leaf_extensions() if extensions is None else extensions,
        valid=(AT - timedelta(minutes=5), AT + timedelta(minutes=5)),
    )


Case = Callable[[], tuple[x509.Certificate, list[x509.Certificate], list[x509.Certificate]]]


def _through_intermediates(count: int) -> Case:
    def case() -> tuple[x509.Certificate, list[x509.Certificate], list[x509.Certificate]]:
        root = _root()
        cas = [root]
        for index in range(count):
            cas.append(_intermediate(cas[-1], f"intermediate {index}"))
        return _leaf(cas[-1]), [ca.certificate for ca in cas[1:]], [root.certificate]

    return case


def _with(
    root: Callable[[], Ca] = _root,
    intermediate: Callable[[Ca], Ca] | None = _intermediate,
    leaf: Callable[[Ca], x509.Certificate] = _leaf,
) -> Case:
    def case() -> tuple[x509.Certificate, list[x509.Certificate], list[x509.Certificate]]:
        anchor = root()
        issuer = intermediate(anchor) if intermediate else anchor
        chain = [issuer.certificate] if intermediate else []
        return leaf(issuer), chain, [anchor.certificate]

    return case


EXPIRED = (AT - timedelta(days=2), AT - timedelta(days=1))
SERVER_AUTH = [ExtendedKeyUsageOID.SERVER_AUTH]
OTHER_DOMAIN_ONLY = x509.NameConstraints([x509.RFC822Name("other.test")], None)
# Refused before and now.
REFUSED_AS_BEFORE = [
    ("an expired intermediate", _with(intermediate=lambda ca: _intermediate(ca, valid=EXPIRED))),
    ("an expired anchor", _with(root=lambda: _root(valid=EXPIRED))),
    (
        "a non-CA intermediate",
        _with(
            intermediate=lambda ca: _intermediate(
                ca, extensions=[(x509.BasicConstraints(ca=False, path_length=None), True)]
            )
        ),
    ),
    (
        "an intermediate without keyCertSign",
        _with(
            intermediate=lambda ca: _intermediate(
                ca,
                extensions=[
                    (x509.BasicConstraints(ca=True, path_length=None), True),
                    (key_usage(cert_sign=False), True),
                ],
            )
        ),
    ),
    ("a leaf for server auth", _with(leaf=lambda ca: _leaf(ca, _leaf_extensions(SERVER_AUTH)))),
    ("a leaf without EKU", _with(leaf=lambda ca: _leaf(ca, _leaf_extensions([])))),
    ("five intermediates", _through_intermediates(5)),
]
# Refused since the library checks them; the hand-written builder let these through.
REFUSED_NOW = [
    (
        "a path longer than the anchor's pathLenConstraint",
        _with(root=lambda: _root(_ca_extensions(0))),
    ),
    (
        "an intermediate whose EKU excludes code signing",
        _with(
            intermediate=lambda ca: _intermediate(
                ca, extensions=[*_ca_extensions(), (x509.ExtendedKeyUsage(SERVER_AUTH), False)]
            )
        ),
    ),
    (
        "a leaf that is a CA",
        _with(
            leaf=lambda ca: _leaf(
                ca, [*_leaf_extensions(), (x509.BasicConstraints(ca=True, path_length=None), True)]
            )
        ),
    ),
    (
        "a leaf with an unknown critical extension",
        _with(
            leaf=lambda ca: _leaf(
                ca,
                [
                    *_leaf_extensions(),
                    (
                        x509.UnrecognizedExtension(x509.ObjectIdentifier("1.2.3.4"), b"\x05\x00"),
                        True,
                    ),
                ],
            )
        ),
    ),
    (
        "a leaf without subject alternative name",
        _with(leaf=lambda ca: _leaf(ca, _leaf_extensions(san=False))),
    ),
    (
        "an anchor without keyUsage",
        _with(root=lambda: _root([(x509.BasicConstraints(ca=True, path_length=None), True)])),
    ),
    (
        "a leaf e-mail outside the anchor's name constraints",
        _with(root=lambda: _root([*_ca_extensions(), (OTHER_DOMAIN_ONLY, True)])),
    ),
    (
        "an intermediate with a 1024-bit RSA key",
        _with(
            intermediate=lambda ca: _intermediate(
                ca, key=rsa.generate_private_key(public_exponent=65537, key_size=1024)
            )
        ),
    ),
]


# The library's reason, which the denial quotes.
REASONS = {
    "an expired intermediate": "cert is not valid at validation time",
    "an expired anchor": "cert is not valid at validation time",
    "a non-CA intermediate": "basicConstraints.cA must be asserted in a CA certificate",
    "an intermediate without keyCertSign": "keyUsage.keyCertSign must be asserted",
    "a leaf for server auth": "the signing certificate is not for code signing",
    "a leaf without EKU": "2.5.29.37: Certificate is missing required extension",
    "five intermediates": "chain construction exceeds max depth",
    "a path longer than the anchor's pathLenConstraint": "path length constraint violated",
    "an intermediate whose EKU excludes code signing": (
        "the CA 'CN=intermediate' may not issue code signing certificates"
    ),
    "a leaf that is a CA": "basicConstraints.cA must not be asserted in an EE certificate",
    "a leaf with an unknown critical extension": "1.2.3.4: certificate contains unaccounted-for",
    "a leaf without subject alternative name": "2.5.29.17: Certificate is missing required",
    "an anchor without keyUsage": "2.5.29.15: Certificate is missing required extension",
    "a leaf e-mail outside the anchor's name constraints": "no permitted name constraints",
    "an intermediate with a 1024-bit RSA key": "RSA key is too weak",
}


@pytest.mark.parametrize("count", [0, 1, 4])
def test_a_chain_of_up_to_four_intermediates_verifies(count: int) -> None:
    leaf, intermediates, anchors = _through_intermediates(count)()
    issuer = verify_chain(leaf, intermediates, anchors, AT)
    assert issuer == (intermediates[-1] if intermediates else anchors[0])


@pytest.mark.parametrize(
    ("what", "case"),
    REFUSED_AS_BEFORE + REFUSED_NOW,
    ids=[what for what, _ in REFUSED_AS_BEFORE] + [f"{what} (new)" for what, _ in REFUSED_NOW],
)
def test_the_chain_check_refuses(what: str, case: Case) -> None:
    leaf, intermediates, anchors = case()
    with pytest.raises(Rejected) as info:
        verify_chain(leaf, intermediates, anchors, AT)
    assert info.value.failure == Failure.BAD_CERTIFICATE
    assert info.value.message.startswith(
        "the signing certificate does not chain to a configured Fulcio certificate at "
        "2024-05-30T15:20:00+00:00 (the Rekor integration time): validation failed: "
    )
    assert REASONS[what] in info.value.message


def test_the_leaf_outside_its_validity_names_the_times() -> None:
    leaf, intermediates, anchors = _with()()
    later = AT + timedelta(minutes=6)
    with pytest.raises(Rejected) as info:
        verify_chain(leaf, intermediates, anchors, later)
    assert info.value.message == (
        "the signing certificate is valid 2024-05-30T15:15:00+00:00 to "
        "2024-05-30T15:25:00+00:00, not at 2024-05-30T15:26:00+00:00 (the Rekor integration time)"
    )


def test_a_leaf_for_server_auth_is_refused_as_not_for_code_signing() -> None:
    leaf, intermediates, anchors = _with(leaf=lambda ca: _leaf(ca, _leaf_extensions(SERVER_AUTH)))()
    with pytest.raises(Rejected, match="the signing certificate is not for code signing"):
        verify_chain(leaf, intermediates, anchors, AT)


def test_no_configured_fulcio_certificate_is_refused() -> None:
    leaf, intermediates, _ = _with()()
    with pytest.raises(Rejected) as info:
        verify_chain(leaf, intermediates, [], AT)
    assert info.value.message == "no Fulcio certificate is configured"


def test_a_leaf_configured_as_its_own_anchor_is_refused() -> None:
    # The library applies the CA profile to anchors, so an end-entity anchor issues nothing.
    key = _key()
    leaf = _certificate("self", key, None, _leaf_extensions())
    with pytest.raises(Rejected) as info:
        verify_chain(leaf, [], [leaf], AT)
    assert info.value.failure == Failure.BAD_CERTIFICATE
