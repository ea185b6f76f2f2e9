"""Builds small, really signed Notary v1 repositories for tests (and fake Notary servers).

Keys are generated with ``cryptography`` (ECDSA P-256, RSA 2048) and pynacl (Ed25519); root
keys default to ``ecdsa-x509`` self-signed certificates with CN = GUN, as notary issues them.
Documents are served compactly, signed over kenner's canonical JSON (whose byte-exactness is
proven separately on real notary data).

    builder = RepositoryBuilder()
    digest = builder.add_target("v1", b"manifest bytes")
    repo = builder.build()          # repo.files, repo.delegations, repo.rotation_roots
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import nacl.signing
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from kenner.tuf.canonical import canonical_json
from kenner.tuf.keys import PublicKey, key_from_metadata, key_id

FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)
METHODS = {"ecdsa": "ecdsa", "rsa": "rsapss", "ed25519": "eddsa"}


@attrs.frozen
class SigningKey:
    """A private key plus its TUF key object (``keytype``, base64 ``public``)."""

    keytype: str
    private: Any = attrs.field(repr=False)
    public_b64: str

    @property
    def key_id(self) -> str:
        return key_id(self.keytype, self.public_b64)

    @property
    def public_key(self) -> PublicKey:
        return key_from_metadata(self.keytype, self.public_b64)

    @property
    def method(self) -> str:
        return METHODS[self.keytype.removesuffix("-x509")]

    def pem(self) -> str:
        """The bare public key as PEM (what an operator pins)."""
        if self.keytype == "ed25519":
            raw = bytes(self.private.verify_key)
            public: Any = ed25519.Ed25519PublicKey.from_public_bytes(raw)
        else:
            public = self.private.public_key()
        pem: bytes = public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return pem.decode()

    def sign(self, message: bytes) -> bytes:
        family = self.keytype.removesuffix("-x509")
        if family == "ed25519":
            return bytes(self.private.sign(message).signature)
        if family == "rsa":
            pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
            return bytes(self.private.sign(message, pss, hashes.SHA256()))
        r, s = decode_dss_signature(self.private.sign(message, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def signature_entry(self, message: bytes) -> dict[str, str]:
        value = base64.b64encode(self.sign(message)).decode()
        return {"keyid": self.key_id, "method": self.method, "sig": value}


def generate_key(keytype: str = "ecdsa", common_name: str = "kenner.test/repo") -> SigningKey:
    """A fresh key of a notary key type (``ecdsa``, ``ecdsa-x509``, ``rsa``, ``rsa-x509``,
    ``ed25519``)."""
    if keytype == "ed25519":
        signing = nacl.signing.SigningKey.generate()
        return SigningKey(keytype, signing, base64.b64encode(bytes(signing.verify_key)).decode())
    private: Any = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if keytype.startswith("rsa")
        else ec.generate_private_key(ec.SECP256R1())
    )
    if keytype.endswith("-x509"):
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        start = datetime(2020, 1, 1, tzinfo=UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(private.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + timedelta(days=3650))
            .sign(private, hashes.SHA256())
        )
        material = certificate.public_bytes(serialization.Encoding.PEM)
    else:
        material = private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    return SigningKey(keytype, private, base64.b64encode(material).decode())


def sign_document(signed: dict[str, Any], signers: Sequence[SigningKey]) -> bytes:
    """Serve ``signed`` compactly with one signature per signer (``signed`` first, like notary)."""
    message = canonical_json(signed)
    document = {"signed": signed, "signatures": [key.signature_entry(message) for key in signers]}
    return json.dumps(document, separators=(",", ":")).encode()


def file_meta(raw: bytes) -> dict[str, Any]:
    return {
        "hashes": {"sha256": base64.b64encode(hashlib.sha256(raw).digest()).decode()},
        "length": len(raw),
    }


def expiry_text(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.123456789Z")


@attrs.frozen
class BuiltRepository:
    """Served bytes: top-level roles, delegated roles (None = 404) and versioned roots."""

    files: dict[str, bytes]
    delegations: dict[str, bytes | None]
    rotation_roots: dict[int, bytes]


@attrs.define
class RootVersion:
    keys: list[SigningKey]
    threshold: int
    signers: list[SigningKey]


@attrs.define
class RepositoryBuilder:
    """A mutable description of a repository; :meth:`build` signs and serialises it."""

    gun: str = "kenner.test/team/app"
    roots: list[RootVersion] = attrs.Factory(list)
    role_keys: dict[str, list[SigningKey]] = attrs.Factory(dict)
    thresholds: dict[str, int] = attrs.Factory(dict)
    signers: dict[str, list[SigningKey]] = attrs.Factory(dict)
    expires: dict[str, datetime] = attrs.Factory(dict)
    versions: dict[str, int] = attrs.Factory(dict)
    targets: dict[str, dict[str, Any]] = attrs.Factory(lambda: {"targets": {}})
    delegations: list[dict[str, Any]] = attrs.Factory(list)
    delegation_keys: dict[str, SigningKey] = attrs.Factory(dict)
    unpublished: set[str] = attrs.Factory(set)

    def __attrs_post_init__(self) -> None:
        if not self.roots:
            root_key = generate_key("ecdsa-x509", self.gun)
            self.roots.append(RootVersion([root_key], 1, [root_key]))
        for role in ("timestamp", "snapshot", "targets"):
            self.role_keys.setdefault(role, [generate_key("ecdsa")])

    @classmethod
    def create(
        cls, root_key: SigningKey | None = None, role_keytype: str = "ecdsa"
    ) -> RepositoryBuilder:
        """A builder whose root is ``root_key`` and whose other roles use ``role_keytype``."""
        roots = [RootVersion([root_key], 1, [root_key])] if root_key is not None else []
        role_keys = {r: [generate_key(role_keytype)] for r in ("timestamp", "snapshot", "targets")}
        return cls(roots=roots, role_keys=role_keys)

    @property
    def root_key(self) -> SigningKey:
        """The first key of the current root (what a test pins by default)."""
        return self.roots[-1].keys[0]

    def keys_of(self, role: str) -> list[SigningKey]:
        return self.roots[-1].keys if role == "root" else self.role_keys[role]

    def add_target(self, name: str, manifest: bytes, role: str = "targets") -> str:
        """Sign ``name`` -> ``manifest`` in ``role``; returns ``sha256:<hex>``."""
        digest = hashlib.sha256(manifest).digest()
        entry = {"hashes": {"sha256": base64.b64encode(digest).decode()}, "length": len(manifest)}
        self.targets.setdefault(role, {})[name] = entry
        return f"sha256:{digest.hex()}"

    def delegate(
        self,
        name: str,
        keys: Sequence[SigningKey],
        threshold: int = 1,
        paths: Sequence[str] | None = ("",),
        publish: bool = True,
        path_hash_prefixes: Sequence[str] | None = None,
    ) -> None:
        """Declare ``targets/<name>`` in targets.json (and publish its metadata)."""
        role: dict[str, Any] = {
            "name": name,
            "keyids": [k.key_id for k in keys],
            "threshold": threshold,
        }
        if paths is not None:
            role["paths"] = list(paths)
        if path_hash_prefixes is not None:
            role["path_hash_prefixes"] = list(path_hash_prefixes)
        self.delegations.append(role)
        self.delegation_keys.update({k.key_id: k for k in keys})
        self.targets.setdefault(name, {})
        if not publish:
            self.unpublished.add(name)

    def rotate_root(
        self, new_keys: Sequence[SigningKey], threshold: int = 1, signed_by_previous: bool = True
    ) -> None:
        """Publish a new root version listing ``new_keys`` (signed by old and new keys)."""
        previous = self.roots[-1]
        signers = list(new_keys) + (previous.keys if signed_by_previous else [])
        self.roots.append(RootVersion(list(new_keys), threshold, signers))

    def _document(self, role: str, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "_type": kind,
            "expires": expiry_text(self.expires.get(role, FAR_FUTURE)),
            "version": self.versions.get(role, 1),
            **body,
        }

    def _root(self, index: int) -> bytes:
        root = self.roots[index]
        keys = {
            k.key_id: {"keytype": k.keytype, "keyval": {"private": None, "public": k.public_b64}}
            for k in root.keys + [k for ks in self.role_keys.values() for k in ks]
        }
        roles = {"root": {"keyids": [k.key_id for k in root.keys], "threshold": root.threshold}}
        for role, role_keys in self.role_keys.items():
            roles[role] = {
                "keyids": [k.key_id for k in role_keys],
                "threshold": self.thresholds.get(role, 1),
            }
        signed = self._document(
            "root", "Root", {"consistent_snapshot": False, "keys": keys, "roles": roles}
        )
        signed["version"] = index + 1
        current = index == len(self.roots) - 1
        signers = self.signers["root"] if current and "root" in self.signers else root.signers
        return sign_document(signed, signers)

    def _sign(self, role: str, signed: dict[str, Any], default: Sequence[SigningKey]) -> bytes:
        return sign_document(signed, self.signers.get(role, list(default)))

    def build(self) -> BuiltRepository:
        delegated: dict[str, bytes | None] = {}
        for role in self.delegations:
            name = role["name"]
            signed = self._document(
                name,
                "Targets",
                {"delegations": {"keys": {}, "roles": []}, "targets": self.targets[name]},
            )
            keys = [self.delegation_keys[k] for k in role["keyids"]]
            delegated[name] = None if name in self.unpublished else self._sign(name, signed, keys)
        declared_keys = {
            k.key_id: {"keytype": k.keytype, "keyval": {"private": None, "public": k.public_b64}}
            for k in self.delegation_keys.values()
        }
        targets = self._sign(
            "targets",
            self._document(
                "targets",
                "Targets",
                {
                    "delegations": {"keys": declared_keys, "roles": self.delegations},
                    "targets": self.targets["targets"],
                },
            ),
            self.role_keys["targets"],
        )
        root = self._root(len(self.roots) - 1)
        meta = {"root": file_meta(root), "targets": file_meta(targets)}
        meta.update({name: file_meta(raw) for name, raw in delegated.items() if raw is not None})
        snapshot = self._sign(
            "snapshot",
            self._document("snapshot", "Snapshot", {"meta": meta}),
            self.role_keys["snapshot"],
        )
        timestamp = self._sign(
            "timestamp",
            self._document("timestamp", "Timestamp", {"meta": {"snapshot": file_meta(snapshot)}}),
            self.role_keys["timestamp"],
        )
        return BuiltRepository(
            files={"root": root, "timestamp": timestamp, "snapshot": snapshot, "targets": targets},
            delegations=delegated,
            rotation_roots={i + 1: self._root(i) for i in range(len(self.roots) - 1)},
        )
