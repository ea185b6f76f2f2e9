"""A Sigstore ``trusted_root.json`` (``application/vnd.dev.sigstore.trustedroot+json``).

What it holds, each with the window in which it may be used (``validFor``: ``start`` required,
``end`` optional and inclusive, as sigstore-go and sigstore-python read it):

* Fulcio certificate authorities: a certificate chain each, leaf-most first, the last one the
  root (a trust anchor); the others are intermediates;
* transparency logs (Rekor v1 and v2) by log id (``logId.keyId``): the key that signs the
  SETs and checkpoints, and the names the log goes by in its checkpoints, read from
  ``baseUrl`` (which "SHOULD match the origin on the log checkpoint", sigstore_trustroot.proto):
  the URL's host and its scheme-less form (``host[:port][/path]``); a ``baseUrl`` without a
  host makes the file unusable;
* CT logs by log id: the keys whose SCTs Fulcio embeds;
* timestamp authorities: the TSA signing certificate first, its chain, the root last.

A log key is ``rawBytes`` in DER (SubjectPublicKeyInfo, or PKCS#1 for an RSA key) with
``keyDetails`` naming the algorithm; an entry without a start, with an unreadable key or
certificate, or of an unknown media type makes the whole file unusable (fail closed).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import attrs
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from kenner.sigstore.errors import TrustRootError, quoted
from kenner.sigstore.fields import Reader

MEDIA_TYPES = frozenset(
    {
        "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "application/vnd.dev.sigstore.trustedroot.v0.2+json",
    }
)
_MAX_ITEMS = 64  # entries of one kind; the public roots hold fewer than ten
_MAX_CHAIN = 8
_r = Reader(TrustRootError)


@attrs.frozen
class Validity:
    """When a trust root entry may be used: ``start`` to ``end`` (inclusive, None: open)."""

    start: datetime
    end: datetime | None

    def contains(self, at: datetime) -> bool:
        """Whether ``at`` lies in the window."""
        return self.start <= at and (self.end is None or at <= self.end)


@attrs.frozen
class LogKey:
    """A transparency or CT log: its id, key and validity."""

    name: str  # the base URL, for denials
    log_id: bytes
    key: PublicKeyTypes = attrs.field(repr=False, eq=False)
    validity: Validity
    # What a checkpoint's origin may name (``kenner.sigstore.checkpoint``); empty when the
    # trusted root gives no base URL (Connaisseur's ``host.rekorPubkey``).
    checkpoint_names: tuple[str, ...] = ()


@attrs.frozen
class Authority:
    """A Fulcio CA or a TSA: its certificate chain (leaf-most first) and validity."""

    name: str
    chain: tuple[x509.Certificate, ...]
    validity: Validity

    @property
    def root(self) -> x509.Certificate:
        """The trust anchor: the chain's last certificate."""
        return self.chain[-1]

    @property
    def intermediates(self) -> tuple[x509.Certificate, ...]:
        """The certificates between the anchor and what it certifies."""
        return self.chain[:-1]


@attrs.frozen
class TrustedRoot:
    """Everything a bundle is verified against."""

    certificate_authorities: tuple[Authority, ...] = ()
    tlogs: tuple[LogKey, ...] = ()
    ctlogs: tuple[LogKey, ...] = ()
    timestamp_authorities: tuple[Authority, ...] = ()

    def tlog(self, log_id: bytes) -> LogKey | None:
        """The transparency log with this id, if trusted."""
        return next((log for log in self.tlogs if log.log_id == log_id), None)

    def ctlog(self, log_id: bytes) -> LogKey | None:
        """The CT log with this id, if trusted."""
        return next((log for log in self.ctlogs if log.log_id == log_id), None)


def parse_trusted_root(text: str | bytes) -> TrustedRoot:
    """Parse a ``trusted_root.json``.

    Raises:
        TrustRootError: not JSON, an unknown media type, or an unusable entry.
    """
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        raise TrustRootError("the trusted root is not JSON") from None
    if not isinstance(document, dict):
        raise TrustRootError("the trusted root is not a JSON object")
    media_type = document.get("mediaType")
    if not isinstance(media_type, str) or media_type not in MEDIA_TYPES:
        raise TrustRootError(f"the trusted root's mediaType {quoted(media_type)} is not known")
    return TrustedRoot(
        certificate_authorities=tuple(
            _authority(item, f"certificateAuthorities[{i}]")
            for i, item in enumerate(_r.array(document, "certificateAuthorities", "", _MAX_ITEMS))
        ),
        tlogs=tuple(
            _log(item, f"tlogs[{i}]", checkpoints=True)
            for i, item in enumerate(_r.array(document, "tlogs", "", _MAX_ITEMS))
        ),
        ctlogs=tuple(
            _log(item, f"ctlogs[{i}]")
            for i, item in enumerate(_r.array(document, "ctlogs", "", _MAX_ITEMS))
        ),
        timestamp_authorities=tuple(
            _authority(item, f"timestampAuthorities[{i}]")
            for i, item in enumerate(_r.array(document, "timestampAuthorities", "", _MAX_ITEMS))
        ),
    )


