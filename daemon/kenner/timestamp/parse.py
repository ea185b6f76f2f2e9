"""Parsing RFC 3161 structures from untrusted DER into plain typed values (asn1crypto).

Rules:

* Every input is hostile: whatever asn1crypto raises while reading it becomes a
  ``TimestampError`` (``malformed_token``, or ``bad_tstinfo`` for the signed TSTInfo), never
  another exception; sizes are bounded (``MAX_TOKEN_BYTES``, ``MAX_CERTIFICATES``).
* ``strict`` loading: no bytes may follow a structure.
* A TimeStampResp counts only with status granted (0) or grantedWithMods (1) and a token
  (RFC 3161 2.4.2: only those two carry one).
* A token is a CMS ContentInfo of type signed-data with exactly one SignerInfo, whose
  encapsulated content type is id-ct-TSTInfo (1.2.840.113549.1.9.16.1.4) and whose content is
  a primitive OCTET STRING holding a TSTInfo of version 1 (RFC 3161 2.4.2). The content type is
  checked before the TSTInfo is read: a token over id-data fails for its type, whatever it
  holds.
* The signed attributes are kept as their DER ``SET OF`` encoding (the bytes the signature
  covers, RFC 5652 5.4), taken from the input, not re-encoded.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any, TypeVar

import attrs
from asn1crypto import cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from kenner.timestamp.errors import Reason, TimestampError, shown

MAX_TOKEN_BYTES = 64 * 1024  # real tokens with their chain are ~6 KiB
MAX_CERTIFICATES = 16
TST_INFO_TYPE = "1.2.840.113549.1.9.16.1.4"  # id-ct-TSTInfo
_GRANTED = frozenset({"granted", "granted_with_mods"})
_T = TypeVar("_T")


@attrs.frozen
class TstInfo:
    """The TSTInfo fields kenner uses (RFC 3161 2.4.2)."""

    hash_algorithm: str  # asn1crypto's name: "sha256", "sha384", ...
    hashed_message: bytes
    gen_time: datetime.datetime  # aware, UTC
    accuracy: datetime.timedelta | None


@attrs.frozen
class SignedAttribute:
    """One signed attribute: its type name (asn1crypto's, or the dotted OID) and its values."""

    name: str
    values: tuple[Any, ...]  # asn1crypto values, read by kenner.timestamp.verify


@attrs.frozen
class SignedToken:
    """A TimeStampToken taken apart: what the signature covers and who signed it."""

    tst_info: TstInfo
    tst_info_der: bytes  # the eContent octets, hashed into the messageDigest attribute
    signed_attributes: tuple[SignedAttribute, ...]
    signed_attributes_der: bytes  # DER SET OF, the bytes the signature covers
    digest_algorithm: str
    signature_algorithm: Any  # asn1crypto SignedDigestAlgorithm
    signature: bytes
    signer_issuer: Any | None  # asn1crypto Name (issuerAndSerialNumber) ...
    signer_serial: int | None
    signer_key_id: bytes | None  # ... or subjectKeyIdentifier
    certificates: tuple[x509.Certificate, ...]


class _TimeStampResp(core.Sequence):  # type: ignore[misc]
    # asn1crypto's tsp.TimeStampResp requires the token, which a refusal leaves out.
    _fields = [  # noqa: RUF012 - asn1crypto's schema
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


def parse_timestamp_response(der: bytes) -> bytes:
    """The TimeStampToken (DER) of a granted TimeStampResp.

    Raises:
        TimestampError: ``malformed_token`` (does not parse, too large) or ``not_granted``.
    """
    _bounded(der)
    response = _reading(Reason.MALFORMED, "TimeStampResp", lambda: _load_response(der))
    status, token = response
    if status not in _GRANTED:
        raise TimestampError(Reason.NOT_GRANTED, f"the TSA did not grant a timestamp: {status}")
    if token is None:
        raise TimestampError(Reason.NOT_GRANTED, "the granted TimeStampResp holds no token")
    return token


def parse_token(der: bytes) -> SignedToken:
    """Take a TimeStampToken (CMS ContentInfo, DER) apart; see the module rules.

    Raises:
        TimestampError: ``malformed_token``, ``wrong_content_type`` or ``bad_tstinfo``.
    """
    _bounded(der)
    signed_data = _reading(Reason.MALFORMED, "TimeStampToken", lambda: _load_signed_data(der))
    content_type = _reading(
        Reason.MALFORMED,
        "TimeStampToken",
        lambda: str(signed_data["encap_content_info"]["content_type"].dotted),
    )
    if content_type != TST_INFO_TYPE:
        raise TimestampError(
            Reason.CONTENT_TYPE,
            f"the token's content type is {shown(content_type)}, not id-ct-TSTInfo",
        )
    content = _reading(Reason.BAD_TSTINFO, "TSTInfo", lambda: _econtent(signed_data))
    tst_info = _reading(Reason.BAD_TSTINFO, "TSTInfo", lambda: _load_tst_info(content))
    return _reading(Reason.MALFORMED, "TimeStampToken", lambda: _token(signed_data, tst_info))


def _bounded(der: bytes) -> None:
    if len(der) > MAX_TOKEN_BYTES:
        raise TimestampError(
            Reason.MALFORMED, f"{len(der)} bytes is over the limit of {MAX_TOKEN_BYTES}"
        )


def _reading(reason: Reason, what: str, read: Callable[[], _T]) -> _T:
    try:
        return read()
    except TimestampError:
        raise
    # asn1crypto raises whatever its lazy parsing runs into (ValueError, TypeError,
    # KeyError, IndexError, OverflowError, RecursionError...); all of it means "bad input".
    except Exception as error:
        raise TimestampError(reason, f"the {what} does not parse: {shown(str(error))}") from None


def _load_response(der: bytes) -> tuple[str, bytes | None]:
    response = _TimeStampResp.load(der, strict=True)
    status = str(response["status"]["status"].native)
    token = response["time_stamp_token"]
    if isinstance(token, core.Void):
        return status, None
    return status, bytes(token.dump())


def _load_signed_data(der: bytes) -> Any:
    info = cms.ContentInfo.load(der, strict=True)
    if info["content_type"].native != "signed_data":
        raise TimestampError(Reason.MALFORMED, "the token is not CMS signed-data")
    signed_data = info["content"]
    # Parse all of it now, so that later reads cannot fail lazily; all but the encapsulated
    # content, which asn1crypto would read as a TSTInfo: that one fails as ``bad_tstinfo``.
    for field in ("version", "digest_algorithms", "certificates", "crls", "signer_infos"):
        signed_data[field].native  # noqa: B018
    signed_data["encap_content_info"]["content_type"].native  # noqa: B018
    return signed_data


def _econtent(signed_data: Any) -> bytes:
    content = signed_data["encap_content_info"]["content"]
    if isinstance(content, core.Void):
        raise TimestampError(Reason.BAD_TSTINFO, "the token has no TSTInfo content")
    if content.method != 0:  # a constructed (BER) OCTET STRING is not DER
        raise TimestampError(Reason.BAD_TSTINFO, "the TSTInfo octets are not DER")
    return bytes(content.contents)


def _load_tst_info(der: bytes) -> TstInfo:
    info = tsp.TSTInfo.load(der, strict=True)
    info.native  # noqa: B018 - every field must parse, not only those read below
    if info["version"].native != "v1":
        raise TimestampError(Reason.BAD_TSTINFO, "the TSTInfo version is not 1")
    gen_time = info["gen_time"].native
    if not isinstance(gen_time, datetime.datetime) or gen_time.tzinfo is None:
        raise TimestampError(Reason.BAD_TSTINFO, "the TSTInfo genTime is not a UTC time")
    imprint = info["message_imprint"]
    return TstInfo(
        hash_algorithm=str(imprint["hash_algorithm"]["algorithm"].native),
        hashed_message=bytes(imprint["hashed_message"].native),
        gen_time=gen_time.astimezone(datetime.UTC),
        accuracy=_accuracy(info["accuracy"]),
    )


def _accuracy(accuracy: Any) -> datetime.timedelta | None:
    if isinstance(accuracy, core.Void):
        return None
    parts = accuracy.native
    seconds, millis, micros = (parts[name] or 0 for name in ("seconds", "millis", "micros"))
    if not (0 <= seconds <= 86_400 and 0 <= millis <= 999 and 0 <= micros <= 999):
        raise TimestampError(Reason.BAD_TSTINFO, "the TSTInfo accuracy is out of range")
    return datetime.timedelta(seconds=seconds, milliseconds=millis, microseconds=micros)


def _token(signed_data: Any, tst_info: TstInfo) -> SignedToken:
    signers = signed_data["signer_infos"]
    if len(signers) != 1:
        raise TimestampError(
            Reason.MALFORMED, f"the token has {len(signers)} signers, not exactly one"
        )
    signer = signers[0]
    attributes = signer["signed_attrs"]
    if isinstance(attributes, core.Void) or len(attributes) == 0:
        raise TimestampError(Reason.MALFORMED, "the token's signer has no signed attributes")
    choices = signed_data["certificates"]
    choices = [] if isinstance(choices, core.Void) else list(choices)
    if len(choices) > MAX_CERTIFICATES:
        raise TimestampError(
            Reason.MALFORMED, f"the token holds more than {MAX_CERTIFICATES} certificates"
        )
    sid = signer["sid"]
    by_name = sid.name == "issuer_and_serial_number"
    return SignedToken(
        tst_info=tst_info,
        tst_info_der=_econtent(signed_data),
        signed_attributes=tuple(
            SignedAttribute(_attribute_name(a["type"]), tuple(a["values"])) for a in attributes
        ),
        # [0] IMPLICIT SET OF -> SET OF: only the one-byte tag differs (RFC 5652 5.4).
        signed_attributes_der=b"\x31" + bytes(attributes.dump())[1:],
        digest_algorithm=str(signer["digest_algorithm"]["algorithm"].native),
        signature_algorithm=signer["signature_algorithm"],
        signature=bytes(signer["signature"].native),
        signer_issuer=sid.chosen["issuer"] if by_name else None,
        signer_serial=int(sid.chosen["serial_number"].native) if by_name else None,
        signer_key_id=None if by_name else bytes(sid.chosen.native),
        certificates=_certificates(choices),
    )


def _certificates(choices: list[Any]) -> tuple[x509.Certificate, ...]:
    certificates = tuple(
        x509.load_der_x509_certificate(bytes(choice.chosen.dump()))
        for choice in choices
        if choice.name == "certificate"
    )
    for certificate in certificates:  # names are decoded lazily: fail here, not in a message
        certificate.subject.rfc4514_string()
        certificate.issuer.rfc4514_string()
    return certificates


def is_signer(token: SignedToken, certificate: x509.Certificate) -> bool:
    """Whether ``certificate`` is the one the token's SignerInfo names (its sid)."""
    if token.signer_key_id is not None:
        try:
            extension = certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
        except (x509.ExtensionNotFound, ValueError):
            return False
        return extension.value.digest == token.signer_key_id
    if certificate.serial_number != token.signer_serial:
        return False
    # asn1crypto compares names as RFC 5280 7.1 says (case and space folded), not byte-wise.
    der = certificate.public_bytes(serialization.Encoding.DER)
    return bool(asn1_x509.Certificate.load(der).issuer == token.signer_issuer)


def _attribute_name(kind: Any) -> str:
    return str(kind.native) if kind.native != kind.dotted else str(kind.dotted)
