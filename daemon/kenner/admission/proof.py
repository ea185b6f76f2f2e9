"""Validation proofs: kenner's keyed statement that an object's images were validated.

The shortcuts that admit an image without validating it (automatic child approval, automatic
unchanged approval) trust another object: the owner, or the object before the update. They may
only trust what kenner itself validated under the policy in force now. The proof records that:

- When kenner allows a workload object with every image trusted (or skipped on a verified
  proof), in enforcing mode, its JSON patch sets the annotation ``kenner.dev/proof``.
- Its value is ``v1:<key id>:<policy>:<mac>``: the key id (16 hex digits derived from the
  key), the first 12 hex digits of the policy hash (so a log can say "another policy") and
  the HMAC-SHA256, keyed by a secret only kenner holds, of a canonical JSON array of a label,
  the namespace, the full policy hash and the sorted ``(JSON pointer, image)`` pairs of the
  object's images as admitted (after pinning: what the API server stores).
- The kind is deliberately not bound: the Deployment controller copies a Deployment's
  annotations onto its ReplicaSets (and restores them on every sync), so the ReplicaSet's own
  proof must be the very value its Deployment carries, or kenner and the controller would
  overwrite each other without end. Kinds with a pod template share its JSON pointers, a Pod
  or a CronJob has others, and no verdict depends on the kind, so a proof stays a statement
  about exactly these images at exactly these places in this namespace.
- The policy hash is a SHA-256 over a canonical dump of everything that changes a verdict:
  validators (credentials left out: they change access, not trust), policy rules, features.
  It is computed once per configuration snapshot.
- Verification is pure and never raises: any value that is not exactly the proof kenner would
  write now for that namespace and image list (compared in constant time) does not verify,
  and the result says why without quoting secrets.

A proof binds no name or UID: copying it to another object in the same namespace with the
very same images at the same places only claims what is true of that object too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping
from typing import Any

import attrs
import orjson

from kenner.admission.workload import WorkloadError, extract_images
from kenner.config.model import Config

ANNOTATION = "kenner.dev/proof"
# RFC 6901: "/" in a member name is written "~1".
ANNOTATION_POINTER = "/metadata/annotations/" + ANNOTATION.replace("~", "~0").replace("/", "~1")
VERSION = "v1"
MIN_KEY_BYTES = 32
# A genuine value is 76 characters; anything much longer is not worth parsing.
MAX_VALUE_CHARS = 200
_LABEL = "kenner.dev/proof v1"
_KEY_ID_LABEL = b"kenner.dev/proof key id\x00"
_POLICY_PREFIX_CHARS = 12

ImagePairs = Iterable[tuple[str, str]]


def _key_id(key: ProofKey) -> str:
    return hashlib.sha256(_KEY_ID_LABEL + key.secret).hexdigest()[:16]


@attrs.frozen
class ProofKey:
    """The HMAC key; its id is derived from it (a new key makes every older proof fail)."""

    secret: bytes = attrs.field(repr=False)
    key_id: str = attrs.field(init=False, default=attrs.Factory(_key_id, takes_self=True))

    @secret.validator
    def _long_enough(self, _: attrs.Attribute[bytes], secret: bytes) -> None:
        if len(secret) < MIN_KEY_BYTES:
            raise ValueError(f"a proof key needs at least {MIN_KEY_BYTES} bytes")

    @classmethod
    def random(cls) -> ProofKey:
        """A fresh key: proofs made with it die with the process."""
        return cls(secrets.token_bytes(MIN_KEY_BYTES))


def policy_hash(config: Config) -> str:
    """SHA-256 (hex) of a canonical dump of what changes a verdict under ``config``."""

    def keep(attribute: attrs.Attribute[Any], _: object) -> bool:
        return attribute.name != "auth"  # credentials: access, not trust (and secret)

    dump = {
        "validators": [attrs.asdict(v, filter=keep) for v in config.validators],
        "policy": [attrs.asdict(rule) for rule in config.policy],
        "features": attrs.asdict(config.features),
    }
    return hashlib.sha256(orjson.dumps(dump, option=orjson.OPT_SORT_KEYS)).hexdigest()


@attrs.frozen
class Verification:
    """Whether a proof verified, and if not, why (never quoting the key or the MAC)."""

    ok: bool
    reason: str


# Seals a prover remembers (see ``Prover.seal``): a workload's images repeat on every request
# for it, and the MAC is a pure function of the key, the policy hash and the arguments. Only
# small arguments are kept (at most 8 images, 4 KiB of text), so the memory stays bounded
# (256 entries) whatever the requests hold.
SEAL_CACHE_ENTRIES = 256
SEAL_CACHE_MAX_IMAGES = 8
SEAL_CACHE_MAX_CHARS = 4096

SealKey = tuple[str, tuple[tuple[str, str], ...]]


@attrs.frozen
class Prover:
    """Makes and checks proofs under one key and one configuration's policy hash."""

    key: ProofKey
    policy_hash: str
    _seals: dict[SealKey, str] = attrs.field(factory=dict, init=False, eq=False, repr=False)

    @classmethod
    def for_config(cls, config: Config, key: ProofKey) -> Prover:
        """The prover of a configuration snapshot (hashes the policy once)."""
        return cls(key, policy_hash(config))

    def seal(self, namespace: str, images: ImagePairs) -> str:
        """The annotation value proving that these images were validated in ``namespace``.

        Remembered for small image lists (``SEAL_CACHE_MAX_IMAGES``): the same value costs a
        dictionary look-up instead of a canonical dump and an HMAC on every request.
        """
        pairs = tuple(sorted(images))
        if len(pairs) > SEAL_CACHE_MAX_IMAGES or _chars(namespace, pairs) > SEAL_CACHE_MAX_CHARS:
            return self._seal(namespace, pairs)
        remembered = self._seals.get((namespace, pairs))
        if remembered is None:
            remembered = self._seal(namespace, pairs)
            if len(self._seals) >= SEAL_CACHE_ENTRIES:
                self._seals.clear()  # simplest bound; a busy cluster refills it at once
            self._seals[namespace, pairs] = remembered
        return remembered

    def _seal(self, namespace: str, pairs: tuple[tuple[str, str], ...]) -> str:
        message = orjson.dumps([_LABEL, namespace, self.policy_hash, pairs])
        mac = hmac.digest(self.key.secret, message, "sha256")
        encoded = base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")
        policy = self.policy_hash[:_POLICY_PREFIX_CHARS]
        return f"{VERSION}:{self.key.key_id}:{policy}:{encoded}"

    def verify(self, value: object, namespace: str, images: ImagePairs) -> Verification:
        """Check an annotation value (of any JSON type) against these facts; never raises."""
        if value is None:
            return Verification(False, "it carries no proof")
        if not isinstance(value, str) or not value.isascii() or len(value) > MAX_VALUE_CHARS:
            return Verification(False, "its proof is malformed")
        parts = value.split(":")
        if len(parts) != 4 or parts[0] != VERSION:
            return Verification(False, "its proof is malformed")
        if parts[1] != self.key.key_id:
            return Verification(False, "its proof was made with another key")
        if parts[2] != self.policy_hash[:_POLICY_PREFIX_CHARS]:
            return Verification(False, "its proof was made under another policy")
        expected = self.seal(namespace, images)
        if not hmac.compare_digest(expected.encode("ascii"), value.encode("ascii")):
            return Verification(False, "its proof does not match its images or namespace")
        return Verification(True, "proof verified")

    def verify_object(self, obj: Mapping[str, Any], namespace: str, kind: str) -> Verification:
        """Check the proof ``obj`` (of ``kind``) carries against its own images as stored."""
        try:
            sites = extract_images(kind, obj)
        except WorkloadError:
            return Verification(False, "its images cannot be read")
        pairs = [(site.pointer, site.image) for site in sites]
        return self.verify(proof_of(obj), namespace, pairs)


