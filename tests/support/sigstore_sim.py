"""A small Sigstore of the tests' own: a Fulcio-like CA, a Merkle log with signed checkpoints
and SETs, a CT log whose SCTs the CA embeds, and bundles signed the way cosign v3 signs an
image.

cosign v3 (``--new-bundle-format``, the default) signs an image as a DSSE envelope holding an
in-toto statement whose subject is the image manifest digest (predicate type
``https://sigstore.dev/cosign/sign/v1``), logs it in Rekor as a ``dsse`` entry and ships a
v0.3 bundle: the Fulcio certificate, the log entry with its inclusion promise and its
inclusion proof up to a signed checkpoint. Every part can be spoiled on purpose.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID, ObjectIdentifier

from kenner.certs import key_usage
from kenner.sigstore.bundle import MEDIA_TYPE_V03
from kenner.sigstore.dsse import IN_TOTO_PAYLOAD_TYPE, pae
from kenner.sigstore.merkle import leaf_hash, node_hash
from tests.support.tsa import Tsa, response, stamp

SIGNED_AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ISSUER = "https://token.actions.githubusercontent.com"
IDENTITY = "https://github.com/my-org/app/.github/workflows/release.yml@refs/heads/main"
COSIGN_PREDICATE = "https://sigstore.dev/cosign/sign/v1"
_ISSUER_OID = ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
_REPOSITORY_OID = ObjectIdentifier("1.3.6.1.4.1.57264.1.5")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


def _spki(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _utf8(text: str) -> bytes:
    data = text.encode()
    assert len(data) < 128
    return bytes((0x0C, len(data))) + data


class Ca:
    """A Fulcio-like CA: a root and an intermediate that issues ten-minute leaves."""

    def __init__(self) -> None:
        self.root_key = ec.generate_private_key(ec.SECP384R1())
        self.key = ec.generate_private_key(ec.SECP384R1())
        start, end = SIGNED_AT - timedelta(days=365), SIGNED_AT + timedelta(days=365)
        self.root = self._ca("test-fulcio-root", self.root_key, None, start, end)
        self.intermediate = self._ca("test-fulcio-intermediate", self.key, self.root, start, end)

    def _ca(
        self,
        name: str,
        key: ec.EllipticCurvePrivateKey,
        issuer: x509.Certificate | None,
        start: datetime,
        end: datetime,
    ) -> x509.Certificate:
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer.subject if issuer else subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(key_usage(cert_sign=True), critical=True)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
        )
        return builder.sign(self.root_key, hashes.SHA384())

    def leaf(
        self,
        key: ec.EllipticCurvePrivateKey,
        *,
        identity: str = IDENTITY,
        issuer: str = ISSUER,
        repository: str = "my-org/app",
        start: datetime = SIGNED_AT - timedelta(minutes=1),
        scts: Sequence[tuple[CtLog, datetime]] = (),
    ) -> x509.Certificate:
        """A leaf for ``key``; with ``scts``, each CT log's SCT dated then is embedded."""
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([]))
            .issuer_name(self.intermediate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + timedelta(minutes=10))
            .add_extension(key_usage(cert_sign=False), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False
            )
            .add_extension(
                x509.SubjectAlternativeName([x509.UniformResourceIdentifier(identity)]),
                critical=True,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
            .add_extension(x509.UnrecognizedExtension(_ISSUER_OID, _utf8(issuer)), critical=False)
            .add_extension(
                x509.UnrecognizedExtension(_REPOSITORY_OID, repository.encode()), critical=False
            )
        )
        if not scts:
            return builder.sign(self.key, hashes.SHA384())
        # RFC 6962 s3.1: the logs sign the precertificate's TBS; the final certificate adds
        # the SCT list, and its TBS without that list is the one signed.
        tbs = builder.sign(self.key, hashes.SHA384()).tbs_certificate_bytes
        issuer_spki = _spki(self.key.public_key())
        signed = b"".join(_tls(log.sct(tbs, issuer_spki, at), 2) for log, at in scts)
        extension = x509.UnrecognizedExtension(
            ExtensionOID.PRECERT_SIGNED_CERTIFICATE_TIMESTAMPS, _octet_string(_tls(signed, 2))
        )
        return builder.add_extension(extension, critical=False).sign(self.key, hashes.SHA384())