def load_key(der: bytes, what: str) -> PublicKeyTypes:
    """A public key from DER SubjectPublicKeyInfo (or PKCS#1 RSA): ECDSA, RSA or Ed25519."""
    try:
        key = serialization.load_der_public_key(der)
    except (ValueError, UnsupportedAlgorithm):
        raise TrustRootError(f"{what} is not a DER public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        raise TrustRootError(f"{what} is a {type(key).__name__}, not ECDSA, RSA or Ed25519")
    return key


def _validity(item: dict[str, Any], path: str) -> Validity:
    window = _r.obj(item, "validFor", path)
    start = _r.time(window, "start", f"{path}.validFor")
    if start is None:
        raise TrustRootError(f"{path}.validFor.start is missing")
    return Validity(start, _r.time(window, "end", f"{path}.validFor"))


def _log(item: Any, path: str, *, checkpoints: bool = False) -> LogKey:
    if not isinstance(item, dict):
        raise TrustRootError(f"{path} is not an object")
    public_key = _r.obj(item, "publicKey", path)
    base_url = _r.opt_text(item, "baseUrl", path)
    return LogKey(
        name=(base_url or path)[:200],
        log_id=_r.raw(_r.obj(item, "logId", path), "keyId", f"{path}.logId"),
        key=load_key(_r.raw(public_key, "rawBytes", f"{path}.publicKey"), f"{path}.publicKey"),
        validity=_validity(public_key, f"{path}.publicKey"),
        checkpoint_names=_checkpoint_names(base_url, f"{path}.baseUrl")
        if checkpoints and base_url
        else (),
    )


def _checkpoint_names(base_url: str, path: str) -> tuple[str, ...]:
    """The host of ``base_url`` and the URL without scheme (and trailing ``/``): Rekor v1
    writes ``host[:port] - <tree id>`` as the origin, Rekor v2 (rekor-tiles) the host."""
    # A scheme-less URL (allowed by the proto) is read as a network location.
    try:
        parts = urlsplit(base_url if "://" in base_url else "//" + base_url)
        host = parts.hostname
    except ValueError:
        host = None
    if not host:
        raise TrustRootError(f"{path} {quoted(base_url)} names no host")
    schemeless = (parts.netloc.rpartition("@")[2] + parts.path).rstrip("/")
    return tuple(dict.fromkeys((host, schemeless.lower())))


def _authority(item: Any, path: str) -> Authority:
    if not isinstance(item, dict):
        raise TrustRootError(f"{path} is not an object")
    chain = _r.obj(item, "certChain", path)
    raws = _r.array(chain, "certificates", f"{path}.certChain", _MAX_CHAIN)
    if not raws:
        raise TrustRootError(f"{path}.certChain has no certificate")
    certificates = []
    for i, raw in enumerate(raws):
        where = f"{path}.certChain.certificates[{i}]"
        der = _r.raw(raw if isinstance(raw, dict) else {}, "rawBytes", where)
        try:
            certificates.append(x509.load_der_x509_certificate(der))
        except ValueError:
            raise TrustRootError(f"{where} is not a DER certificate") from None
    name = _r.opt_text(item, "uri", path) or path
    return Authority(name[:200], tuple(certificates), _validity(item, path))


MAX_FILE_BYTES = 4 * 1024 * 1024
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def load_trusted_root(value: str) -> TrustedRoot:
    """``trustedRoot:`` of a cosign validator: the JSON inline (it starts with ``{``) or the
    path of a ``trusted_root.json`` file (read now, at most 4 MiB).

    Raises:
        TrustRootError: an unreadable file or an unusable trusted root.
    """
    if value.lstrip().startswith("{"):
        return parse_trusted_root(value)
    try:
        with open(value, "rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise TrustRootError(f"cannot read {value[:200]!r}: {error.strerror or error}") from None
    if len(data) > MAX_FILE_BYTES:
        raise TrustRootError(f"{value[:200]!r} is larger than {MAX_FILE_BYTES} bytes")
    return parse_trusted_root(data)


def from_host_keys(
    rekor_key: PublicKeyTypes | None,
    fulcio_certificates: tuple[x509.Certificate, ...],
    ct_log_key: PublicKeyTypes | None,
) -> TrustedRoot:
    """The trusted root that Connaisseur's ``host.rekorPubkey``, ``host.fulcioCert`` and
    ``host.ctLogPubkey`` describe: each valid forever, log ids the SHA-256 of the key's DER;
    the self-signed Fulcio certificates are anchors, the others intermediates of each."""
    always = Validity(_EPOCH, None)
    anchors = [cert for cert in fulcio_certificates if cert.issuer == cert.subject]
    others = tuple(cert for cert in fulcio_certificates if cert.issuer != cert.subject)
    return TrustedRoot(
        certificate_authorities=tuple(
            Authority("host.fulcioCert", (*others, anchor), always) for anchor in anchors
        ),
        tlogs=() if rekor_key is None else (_host_log("host.rekorPubkey", rekor_key, always),),
        ctlogs=() if ct_log_key is None else (_host_log("host.ctLogPubkey", ct_log_key, always),),
    )


def _host_log(name: str, key: PublicKeyTypes, validity: Validity) -> LogKey:
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return LogKey(name, hashlib.sha256(der).digest(), key, validity)