def _chars(namespace: str, pairs: tuple[tuple[str, str], ...]) -> int:
    return len(namespace) + sum(len(pointer) + len(image) for pointer, image in pairs)


def proof_of(obj: Mapping[str, Any]) -> object:
    """The ``kenner.dev/proof`` annotation's value as found (any JSON type), None if absent."""
    metadata = obj.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, Mapping) else None
    return annotations.get(ANNOTATION) if isinstance(annotations, Mapping) else None


def proof_patch(obj: Mapping[str, Any], value: str) -> dict[str, Any] | None:
    """The JSON patch operation that sets the proof on ``obj`` (replacing any value there).

    None when ``metadata`` or ``metadata.annotations`` is there but not a mapping: the API
    server refuses such an object anyway, and no proof is the safe side.
    """
    metadata = obj.get("metadata")
    if metadata is None:
        return {"op": "add", "path": "/metadata", "value": {"annotations": {ANNOTATION: value}}}
    if not isinstance(metadata, Mapping):
        return None
    annotations = metadata.get("annotations")
    if annotations is None:
        return {"op": "add", "path": "/metadata/annotations", "value": {ANNOTATION: value}}
    if not isinstance(annotations, Mapping):
        return None
    # "add" on an existing member replaces it (RFC 6902 4.1).
    return {"op": "add", "path": ANNOTATION_POINTER, "value": value}