class CtLog:
    """A CT log (RFC 6962) that signs precertificate entries with an ECDSA P-256 key."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.log_id = hashlib.sha256(_spki(self.key.public_key())).digest()

    def sct(self, precert_tbs: bytes, issuer_spki: bytes, at: datetime) -> bytes:
        """The serialized v1 SCT for the precertificate entry, dated ``at``."""
        when = ((at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)).to_bytes(
            8, "big"
        )
        signed = (
            b"\x00\x00"  # v1, certificate_timestamp
            + when
            + b"\x00\x01"  # precert_entry
            + hashlib.sha256(issuer_spki).digest()
            + _tls(precert_tbs, 3)
            + _tls(b"", 2)  # no extensions
        )
        signature = self.key.sign(signed, ec.ECDSA(hashes.SHA256()))
        # v1, log id, timestamp, no extensions, SHA-256 (4) with ECDSA (3), the signature
        return b"\x00" + self.log_id + when + _tls(b"", 2) + b"\x04\x03" + _tls(signature, 2)


def _tls(data: bytes, length_bytes: int) -> bytes:
    return len(data).to_bytes(length_bytes, "big") + data


def _octet_string(data: bytes) -> bytes:
    length = len(data)
    if length < 0x80:
        return bytes((0x04, length)) + data
    size = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes((0x04, 0x80 | len(size))) + size + data


class Log:
    """A Rekor-like log: leaves, RFC 6962 roots and proofs, signed checkpoints and SETs."""

    def __init__(self, origin: str = "rekor.test - 1", key_name: str | None = None) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.log_id = hashlib.sha256(_spki(self.key.public_key())).digest()
        self.origin = origin
        # Rekor (v1 and v2) signs under the origin's host; ``key_name`` spoils that.
        self.key_name = key_name or origin.split(" ")[0]
        self.leaves: list[bytes] = []

    def append(self, body: bytes) -> int:
        self.leaves.append(body)
        return len(self.leaves) - 1

    def root(self, size: int) -> bytes:
        return _mth([leaf_hash(leaf) for leaf in self.leaves[:size]])

    def proof(self, index: int, size: int) -> list[bytes]:
        return _path(index, [leaf_hash(leaf) for leaf in self.leaves[:size]])

    def checkpoint(
        self, size: int, *, signer: ec.EllipticCurvePrivateKey | None = None, forged: bool = False
    ) -> str:
        """The signed checkpoint; ``forged`` adds a bad signature under the log's name and key
        id after the good one."""
        text = f"{self.origin}\n{size}\n{_b64(self.root(size))}\n"
        signing_key = signer or self.key
        hint = hashlib.sha256(_spki(signing_key.public_key())).digest()[:4]
        signature = signing_key.sign(text.encode(), ec.ECDSA(hashes.SHA256()))
        lines = f"\u2014 {self.key_name} {_b64(hint + signature)}\n"
        if forged:
            bad = signing_key.sign(b"another text", ec.ECDSA(hashes.SHA256()))
            lines += f"\u2014 {self.key_name} {_b64(hint + bad)}\n"
        return f"{text}\n{lines}"

    def set(self, body: bytes, integrated_time: int, index: int) -> bytes:
        canonical = json.dumps(
            {
                "body": _b64(body),
                "integratedTime": integrated_time,
                "logID": self.log_id.hex(),
                "logIndex": index,
            },
            sort_keys=True,
            separators=(",", ":"),
        ).encode()
        return self.key.sign(canonical, ec.ECDSA(hashes.SHA256()))


def _mth(hashes_: list[bytes]) -> bytes:
    # RFC 6962 2.1: MTH of the empty list is SHA-256 of nothing; split at the largest power
    # of two smaller than n.
    if not hashes_:
        return hashlib.sha256(b"").digest()
    if len(hashes_) == 1:
        return hashes_[0]
    split = 1 << ((len(hashes_) - 1).bit_length() - 1)
    return node_hash(_mth(hashes_[:split]), _mth(hashes_[split:]))


def _path(index: int, hashes_: list[bytes]) -> list[bytes]:
    # RFC 6962 2.1.1 PATH(m, D[n]), bottom up.
    if len(hashes_) <= 1:
        return []
    split = 1 << ((len(hashes_) - 1).bit_length() - 1)
    if index < split:
        return [*_path(index, hashes_[:split]), _mth(hashes_[split:])]
    return [*_path(index - split, hashes_[split:]), _mth(hashes_[:split])]


@attrs.define
class Signing:
    """What one cosign-v3-style signature is made of (change fields to spoil it)."""

    digest: str  # the image manifest digest, sha256:<hex>
    ca: Ca
    log: Log
    key: ec.EllipticCurvePrivateKey = attrs.field(
        factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    certificate: x509.Certificate | None = None
    subject_digest: str | None = None  # what the statement names (default: digest)
    integrated_time: datetime = SIGNED_AT
    earlier_entries: int = 5  # other leaves before ours, so that the proof has a path
    keyed: bool = False  # a key-based bundle (public key hint) instead of a Fulcio one
    # Rekor v2: a dsse 0.0.2 entry without SET, dated by a timestamp of ``tsa`` at
    # ``stamped_at`` (a Rekor v1 bundle gets that timestamp too when ``tsa`` is set).
    rekor_v2: bool = False
    # Rekor v1 entry kind: ``dsse`` 0.0.1 (cosign v3) or ``intoto`` 0.0.2 (cosign v2 attest)
    rekor_kind: str = "dsse"
    tsa: Tsa | None = None
    stamped_at: datetime = SIGNED_AT

    def statement(self) -> bytes:
        algorithm, _, value = (self.subject_digest or self.digest).partition(":")
        return json.dumps(
            {
                "_type": "https://in-toto.io/Statement/v1",
                "subject": [{"name": "registry.test/app", "digest": {algorithm: value}}],
                "predicateType": COSIGN_PREDICATE,
                "predicate": {},
            }
        ).encode()


def cosign_v3_bundle(signing: Signing, **spoil: Any) -> dict[str, Any]:
    """The bundle cosign v3 would attach to the image; ``spoil`` keys change one part:
    ``payload`` (bytes signed, another shipped), ``proof_hash`` (a flipped path hash),
    ``checkpoint_signer`` (a key of another log), ``forged_cosignature`` (a second, bad
    signature under the log's name and key id), ``body`` (a function that changes the body's
    dict before it is logged)."""
    payload = signing.statement()
    signature = signing.key.sign(pae(IN_TOTO_PAYLOAD_TYPE, payload), ec.ECDSA(hashes.SHA256()))
    if signing.keyed:
        pem = signing.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        material: dict[str, Any] = {"publicKey": {"hint": "release-key"}}
    else:
        certificate = signing.certificate or signing.ca.leaf(signing.key)
        pem = certificate.public_bytes(serialization.Encoding.PEM)
        material = {"certificate": {"rawBytes": _b64(_der(certificate))}}
    if signing.rekor_v2:
        return _rekor_v2_bundle(signing, payload, signature, material, spoil)
    document = _rekor_v1_body(signing.rekor_kind, payload, signature, pem)
    spoiled = spoil.get("body", lambda same: same)(document)
    body = json.dumps(spoiled, separators=(",", ":")).encode()
    log = signing.log
    for number in range(signing.earlier_entries):
        log.append(f"earlier entry {number} {len(log.leaves)}".encode())
    index = log.append(body)
    size = len(log.leaves)
    integrated = int(signing.integrated_time.timestamp())
    hashes_ = log.proof(index, size)
    if spoil.get("proof_hash") and hashes_:
        hashes_[0] = bytes([hashes_[0][0] ^ 1]) + hashes_[0][1:]
    shipped = spoil.get("payload", payload)
    timestamps = _timestamps(signing, signature)
    return {
        "mediaType": MEDIA_TYPE_V03,
        "verificationMaterial": {
            **material,
            "tlogEntries": [
                {
                    "logIndex": str(index),
                    "logId": {"keyId": _b64(log.log_id)},
                    "kindVersion": {"kind": document["kind"], "version": document["apiVersion"]},
                    "integratedTime": str(integrated),
                    "inclusionPromise": {
                        "signedEntryTimestamp": _b64(log.set(body, integrated, index))
                    },
                    "inclusionProof": {
                        "logIndex": str(index),
                        "rootHash": _b64(log.root(size)),
                        "treeSize": str(size),
                        "hashes": [_b64(node) for node in hashes_],
                        "checkpoint": {
                            "envelope": log.checkpoint(
                                size,
                                signer=spoil.get("checkpoint_signer"),
                                forged=spoil.get("forged_cosignature", False),
                            )
                        },
                    },
                    "canonicalizedBody": _b64(body),
                }
            ],
            **timestamps,
        },
        "dsseEnvelope": {
            "payload": _b64(shipped),
            "payloadType": IN_TOTO_PAYLOAD_TYPE,
            "signatures": [{"sig": _b64(signature), "keyid": ""}],
        },
    }


def _rekor_v1_body(kind: str, payload: bytes, signature: bytes, pem: bytes) -> dict[str, Any]:
    """The canonicalized body Rekor v1 logs for a DSSE envelope, as ``kind``."""
    payload_hash = {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()}
    if kind == "intoto":
        # intoto 0.0.2: the signature's base64 text is encoded again, the signer is a PEM;
        # ``hash`` (of the submitted envelope JSON) is any digest, as kenner cannot check it
        envelope = {
            "payloadType": IN_TOTO_PAYLOAD_TYPE,
            "signatures": [{"sig": _b64(_b64(signature).encode()), "publicKey": _b64(pem)}],
        }
        content = {
            "envelope": envelope,
            "hash": {"algorithm": "sha256", "value": "11" * 32},
            "payloadHash": payload_hash,
        }
        return {"apiVersion": "0.0.2", "kind": "intoto", "spec": {"content": content}}
    return {
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {
            "envelopeHash": {"algorithm": "sha256", "value": "00" * 32},
            "payloadHash": payload_hash,
            "signatures": [{"signature": _b64(signature), "verifier": _b64(pem)}],
        },
    }


def _timestamps(signing: Signing, signature: bytes) -> dict[str, Any]:
    if signing.tsa is None:
        return {}
    token = stamp(signing.tsa, signature, at=signing.stamped_at)
    return {
        "timestampVerificationData": {
            "rfc3161Timestamps": [{"signedTimestamp": _b64(response(token))}]
        }
    }


def _rekor_v2_bundle(
    signing: Signing,
    payload: bytes,
    signature: bytes,
    material: dict[str, Any],
    spoil: dict[str, Any],
) -> dict[str, Any]:
    if signing.keyed:
        verifier: dict[str, Any] = {
            "publicKey": {"rawBytes": _b64(_spki(signing.key.public_key()))}
        }
    else:
        verifier = {"x509Certificate": material["certificate"]}
    body = json.dumps(
        {
            "apiVersion": "0.0.2",
            "kind": "dsse",
            "spec": {
                "dsseV002": {
                    "payloadHash": {
                        "algorithm": "SHA2_256",
                        "digest": _b64(hashlib.sha256(payload).digest()),
                    },
                    "signatures": [
                        {
                            "content": _b64(signature),
                            "verifier": {**verifier, "keyDetails": "PKIX_ECDSA_P256_SHA_256"},
                        }
                    ],
                }
            },
        },
        separators=(",", ":"),
    ).encode()
    log = signing.log
    for number in range(signing.earlier_entries):
        log.append(f"earlier entry {number} {len(log.leaves)}".encode())
    index = log.append(body)
    size = len(log.leaves)
    return {
        "mediaType": MEDIA_TYPE_V03,
        "verificationMaterial": {
            **material,
            "tlogEntries": [
                {
                    "logIndex": str(index),
                    "logId": {"keyId": _b64(log.log_id)},
                    "kindVersion": {"kind": "dsse", "version": "0.0.2"},
                    "inclusionProof": {
                        "logIndex": str(index),
                        "rootHash": _b64(log.root(size)),
                        "treeSize": str(size),
                        "hashes": [_b64(node) for node in log.proof(index, size)],
                        "checkpoint": {"envelope": log.checkpoint(size)},
                    },
                    "canonicalizedBody": _b64(body),
                }
            ],
            **_timestamps(signing, signature),
        },
        "dsseEnvelope": {
            "payload": _b64(spoil.get("payload", payload)),
            "payloadType": IN_TOTO_PAYLOAD_TYPE,
            "signatures": [{"sig": _b64(signature), "keyid": ""}],
        },
    }


#: A ``validFor`` window: start, end (None: open).
Window = tuple[datetime, datetime | None]
YEAR_BEFORE: Window = (SIGNED_AT - timedelta(days=365), None)


def _valid_for(window: Window) -> dict[str, str]:
    start, end = window
    times = {"start": start} if end is None else {"start": start, "end": end}
    return {key: when.strftime("%Y-%m-%dT%H:%M:%SZ") for key, when in times.items()}


def trusted_root(
    ca: Ca,
    log: Log,
    tsa: Tsa | None = None,
    *,
    ct_logs: Sequence[tuple[CtLog, Window]] = (),
    base_url: str | None = "https://rekor.test",
    ca_window: Window = YEAR_BEFORE,
    log_window: Window = YEAR_BEFORE,
    tsa_window: Window = YEAR_BEFORE,
) -> dict[str, Any]:
    """A ``trusted_root.json`` for the CA, the log, the TSA and the CT logs (none: SCTs are
    not checked), each valid in its window (default: from a year before ``SIGNED_AT``)."""
    tlog: dict[str, Any] = {
        "hashAlgorithm": "SHA2_256",
        "publicKey": {
            "rawBytes": _b64(_spki(log.key.public_key())),
            "keyDetails": "PKIX_ECDSA_P256_SHA_256",
            "validFor": _valid_for(log_window),
        },
        "logId": {"keyId": _b64(log.log_id)},
    }
    if base_url is not None:
        tlog["baseUrl"] = base_url
    return {
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "tlogs": [tlog],
        "certificateAuthorities": [
            {
                "uri": "https://fulcio.test",
                "certChain": {
                    "certificates": [
                        {"rawBytes": _b64(_der(ca.intermediate))},
                        {"rawBytes": _b64(_der(ca.root))},
                    ]
                },
                "validFor": _valid_for(ca_window),
            }
        ],
        "ctlogs": [
            {
                "baseUrl": f"https://ct{number}.test",
                "hashAlgorithm": "SHA2_256",
                "publicKey": {
                    "rawBytes": _b64(_spki(ct_log.key.public_key())),
                    "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                    "validFor": _valid_for(window),
                },
                "logId": {"keyId": _b64(ct_log.log_id)},
            }
            for number, (ct_log, window) in enumerate(ct_logs)
        ],
        "timestampAuthorities": []
        if tsa is None
        else [
            {
                "uri": "https://tsa.test",
                "certChain": {
                    "certificates": [
                        {"rawBytes": _b64(_der(tsa.certificate))},
                        {"rawBytes": _b64(_der(tsa.root))},
                    ]
                },
                "validFor": _valid_for(tsa_window),
            }
        ],
    }


BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
EMPTY_MEDIA_TYPE = "application/vnd.oci.empty.v1+json"
EMPTY_JSON = b"{}"


def referrer_manifest(bundle: bytes, subject_digest: str, subject_size: int) -> bytes:
    """The OCI 1.1 manifest cosign v3 attaches: ``artifactType`` the bundle's media type, the
    empty config, the bundle as its one layer, ``subject`` the image."""
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactType": BUNDLE_MEDIA_TYPE,
            "config": {
                "mediaType": EMPTY_MEDIA_TYPE,
                "digest": "sha256:" + hashlib.sha256(EMPTY_JSON).hexdigest(),
                "size": len(EMPTY_JSON),
            },
            "layers": [
                {
                    "mediaType": BUNDLE_MEDIA_TYPE,
                    "digest": "sha256:" + hashlib.sha256(bundle).hexdigest(),
                    "size": len(bundle),
                }
            ],
            "subject": {
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "digest": subject_digest,
                "size": subject_size,
            },
            "annotations": {
                "dev.sigstore.bundle.content": "dsse-envelope",
                "dev.sigstore.bundle.predicateType": COSIGN_PREDICATE,
            },
        }
    ).encode()


def referrers_index(referrers: list[tuple[str, int]]) -> bytes:
    """The referrers tag schema's index (tag ``sha256-<hex>``) listing ``(digest, size)``."""
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": digest,
                    "size": size,
                    "artifactType": BUNDLE_MEDIA_TYPE,
                }
                for digest, size in referrers
            ],
        }
    ).encode()
