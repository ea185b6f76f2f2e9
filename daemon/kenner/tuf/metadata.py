"""Typed views of Notary v1 role documents (root, timestamp, snapshot, targets, delegations).

Parsing checks structure only; signatures, hashes and expiry are checked by the callers in
:mod:`kenner.tuf.repository` and :mod:`kenner.tuf.delegations`. Every structural problem is a
``malformed`` :class:`~kenner.tuf.errors.TrustError` naming the role and the field.

Keys of an unsupported type (or unreadable keys) are left out of the key maps instead of
failing the document: such a key can never sign anything, exactly as TUF ignores unknown keys.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from datetime import datetime
from typing import TypeVar

import attrs

from kenner.quoting import quote
from kenner.tuf.canonical import CanonicalJSONError, canonical_json, parse_json
from kenner.tuf.errors import Reason, TrustError
from kenner.tuf.expiry import parse_expiry
from kenner.tuf.keys import KeyFormatError, PublicKey, key_from_metadata, key_id

T = TypeVar("T")

_HASH_BYTES = {"sha256": 32, "sha512": 64}


@attrs.frozen
class Signature:
    """One entry of a document's ``signatures`` list."""

    key_id: str
    method: str
    value: bytes


@attrs.frozen
class SignedDocument:
    """A served role document: its bytes, the ``signed`` object and what signs it."""

    role: str
    raw: bytes
    signed: dict[str, object]
    canonical_signed: bytes
    signatures: tuple[Signature, ...]
    version: int
    expires: datetime


@attrs.frozen
class RoleKeys:
    """Which keys may sign a role and how many distinct keys must."""

    key_ids: tuple[str, ...]
    threshold: int


@attrs.frozen
class FileMeta:
    """A ``meta`` entry of timestamp/snapshot: expected hashes (raw bytes) and length."""

    hashes: Mapping[str, bytes]
    length: int | None


@attrs.frozen
class TargetFile:
    """A signed target: manifest digest as lowercase hex (None without sha256) and length."""

    sha256: str | None
    length: int


@attrs.frozen
class Delegation:
    """A role delegated by targets.json: its keys, threshold and the targets it may sign.

    ``paths`` are name prefixes (``""`` matches every name); ``path_hash_prefixes`` are hex
    prefixes of the SHA-256 of the target name. A role has one of the two.
    """

    name: str
    keys: Mapping[str, PublicKey]
    role_keys: RoleKeys
    paths: tuple[str, ...] | None
    path_hash_prefixes: tuple[str, ...] | None


@attrs.frozen
class RootMetadata:
    document: SignedDocument
    keys: Mapping[str, PublicKey]
    roles: Mapping[str, RoleKeys]


@attrs.frozen
class TargetsMetadata:
    document: SignedDocument
    targets: Mapping[str, TargetFile]
    delegations: tuple[Delegation, ...]


def malformed(role: str, what: str) -> TrustError:
    return TrustError(Reason.MALFORMED, role, f"{role}: {what}")


def field(container: Mapping[str, object], name: str, kind: type[T], role: str) -> T:
    """``container[name]`` checked to be a ``kind`` (bool is never an int here)."""
    value = container.get(name)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise malformed(role, f"field {name!r} is missing or not a {kind.__name__}")
    return value


def parse_document(role: str, raw: bytes, expected_type: str) -> SignedDocument:
    """Parse a served document and check its ``_type`` (``Root``, ``Targets``, ...)."""
    try:
        document = parse_json(raw)
    except CanonicalJSONError as exc:
        raise malformed(role, str(exc)) from exc
    if not isinstance(document, dict):
        raise malformed(role, "document is not a JSON object")
    signed = field(document, "signed", dict, role)
    kind = field(signed, "_type", str, role)
    if kind.lower() != expected_type.lower():
        raise malformed(role, f"_type is {quote(kind)}, expected {expected_type!r}")
    try:
        canonical = canonical_json(signed)
    except CanonicalJSONError as exc:
        raise malformed(role, f"signed part cannot be canonicalised: {exc}") from exc
    signatures = []
    for entry in field(document, "signatures", list, role):
        if not isinstance(entry, dict):
            raise malformed(role, "a signature entry is not an object")
        signatures.append(
            Signature(
                field(entry, "keyid", str, role),
                field(entry, "method", str, role),
                _base64(field(entry, "sig", str, role), role, "signature"),
            )
        )
    version = field(signed, "version", int, role)
    if version < 1:
        raise malformed(role, f"version {quote(version)} is below 1")
    expires = parse_expiry(field(signed, "expires", str, role), role)
    return SignedDocument(role, raw, signed, canonical, tuple(signatures), version, expires)


def parse_root(raw: bytes) -> RootMetadata:
    document = parse_document("root", raw, "Root")
    keys = _parse_keys(field(document.signed, "keys", dict, "root"), "root")
    roles = {
        name: _parse_role_keys(spec, "root", f"roles.{quote(name)}")
        for name, spec in field(document.signed, "roles", dict, "root").items()
    }
    for needed in ("root", "timestamp", "snapshot", "targets"):
        if needed not in roles:
            raise malformed("root", f"roles has no {needed!r} entry")
    return RootMetadata(document, keys, roles)


