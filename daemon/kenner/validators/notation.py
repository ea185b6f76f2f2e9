"""``type: notation``: Notary Project signatures attached to the image as OCI referrers.

A sans-IO step (``kenner.validators.base``) around the pure verifier in ``kenner.notation``;
the driver (``kenner.validators.driver``) fetches, caches and shares. For one image it:

1. works out which trust roots must sign and how many (``kenner.cosign.threshold``, the same
   rules as cosign: a named root, or ``"*"`` with ``threshold`` / ``required``);
2. by tag, reads what the tag names (a ``Manifest`` need): its digest;
3. needs the signers of the digest (a ``Derived`` need keyed by ``SignatureKey``, cached and
   derived once for concurrent requests). The derivation reads, at the same time, the
   referrers of the digest with ``artifactType application/vnd.cncf.notary.signature`` (a
   ``Referrers`` need: the referrers API, else the referrers tag schema,
   ``kenner.net.referrers``) and, for a reference by digest, the manifest itself: its digest,
   media type and size are the target descriptor every signature must name (by tag, the
   step's read gives them). Then every listed signature manifest by digest, then the
   envelope in its one ``application/jose+json`` or ``application/cose`` layer, each step for
   all signatures at once: cold, three round trips by digest, four by tag (with or without a
   referrers API: ``list_referrers`` asks it and the referrers tag at once);
4. verifies every envelope for every root in use (``kenner.notation.verify_envelope``), a
   ``Compute`` need in a worker thread (a chain costs about a millisecond), at one clock
   reading (a ``Compute`` fact); failures the verification level only logs are logged once,
   when the findings are derived.

A listed signature whose manifest or envelope cannot be read or used (a registry error, a
manifest whose ``subject`` is another image or of another artifact type, an envelope over
256 KiB) counts as a signature that does not verify, with that reason; the driver's first
failure also ends the reads still under way for the other signatures of the step, which then
count as unread with it (fail closed: a denial naming the failure). A listed signature the
registry does not hold (404) is skipped. A registry error on the image or on the list denies.
The findings are
cached for the cache ttl like every other validator's, so an expiry or a certificate's end is
noticed at most one ttl late.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import attrs
import trio

from kenner.admission.verdict import Trusted, Untrusted, Verdict
from kenner.config.model import NotationValidatorConfig, RuleOptions
from kenner.config.notation_checks import configured_trust_root
from kenner.cosign.threshold import Requirement, Requirements, shortfall
from kenner.net.cache import Cached, CachedFailure, unwrap
from kenner.net.errors import FetchError, NotFound
from kenner.net.loader import Loaded
from kenner.net.registry import FetchedManifest
from kenner.notation.envelope import COSE_MEDIA_TYPE, JWS_MEDIA_TYPE, MAX_ENVELOPE_BYTES
from kenner.notation.errors import Check, NotationError
from kenner.notation.levels import Level
from kenner.notation.payload import Target
from kenner.notation.verify import Policy, TrustRoot, verify_envelope
from kenner.oci.dockerconfig import RegistryLogin
from kenner.oci.naming import canonical_registry
from kenner.oci.referrers import ArtifactDescriptor, ReferrerManifest
from kenner.quoting import clip
from kenner.validators.base import Ask
from kenner.validators.needs import (
    Blob,
    Compute,
    Derived,
    Facts,
    FetchTimedOut,
    Manifest,
    Need,
    Needs,
    Referrer,
    Referrers,
)
from kenner.validators.registry_access import Logins

log = logging.getLogger(__name__)

ARTIFACT_TYPE = "application/vnd.cncf.notary.signature"
ENVELOPE_TYPES = (JWS_MEDIA_TYPE, COSE_MEDIA_TYPE)


@attrs.frozen(cache_hash=True)  # hashed on every cache look-up of a warm request
class SignatureKey(Derived["Findings"]):
    """The verified signer set of one manifest, keyed by what it depends on (its digest fixes
    its bytes, so its media type and size too)."""

    registry: str
    repository: str
    digest: str
    roots: tuple[str, ...]
    policy: Policy
    login: RegistryLogin | None
    validator: NotationValidator = attrs.field(eq=False, repr=False)
    # The digest's manifest when the step read it by tag: the same bytes as by digest.
    known: FetchedManifest | None = attrs.field(default=None, eq=False, repr=False)

    def derive(self, facts: Facts) -> Loaded[Findings] | Needs:
        return self.validator.derive_signers(self, facts)


@attrs.frozen
class Findings:
    """Which roots signed one manifest, and why the others did not."""

    envelopes: int
    signed: frozenset[str]
    problems: Mapping[str, str]


@attrs.frozen
class Envelope:
    """An envelope read from a referrer (``raw``), or why it could not be read."""

    media_type: str
    raw: bytes | None
    problem: str | None = None


class NotationValidator:
    """Validates images by the Notation signatures among their referrers."""

    def __init__(self, config: NotationValidatorConfig, *, logins: Logins) -> None:
        self._config = config
        self._logins = logins
        self._roots = {root.name: configured_trust_root(root) for root in config.trust_roots}
        self._requirements = Requirements(list(self._roots))

    @property
    def name(self) -> str:
        return self._config.name

    def reuses_verdict(self, ask: Ask) -> bool:
        """Always: the clock is read where the envelopes are verified (a cached derivation)."""
        return True

    def step(self, ask: Ask, facts: Facts) -> Verdict | Needs:
        image, options = ask.image, ask.options
        need = self._requirement(options)
        if isinstance(need, Untrusted):
            return need
        if options.verification_level == "skip":  # refused by the loader; never an allow
            return Untrusted(f"notation validator {self.name!r}: verificationLevel skip")
        registry = canonical_registry(image.registry)
        login = self._logins.login(registry, image.repository, ask.pull_logins)
        policy = Policy(Level(options.verification_level), options.verify_timestamp)
        try:
            digest, known = image.digest, None
            if digest is None:  # by tag: what it names now (the digest's manifest, at hand)
                assert image.tag is not None  # a reference has a tag, a digest, or both
                tagged = Manifest(registry, image.repository, image.tag, login)
                outcome = facts.get(tagged)
                if outcome is None:
                    return Needs.of(tagged)
                known = unwrap(outcome)
                if known is None:
                    raise NotFound(f"{image.name}:{image.tag}", "the image does not exist")
                digest = known.digest
            key = SignatureKey(
                registry, image.repository, digest, need.roots, policy, login, self, known
            )
            found = facts.get(key)
            if found is None:
                return Needs.of(key)
            findings = unwrap(found)
        except (FetchTimedOut, trio.TooSlowError):
            return Untrusted(f"registry error: no answer from {image.registry} in time")
        except FetchError as error:
            return Untrusted(f"registry error: {error}")
        if findings.envelopes == 0:
            return Untrusted(f"no Notation signature for {digest} among its referrers")
        problem = shortfall(need, findings.signed, findings.problems)
        if problem is None:
            return Trusted(digest)
        return Untrusted(f"Notation signatures on {digest}: {problem}")

    def _requirement(self, options: RuleOptions) -> Requirement | Untrusted:
        need = self._requirements.get(options.trust_root, options.threshold, options.required)
        if isinstance(need, str):
            return Untrusted(f"notation validator {self.name!r}: {need}")
        return need

    def derive_signers(self, key: SignatureKey, facts: Facts) -> Loaded[Findings] | Needs:
        """The derivation of which roots sign ``key.digest`` (raises ``FetchError``).

        ``key.known`` is the digest's manifest when the step has it (read by tag): the same
        bytes as by digest, so the derivation's value does not depend on it. Without it the
        manifest is read by digest, at the same time as the referrers list.
        """
        known = key.known
        listing = Referrers(key.registry, key.repository, key.digest, ARTIFACT_TYPE, key.login)
        by_digest = Manifest(key.registry, key.repository, key.digest, key.login)
        listed = facts.get(listing)
        read = facts.get(by_digest) if known is None else None
        missing: list[Need[Any]] = [] if listed is not None else [listing]
        if known is None and read is None:
            missing.append(by_digest)
        if missing:
            return Needs(tuple(missing))
        assert listed is not None
        if known is None:
            assert read is not None
            known = unwrap(read)
            if known is None:
                raise NotFound(f"{key.registry}/{key.repository}@{key.digest}", "no such image")
        size = known.size if known.size is not None else -1
        target = Target(known.manifest.media_type, known.digest, size)
        discovery = unwrap(listed)
        entries = discovery.listing.referrers
        envelopes = _envelopes(key, entries, facts)
        if isinstance(envelopes, Needs):
            return envelopes
        clock = Compute("now", _utc_now)
        now = facts.get(clock)
        if now is None:
            return Needs.of(clock)
        roots = [self._roots[name] for name in key.roots]
        check = Compute(
            ("check", key),
            partial(_check_envelopes, envelopes, roots, target, key.policy, unwrap(now)),
            in_thread=bool(envelopes),
        )
        checked = facts.get(check)
        if checked is None:
            return Needs.of(check)
        findings, logged = unwrap(checked)
        for message in logged:
            log.warning(
                "notation %s/%s@%s, level %s: %s",
                key.registry,
                key.repository,
                key.digest,
                key.policy.level,
                message,
            )
        return Loaded(findings)


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _envelopes(
    key: SignatureKey, entries: Sequence[ArtifactDescriptor], facts: Facts
) -> list[Envelope] | Needs:
    """The envelope of each listed signature, or the manifests and blobs still missing.

    Each manifest is read by digest and must refer to the image (``Referrer``: its subject is
    the digest, its artifact type Notation's, its layers at most ``MAX_ENVELOPE_BYTES``). A
    failed or unusable read is an ``Envelope`` with its problem, not a failure of all.
    """
    missing: list[Referrer | Blob] = []
    found: list[Envelope] = []
    for entry in entries:
        referrer = Referrer(
            key.registry,
            key.repository,
            entry.digest,
            entry.size,
            key.digest,
            ARTIFACT_TYPE,
            MAX_ENVELOPE_BYTES,
            key.login,
        )
        outcome = facts.get(referrer)
        if outcome is None:
            missing.append(referrer)
            continue
        layer = _envelope_layer(entry.digest, outcome)
        if isinstance(layer, Envelope):
            found.append(layer)
            continue
        blob = Blob(
            key.registry, key.repository, layer.digest, MAX_ENVELOPE_BYTES, key.login, layer.size
        )
        read = facts.get(blob)
        if read is None:
            missing.append(blob)
        elif isinstance(read, CachedFailure) or read.value is None:
            problem = "missing" if not isinstance(read, CachedFailure) else str(read.error)
            found.append(
                Envelope(layer.media_type, None, f"envelope {layer.digest}: {clip(problem)}")
            )
        else:
            found.append(Envelope(layer.media_type, read.value))
    return Needs(tuple(missing)) if missing else found


def _envelope_layer(
    digest: str, outcome: Cached[ReferrerManifest | None] | CachedFailure
) -> ArtifactDescriptor | Envelope:
    """The envelope layer of a signature manifest, or why there is none to read."""
    if isinstance(outcome, CachedFailure):
        return Envelope("", None, f"signature {digest}: {clip(str(outcome.error))}")
    manifest = outcome.value
    if manifest is None:
        return Envelope("", None, f"signature {digest}: no such manifest")
    layers = [layer for layer in manifest.layers if layer.media_type in ENVELOPE_TYPES]
    if len(layers) != 1:
        return Envelope("", None, f"signature {digest}: not exactly one envelope layer")
    return layers[0]


def _check_envelopes(
    envelopes: Sequence[Envelope],
    roots: Sequence[TrustRoot],
    target: Target,
    policy: Policy,
    now: datetime.datetime,
) -> tuple[Findings, list[str]]:
    """Which ``roots`` signed with one of ``envelopes`` and what was only logged (pure: may
    run in a worker thread)."""
    signed: set[str] = set()
    problems: dict[str, NotationError] = {}
    logged: list[str] = []
    unreadable = [envelope.problem for envelope in envelopes if envelope.problem is not None]
    for root in roots:
        for envelope in envelopes:
            if envelope.raw is None:
                continue
            try:
                verified = verify_envelope(
                    envelope.media_type,
                    envelope.raw,
                    target=target,
                    root=root,
                    policy=policy,
                    now=now,
                )
            except NotationError as error:
                problems[root.name] = _more_telling(problems.get(root.name), error)
            else:
                signed.add(root.name)
                logged += [f"trust root {root.name!r}: {error}" for error in verified.logged]
                break
    reasons = {
        root.name: str(problems[root.name]) if root.name in problems else unreadable[0]
        for root in roots
        if root.name not in signed and (root.name in problems or unreadable)
    }
    return Findings(len(envelopes), frozenset(signed), reasons), logged


def _more_telling(known: NotationError | None, new: NotationError) -> NotationError:
    # Another signer's envelope is "untrusted" for this root; anything else says more.
    if known is None or known.check is Check.AUTHENTICITY:
        return new
    return known