def parse_meta(document: SignedDocument) -> dict[str, FileMeta]:
    """The ``meta`` map of a timestamp or snapshot document, keyed by role name."""
    role = document.role
    entries: dict[str, FileMeta] = {}
    for name, entry in field(document.signed, "meta", dict, role).items():
        if not isinstance(entry, dict):
            raise malformed(role, f"meta entry {quote(name)} is not an object")
        hashes = {}
        for algorithm, value in field(entry, "hashes", dict, role).items():
            if algorithm in _HASH_BYTES:
                digest = _base64(_as_str(value, role, f"meta {quote(name)} hash"), role, "hash")
                if len(digest) != _HASH_BYTES[algorithm]:
                    raise malformed(role, f"meta {quote(name)} {algorithm} has {len(digest)} bytes")
                hashes[algorithm] = digest
        if not hashes:
            raise malformed(role, f"meta {quote(name)} has no sha256 or sha512 hash")
        length = entry.get("length")
        if length is not None and (not isinstance(length, int) or isinstance(length, bool)):
            raise malformed(role, f"meta {quote(name)} length is not an integer")
        entries[name] = FileMeta(hashes, length)
    return entries


def parse_targets(role: str, raw: bytes) -> TargetsMetadata:
    """Parse targets.json or a delegated role (``targets/<name>``)."""
    document = parse_document(role, raw, "Targets")
    targets = {
        name: _parse_target(name, entry, role)
        for name, entry in field(document.signed, "targets", dict, role).items()
    }
    delegations: tuple[Delegation, ...] = ()
    declared = document.signed.get("delegations")
    if declared is not None:
        if not isinstance(declared, dict):
            raise malformed(role, "delegations is not an object")
        keys = _parse_keys(field(declared, "keys", dict, role), role)
        delegations = tuple(
            _parse_delegation(entry, keys, role) for entry in field(declared, "roles", list, role)
        )
    return TargetsMetadata(document, targets, delegations)


def _parse_keys(objects: dict[str, object], role: str) -> dict[str, PublicKey]:
    keys = {}
    for declared_id, key_object in objects.items():
        if not isinstance(key_object, dict):
            raise malformed(role, f"key {quote(declared_id)} is not an object")
        keytype = field(key_object, "keytype", str, role)
        public = field(field(key_object, "keyval", dict, role), "public", str, role)
        if key_id(keytype, public) != declared_id:
            # Notary refuses a key listed under an id that is not its own content hash.
            raise malformed(role, f"key id {quote(declared_id)} does not match its key")
        try:
            keys[declared_id] = key_from_metadata(keytype, public)
        except KeyFormatError:
            continue
    return keys


def _parse_role_keys(spec: object, role: str, where: str) -> RoleKeys:
    if not isinstance(spec, dict):
        raise malformed(role, f"{where} is not an object")
    key_ids = field(spec, "keyids", list, role)
    if not all(isinstance(key, str) for key in key_ids):
        raise malformed(role, f"{where}.keyids holds a non-string")
    threshold = field(spec, "threshold", int, role)
    if threshold < 1:
        raise malformed(role, f"{where}.threshold is {quote(threshold)}, below 1")
    return RoleKeys(tuple(key_ids), threshold)


def _parse_delegation(entry: object, keys: Mapping[str, PublicKey], role: str) -> Delegation:
    if not isinstance(entry, dict):
        raise malformed(role, "a delegation entry is not an object")
    name = field(entry, "name", str, role)
    where = f"delegation {quote(name)}"
    role_keys = _parse_role_keys(entry, role, where)
    paths = _string_tuple(entry.get("paths"), role, f"{where} paths")
    prefixes = _string_tuple(entry.get("path_hash_prefixes"), role, f"{where} path_hash_prefixes")
    own_keys = {key: keys[key] for key in role_keys.key_ids if key in keys}
    return Delegation(name, own_keys, role_keys, paths, prefixes)


def _parse_target(name: str, entry: object, role: str) -> TargetFile:
    if not isinstance(entry, dict):
        raise malformed(role, f"target {quote(name)} is not an object")
    length = field(entry, "length", int, role)
    sha256 = field(entry, "hashes", dict, role).get("sha256")
    if sha256 is None:
        return TargetFile(None, length)
    digest = _base64(_as_str(sha256, role, f"target {quote(name)} sha256"), role, "target hash")
    if len(digest) != 32:
        raise malformed(role, f"target {quote(name)} sha256 has {len(digest)} bytes")
    return TargetFile(digest.hex(), length)


def _string_tuple(value: object, role: str, where: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise malformed(role, f"{where} is not a list of strings")
    return tuple(value)


def _as_str(value: object, role: str, where: str) -> str:
    if not isinstance(value, str):
        raise malformed(role, f"{where} is not a string")
    return value


def _base64(text: str, role: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:  # ValueError: text that is not ASCII
        raise malformed(role, f"{what} is not base64: {exc}") from exc
