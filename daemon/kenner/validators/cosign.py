"""``type: cosign``: Sigstore Cosign signatures stored next to the image in its registry.

A sans-IO step (``kenner.validators.base``) around the pure verifier in ``kenner.cosign``;
the driver (``kenner.validators.driver``) fetches, caches and shares. For one image it:

1. works out which trust roots must sign and how many (``kenner.cosign.threshold``);
2. resolves a tag to the digest of the manifest (or index) the registry serves (a
   ``Manifest`` need, cached per tag and login); a reference with a digest skips this;
3. needs the signers of the digest in each format the rule reads (``with.signatureFormats``,
   default bundles, then legacy; all asked at once, judged in that order, roots proven in
   any format counting together), each a ``Derived`` need cached and derived once for
   concurrent requests. Bundles (``BundleKey``): the bundles attached to the digest
   (``AttachedKey``: the OCI referrers of the bundle artifact type, a ``Referrers`` need: the
   referrers API, else the tag schema; at most ``MAX_REFERRERS`` of them, each referrer's
   manifest, a ``Referrer`` whose subject must be the digest, and bundle layer), verified
   against the validator's trusted root (``kenner.sigstore``). Legacy (``SignatureKey``): the
   signature manifest ``<repo>:sha256-<hex>.sig`` and each signature layer's payload.
   Cosign's payload for an image without annotations is deterministic, so when a layer's
   digest equals that of the rendered payload no blob is fetched: one round trip per image
   with a digest, two with a tag. Other payloads are fetched concurrently;
4. checks every layer against every root (``kenner.cosign.signature``), a ``Compute`` need:
   keyless roots and many layers are checked in a worker thread, so that a signature
   manifest with thousands of layers does not stall the event loop;
5. with ``with.platformFromIndex``, a platform manifest named by ``tag@digest`` that is not
   signed itself is accepted when the tag's index contains it and is signed;
6. with ``with.attestations``, the digest that is signed must also carry the attestations:
   a ``Derived`` need keyed by ``AttestationKey`` reads, in the formats the rule names, the
   DSSE bundles attached as referrers (``kenner.attest.bundles``) and the legacy
   ``<repo>:sha256-<hex>.att`` with its envelope blobs (at most ``MAX_ATTESTATION_LAYERS``
   layers, envelopes over ``MAX_ENVELOPE_BYTES`` by their descriptor are not fetched;
   ``kenner.attest.verify``), all at once, and keeps the statements that verify for each
   root (``Compute`` needs). It is asked beside the signers (``Needs.later``), so that a cold
   image is read in the signatures' round trips: the bundles once for both (one
   ``AttachedKey``, single-flight), the ``.att`` beside the ``.sig``. It is judged only when
   the signatures pass: an image whose signatures fail is denied for them, whatever its
   attestations. The policies are judged on every answer at the validator's clock
   (``kenner.attest.judge``), never cached.

The login is the configured one for the image's registry, or with ``auth.k8sKeychain`` the
admitted object's pull secret's for it (``kenner.validators.registry_access.Logins``); it is
part of every need, so what one login reads is never another login's answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any, Literal

import attrs
import trio
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from kenner.admission.image import ImageRef
from kenner.admission.verdict import Trusted, Untrusted, Verdict
from kenner.attest.bundles import bundle_attestations
from kenner.attest.dsse import MAX_ENVELOPE_BYTES
from kenner.attest.judge import Verified, unmet
from kenner.attest.policy import AttestationRule
from kenner.attest.verify import (
    AttestationLayer,
    attestation_layers,
    attestation_tag,
    verify_attestation,
)
from kenner.config.model import CosignTrustRoot, CosignValidatorConfig, RuleOptions
from kenner.cosign.errors import Failure, Rejected
from kenner.cosign.fulcio import IdentityPolicy, load_certificates
from kenner.cosign.keys import load_public_key
from kenner.cosign.payload import render_payload
from kenner.cosign.sct import load_ct_log
from kenner.cosign.signature import (
    Expectation,
    KeylessRoot,
    KeyRoot,
    ReferenceCheck,
    SignatureLayer,
    Sigstore,
    TrustRoot,
    signature_layers,
    verify_layer,
)
from kenner.cosign.threshold import (
    Requirement,
    RequirementError,
    Requirements,
    requirement,
    shortfall,
)
from kenner.net.cache import unwrap
from kenner.net.errors import FetchError, NotFound, TooLarge
from kenner.net.loader import Loaded
from kenner.net.registry import BadContent, FetchedManifest
from kenner.oci.dockerconfig import RegistryLogin
from kenner.oci.manifest import ImageIndex, ImageManifest, digest_of, signature_tag
from kenner.oci.naming import DOCKER_HUB, canonical_registry
from kenner.oci.referrers import ReferrerManifest, ReferrersError
from kenner.sigstore.bundle import MAX_BUNDLE_BYTES, MEDIA_TYPE_V03
from kenner.sigstore.identity import ExtensionCheck, identity_problem, parse_extension_checks
from kenner.sigstore.roots import BundleRoot, Expected, signed_roots
from kenner.sigstore.trustroot import TrustedRoot, from_host_keys, load_trusted_root
from kenner.sigstore.tsa import check_timestamp
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

#: Payloads are a few hundred bytes; annotations may add some.
PAYLOAD_MAX_BYTES = 256 * 1024
# Measured (docs/benchmarks.md, "Work off the event loop"): checking a signature against a
# key costs 0.07 ms, a keyless one (Fulcio chain, SCT, Rekor entry) 1.5 ms. Keyless checks,
# and more than this many key checks (layers x roots), run in a worker thread.
THREAD_KEY_CHECKS = 16
#: Layers of an ``.att`` manifest read: each costs a fetch and a check per root. Anyone who
#: may push to the repository can add layers; beyond these they are ignored (which can only
#: deny: an attestation never counts unverified).
MAX_ATTESTATION_LAYERS = 32
# Measured: reading the signature layers of a manifest costs about 0.8 us a layer, so 1 ms at
# this many; a signature manifest with more is read in a worker thread.
THREAD_LAYERS = 1024
#: At most this many bundle referrers of one image are read (an attacker can attach
#: thousands; kenner.net.referrers keeps more in its list, the rest are not fetched).
MAX_REFERRERS = 16


@attrs.frozen(cache_hash=True)  # hashed on every cache look-up, hit record and LRU update
class SignatureKey(Derived["Findings"]):
    """The verified signer set of one digest, keyed by what it depends on."""

    registry: str
    repository: str
    digest: str
    roots: tuple[str, ...]
    reference_check: ReferenceCheck
    require_tlog: bool
    login: RegistryLogin | None
    extensions: tuple[ExtensionCheck, ...]  # the rule's with.certificateExtensions
    validator: CosignValidator = attrs.field(eq=False, repr=False)

    def derive(self, facts: Facts) -> Loaded[Findings] | Needs:
        return self.validator.derive_signers(self, facts)


@attrs.frozen(cache_hash=True)
class AttachedKey(Derived["Attached"]):
    """The Sigstore bundles attached to one digest as OCI referrers: read once for the
    derivations of its signatures and of its attestations, which ask for it at once."""

    registry: str
    repository: str
    digest: str
    login: RegistryLogin | None

    def derive(self, facts: Facts) -> Loaded[Attached] | Needs:
        attached = _attached_bundles(self, facts)
        if isinstance(attached, Needs):
            return attached
        # Shared while it loads, not kept: up to MAX_REFERRERS bundles of MAX_BUNDLE_BYTES
        # an image would weigh on the cache; what each derivation makes of them is kept.
        return Loaded(attached, ttl_s=0.0)


@attrs.frozen
class Attached:
    """The bundles attached to one digest, by referrer digest, the referrers skipped and why,
    and where the list came from (the referrers API or tag schema)."""

    bundles: Mapping[str, bytes]
    skipped: tuple[str, ...]
    source: str


@attrs.frozen(cache_hash=True)
class BundleKey(Derived["Findings"]):
    """The roots proven by the bundles attached to one digest, keyed by what they depend on."""

    registry: str
    repository: str
    digest: str
    roots: tuple[str, ...]
    extensions: tuple[ExtensionCheck, ...]
    require_tlog: bool
    login: RegistryLogin | None
    validator: CosignValidator = attrs.field(eq=False, repr=False)

    def derive(self, facts: Facts) -> Loaded[Findings] | Needs:
        return self.validator.derive_bundle_signers(self, facts)


@attrs.frozen
class Findings:
    """Which roots signed one digest, and why the others did not."""

    layers: int  # signatures (legacy layers, or bundles and skipped referrers) found
    signed: frozenset[str]
    problems: Mapping[str, str]
    source: str = ""  # bundles: where they were listed (the referrers API or tag schema)


@attrs.frozen(cache_hash=True)
class AttestationKey(Derived["Attestations"]):
    """The verified attestations of one digest, keyed by what they depend on."""

    registry: str
    repository: str
    digest: str
    roots: tuple[str, ...]
    predicate_types: tuple[str, ...]  # envelopes announcing another type are not fetched
    require_tlog: bool
    login: RegistryLogin | None
    formats: tuple[Literal["bundle", "legacy"], ...]  # the rule's with.signatureFormats
    extensions: tuple[ExtensionCheck, ...]  # the rule's with.certificateExtensions
    validator: CosignValidator = attrs.field(eq=False, repr=False)

    def derive(self, facts: Facts) -> Loaded[Attestations] | Needs:
        return self.validator.derive_attestations(self, facts)


@attrs.frozen
class Attestations:
    """The statements that verified for each root, and why a root has none."""

    layers: int
    verified: tuple[Verified, ...]
    problems: Mapping[str, str]


Wants = tuple[tuple[AttestationRule, Requirement], ...]


class CosignValidator:
    """Validates images by the Cosign signatures in their registries."""

    def __init__(
        self,
        config: CosignValidatorConfig,
        *,
        logins: Logins,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._config = config
        self._logins = logins
        self._clock = clock  # for the attestation policies' maxAge
        self._wants: dict[tuple[AttestationRule, ...], Wants | Untrusted] = {}
        self._roots = {root.name: _trust_root(root) for root in config.trust_roots}
        self._requirements = Requirements(list(self._roots))
        host = config.host
        self._sigstore = Sigstore(
            load_public_key(host.rekor_pubkey) if host.rekor_pubkey else None,
            load_certificates(host.fulcio_cert, "fulcioCert") if host.fulcio_cert else (),
            load_ct_log(host.ct_log_pubkey) if host.ct_log_pubkey else None,
        )
        self._trusted_root = _trusted_root(config, self._sigstore)
        self._bundle_roots = {root.name: _bundle_root(root) for root in config.trust_roots}
        self._extension_checks: dict[tuple[tuple[str, str], ...], tuple[ExtensionCheck, ...]] = {}

    @property
    def name(self) -> str:
        return self._config.name

    def reuses_verdict(self, ask: Ask) -> bool:
        """Unless the rule has attestations: their ``maxAge`` reads the clock in the step."""
        return not ask.options.attestations

    def step(self, ask: Ask, facts: Facts) -> Verdict | Needs:
        image, options = ask.image, ask.options
        need = self._requirement(options)
        if isinstance(need, Untrusted):
            return need
        registry = canonical_registry(image.registry)
        login = self._logins.login(registry, image.repository, ask.pull_logins)
        try:
            return self._signed_verdict(
                image, options, need, _Reads(registry, image.repository, login, facts)
            )
        except (FetchTimedOut, trio.TooSlowError):
            return Untrusted(f"registry error: no answer from {image.registry} in time")
        except FetchError as error:
            return Untrusted(f"registry error: {error}")

    def _requirement(self, options: RuleOptions) -> Requirement | Untrusted:
        need = self._requirements.get(options.trust_root, options.threshold, options.required)
        if isinstance(need, str):
            return Untrusted(f"cosign validator {self.name!r}: {need}")
        return need

    def _signed_verdict(
        self, image: ImageRef, options: RuleOptions, need: Requirement, reads: _Reads
    ) -> Verdict | Needs:
        digest = image.digest
        if digest is None:
            resolved = _resolve(image, reads)
            if isinstance(resolved, Needs):
                return resolved
            digest = resolved.digest
        reason = self._judge(digest, need, options, reads)
        if isinstance(reason, Needs):
            return reason
        if reason is None:
            return Trusted(digest)
        if options.platform_from_index and image.digest is not None and image.tag is not None:
            index = _resolve(image, reads)
            if isinstance(index, Needs):
                return index
            if not isinstance(index.manifest, ImageIndex) or not index.manifest.contains(digest):
                return Untrusted(f"{reason}; tag {image.tag!r} names no index containing it")
            index_reason = self._judge(index.digest, need, options, reads)
            if isinstance(index_reason, Needs):
                return index_reason
            if index_reason is None:
                return Trusted(digest)
            reason = f"{reason}; its index {index.digest} (tag {image.tag!r}): {index_reason}"
        return Untrusted(reason)

    def _judge(
        self, digest: str, need: Requirement, options: RuleOptions, reads: _Reads
    ) -> str | Needs | None:
        """Why ``digest`` is not signed as ``need`` requires (None: it is), or the needs of
        its signers in each format the rule reads (asked at once, judged in the rule's
        order: a format that proves enough makes the others' failures irrelevant)."""
        extensions = self._extensions(options)
        signers = {
            source: self._signers_need(source, digest, need, options, extensions, reads)
            for source in options.signature_formats
        }
        outcomes = {source: reads.facts.get(signer) for source, signer in signers.items()}
        missing = tuple(signers[source] for source, outcome in outcomes.items() if not outcome)
        if missing:
            ahead = self._attestations_ahead(digest, options, reads)
            return Needs(missing + ahead, later=frozenset(ahead))
        signed: frozenset[str] = frozenset()
        problems: dict[str, str] = {}
        tried: list[str] = []
        found = 0
        failure: FetchError | trio.TooSlowError | None = None
        for source, outcome in outcomes.items():
            assert outcome is not None
            label = f"legacy ({signature_tag(digest)})"
            try:
                findings = unwrap(outcome)
            except (FetchError, trio.TooSlowError) as error:
                failure = failure or error
                tried.append("bundle (OCI referrers)" if source == "bundle" else label)
                continue
            if source == "bundle":
                label = f"bundle ({findings.source or 'OCI referrers'})"
            tried.append(label)
            found += findings.layers
            signed |= findings.signed
            for name, why in findings.problems.items():  # bundle problems name their bundle
                problems.setdefault(name, why)
            if shortfall(need, signed, {}) is None:
                return self._attested(digest, options, reads) if options.attestations else None
        if failure is not None:
            raise failure
        formats = ", ".join(tried)
        if found == 0:
            return f"no cosign signature for {digest} (tried {formats}: none found)"
        unsigned = {name: why for name, why in problems.items() if name not in signed}
        problem = shortfall(need, signed, unsigned)
        return f"signatures on {digest}: {problem} (tried {formats})"

    def _signers_need(
        self,
        source: Literal["bundle", "legacy"],
        digest: str,
        need: Requirement,
        options: RuleOptions,
        extensions: tuple[ExtensionCheck, ...],
        reads: _Reads,
    ) -> BundleKey | SignatureKey:
        if source == "bundle":
            return BundleKey(
                reads.registry,
                reads.repository,
                digest,
                need.roots,
                extensions,
                options.verify_in_transparency_log,
                reads.login,
                self,
            )
        return SignatureKey(
            reads.registry,
            reads.repository,
            digest,
            need.roots,
            options.signed_reference,
            options.verify_in_transparency_log,
            reads.login,
            extensions,
            self,
        )

    def _extensions(self, options: RuleOptions) -> tuple[ExtensionCheck, ...]:
        # Memoised like the requirements: the loader has checked every name and regex.
        asked = tuple(sorted(options.certificate_extensions.items()))
        checks = self._extension_checks.get(asked)
        if checks is None:
            checks = parse_extension_checks(dict(asked))
            self._extension_checks[asked] = checks
        return checks

    def _attestations_ahead(
        self, digest: str, options: RuleOptions, reads: _Reads
    ) -> tuple[AttestationKey, ...]:
        """The need of ``digest``'s attestations, when the rule asks for some and they are not
        at hand: asked beside its signers, to be read in the same round trips."""
        if not options.attestations:
            return ()
        asked = self._attestation_key(digest, options, reads)
        if isinstance(asked, Untrusted) or reads.facts.get(asked[1]) is not None:
            return ()
        return (asked[1],)

    def _attestation_key(
        self, digest: str, options: RuleOptions, reads: _Reads
    ) -> tuple[Wants, AttestationKey] | Untrusted:
        """What the rule's attestations want, and the need of ``digest``'s attestations."""
        wants = self._attestation_wants(options.attestations)
        if isinstance(wants, Untrusted):
            return wants
        key = AttestationKey(
            reads.registry,
            reads.repository,
            digest,
            tuple(sorted({name for _, need in wants for name in need.roots})),
            tuple(sorted({rule.predicate_type for rule, _ in wants})),
            options.verify_in_transparency_log,
            reads.login,
            options.signature_formats,
            self._extensions(options),
            self,
        )
        return wants, key

    def _attested(self, digest: str, options: RuleOptions, reads: _Reads) -> str | Needs | None:
        """Why ``digest`` lacks the attestations the rule asks for (None: it has them), or
        the need of its verified attestations."""
        asked = self._attestation_key(digest, options, reads)
        if isinstance(asked, Untrusted):
            return asked.reason
        wants, key = asked
        outcome = reads.facts.get(key)
        if outcome is None:
            return Needs.of(key)
        found = unwrap(outcome)
        problems = found.problems
        if found.layers == 0:
            places = " or ".join(
                "bundle referrers" if source == "bundle" else attestation_tag(digest)
                for source in options.signature_formats
            )
            problems = dict.fromkeys(key.roots, f"no attestation (none in {places})")
        now = self._clock()
        for rule, need in wants:
            reason = unmet(rule, need, digest, found.verified, problems, now)
            if reason is not None:
                return f"attestations on {digest}: {reason}"
        return None

    def _attestation_wants(self, rules: tuple[AttestationRule, ...]) -> Wants | Untrusted:
        # Memoised like _requirement: per configured attestations list.
        wants = self._wants.get(rules)
        if wants is None:
            try:
                wants = tuple(
                    (rule, requirement(list(self._roots), rule.trust_root, rule.threshold, ()))
                    for rule in rules
                )
            except RequirementError as error:
                wants = Untrusted(f"cosign validator {self.name!r}: attestations: {error}")
            self._wants[rules] = wants
        return wants

    def derive_attestations(
        self, key: AttestationKey, facts: Facts
    ) -> Loaded[Attestations] | Needs:
        """The derivation of the statements that verify for ``key.roots``, from the bundle
        referrers and the legacy ``.att`` manifest as ``key.formats`` says, both read at once
        (raises ``FetchError``)."""
        readers = {"bundle": self._bundle_attestations, "legacy": self._legacy_attestations}
        found = [readers[source](key, facts) for source in key.formats]
        missing = tuple(need for part in found if isinstance(part, Needs) for need in part.needs)
        if missing:
            return Needs(missing)
        parts = [part for part in found if isinstance(part, Attestations)]
        problems: dict[str, str] = {}
        for part in parts:
            for name, why in part.problems.items():
                problems.setdefault(name, why)
        verified = tuple(item for part in parts for item in part.verified)
        signers = {item.root for item in verified}
        return Loaded(
            Attestations(
                sum(part.layers for part in parts),
                verified,
                {name: why for name, why in problems.items() if name not in signers},
            )
        )

    def _bundle_attestations(self, key: AttestationKey, facts: Facts) -> Attestations | Needs:
        """The statements of the DSSE bundles attached to ``key.digest`` as OCI referrers
        (those the signatures read: at most ``MAX_REFERRERS``, unusable referrers skipped)."""
        attached = _attached(key, facts)
        if isinstance(attached, Needs):
            return attached
        bundles, skipped = attached.bundles, attached.skipped
        problems = {name: min(skipped) for name in key.roots} if skipped else {}
        if not bundles:
            return Attestations(len(skipped), (), problems)
        check = Compute(
            ("bundle attestations", key),
            partial(
                bundle_attestations,
                tuple(bundles[digest] for digest in sorted(bundles)),
                [self._bundle_roots[name] for name in key.roots],
                self._trusted_root,
                Expected(key.digest, key.extensions, key.require_tlog),
                check_timestamp,
            ),
            in_thread=True,  # as for signature bundles
        )
        checked = facts.get(check)
        if checked is None:
            return Needs.of(check)
        verified, found_problems = unwrap(checked)
        problems.update(found_problems)
        return Attestations(len(bundles) + len(skipped), verified, problems)

    def _legacy_attestations(self, key: AttestationKey, facts: Facts) -> Attestations | Needs:
        """The statements of the DSSE envelopes in the legacy ``.att`` manifest."""
        manifest = Manifest(key.registry, key.repository, attestation_tag(key.digest), key.login)
        outcome = facts.get(manifest)
        if outcome is None:
            return Needs.of(manifest)
        fetched = unwrap(outcome)
        if fetched is None or not isinstance(fetched.manifest, ImageManifest):
            return Attestations(0, (), {})
        layers = attestation_layers(fetched.manifest)
        wanted = [
            layer
            for layer in layers[:MAX_ATTESTATION_LAYERS]
            if layer.predicate_type in (None, *key.predicate_types)
        ]
        readable = [layer for layer in wanted if layer.envelope_size <= MAX_ENVELOPE_BYTES]
        digests = {layer.envelope_digest for layer in readable}
        blobs = _blobs(key, digests, MAX_ENVELOPE_BYTES, "envelope", facts)
        if isinstance(blobs, Needs):
            return blobs
        roots = [self._roots[name] for name in key.roots]
        keyless = any(isinstance(root, KeylessRoot) for root in roots)
        check = Compute(
            ("attest", key),
            partial(
                _check_attestations,
                readable,
                blobs,
                roots,
                self._sigstore,
                key.require_tlog,
                key.extensions,
                oversized=len(wanted) - len(readable),
            ),
            in_thread=keyless or len(readable) * len(roots) > THREAD_KEY_CHECKS,
        )
        checked = facts.get(check)
        if checked is None:
            return Needs.of(check)
        return attrs.evolve(unwrap(checked), layers=len(layers))

    def derive_bundle_signers(self, key: BundleKey, facts: Facts) -> Loaded[Findings] | Needs:
        """The derivation of which roots the bundles attached to ``key.digest`` prove
        (raises ``FetchError``). A referrer that is gone, too big, about another image or
        without a bundle is skipped and named (it can only take a signature away); other
        failures fail the derivation."""
        attached = _attached(key, facts)
        if isinstance(attached, Needs):
            return attached
        bundles, skipped, source = attached.bundles, attached.skipped, attached.source
        roots = [self._bundle_roots[name] for name in key.roots]
        problems = {root.name: min(skipped) for root in roots} if skipped else {}
        if not bundles:
            return Loaded(Findings(len(skipped), frozenset(), problems, source))
        expected = Expected(key.digest, key.extensions, key.require_tlog)
        check = Compute(
            ("bundles", key),
            partial(
                signed_roots,
                tuple(bundles[digest] for digest in sorted(bundles)),
                roots,
                self._trusted_root,
                expected,
                check_timestamp,
            ),
            in_thread=True,  # a keyless bundle costs milliseconds; a key bundle about one
        )
        verified = facts.get(check)
        if verified is None:
            return Needs.of(check)
        findings = unwrap(verified)
        problems.update(findings.problems)
        unsigned = {name: why for name, why in problems.items() if name not in findings.signed}
        count = len(bundles) + len(skipped)
        return Loaded(Findings(count, findings.signed, unsigned, source))

    def derive_signers(self, key: SignatureKey, facts: Facts) -> Loaded[Findings] | Needs:
        """The derivation of ``key``: which roots sign its digest (raises ``FetchError``)."""
        manifest = Manifest(key.registry, key.repository, signature_tag(key.digest), key.login)
        outcome = facts.get(manifest)
        if outcome is None:
            return Needs.of(manifest)
        fetched = unwrap(outcome)
        if fetched is None or not isinstance(fetched.manifest, ImageManifest):
            return Loaded(Findings(0, frozenset(), {}))
        # A Compute, so that the layers are read once for the derivation, not on every step.
        read = Compute(
            ("layers", key),
            partial(signature_layers, fetched.manifest),
            in_thread=len(fetched.manifest.layers) > THREAD_LAYERS,
        )
        outcome_layers = facts.get(read)
        if outcome_layers is None:
            return Needs.of(read)
        layers = unwrap(outcome_layers)
        payloads = _payloads(key, layers, facts)
        if isinstance(payloads, Needs):
            return payloads
        expectation = Expectation(
            key.digest, key.registry, key.repository, key.reference_check, key.require_tlog
        )
        roots = [self._roots[name] for name in key.roots]
        keyless = any(isinstance(root, KeylessRoot) for root in roots)
        check = Compute(
            ("check", key),
            partial(
                _check_layers,
                layers,
                payloads,
                roots,
                expectation,
                self._sigstore,
                key.extensions,
            ),
            in_thread=keyless or len(layers) * len(roots) > THREAD_KEY_CHECKS,
        )
        findings = facts.get(check)
        if findings is None:
            return Needs.of(check)
        return Loaded(unwrap(findings))


@attrs.frozen
class _Reads:
    """Where one verdict reads: the image's registry and repository, whose login, the facts."""

    registry: str  # canonical
    repository: str
    login: RegistryLogin | None
    facts: Facts


def _resolve(image: ImageRef, reads: _Reads) -> FetchedManifest | Needs:
    """What the image's tag names now (cached per tag), or the need of it.

    Raises:
        NotFound: the tag does not exist.
        FetchError: the registry failed.
    """
    assert image.tag is not None  # a reference has a tag, a digest, or both
    need = Manifest(reads.registry, reads.repository, image.tag, reads.login)
    outcome = reads.facts.get(need)
    if outcome is None:
        return Needs.of(need)
    fetched = unwrap(outcome)
    if fetched is None:
        raise NotFound(f"{image.name}:{image.tag}", "the image does not exist")
    return fetched


def _payloads(
    key: SignatureKey, layers: Sequence[SignatureLayer], facts: Facts
) -> dict[str, bytes] | Needs:
    """The signed payload of each layer, or the blobs still missing.

    Cosign's payload for an image without annotations is deterministic: a layer whose digest
    is that of the rendered payload needs no fetch.

    Raises:
        FetchError: a blob fetch failed or the blob does not exist.
    """
    registry = "index.docker.io" if key.registry == DOCKER_HUB else key.registry
    rendered = render_payload(f"{registry}/{key.repository}", key.digest)
    known = digest_of(rendered)
    digests = {layer.payload_digest for layer in layers} - {known}
    fetched = _blobs(key, digests, PAYLOAD_MAX_BYTES, "payload blob", facts)
    return fetched if isinstance(fetched, Needs) else {known: rendered, **fetched}


def _blobs(
    key: SignatureKey | AttestationKey,
    digests: set[str],
    max_bytes: int,
    what: str,
    facts: Facts,
) -> dict[str, bytes] | Needs:
    """The blobs ``digests`` of ``key``'s repository (each at most ``max_bytes``), or the
    ones still missing.

    Raises:
        FetchError: a blob fetch failed, or the blob (a ``what``) does not exist.
    """
    blobs: dict[str, bytes] = {}
    missing: list[Blob] = []
    for digest in sorted(digests):
        blob = Blob(key.registry, key.repository, digest, max_bytes, key.login)
        outcome = facts.get(blob)
        if outcome is None:
            missing.append(blob)
            continue
        data = unwrap(outcome)
        if data is None:
            raise NotFound(f"{key.registry}/{key.repository}@{digest}", f"no such {what}")
        blobs[digest] = data
    return Needs(tuple(missing)) if missing else blobs


def _trust_root(root: CosignTrustRoot) -> TrustRoot:
    if root.key is not None:
        return KeyRoot(root.name, load_public_key(root.key.strip()))
    assert root.keyless is not None  # the loader requires exactly one
    identity = root.keyless
    return KeylessRoot(
        root.name,
        IdentityPolicy(
            identity.issuer, identity.issuer_regex, identity.subject, identity.subject_regex
        ),
    )


def _check_layers(
    layers: Sequence[SignatureLayer],
    payloads: Mapping[str, bytes],
    roots: Sequence[TrustRoot],
    expectation: Expectation,
    sigstore: Sigstore,
    extensions: tuple[ExtensionCheck, ...] = (),
) -> Findings:
    """Which ``roots`` sign with one of ``layers`` (pure: may run in a worker thread)."""
    signed: set[str] = set()
    problems: dict[str, Rejected] = {}
    for root in roots:
        for layer in layers:
            try:
                verify_layer(layer, payloads[layer.payload_digest], root, expectation, sigstore)
                if extensions and isinstance(root, KeylessRoot):
                    _check_extensions(layer.certificate, extensions)
            except Rejected as rejected:
                problems[root.name] = _more_telling(problems.get(root.name), rejected)
            else:
                signed.add(root.name)
                break
    reasons = {name: str(problems[name]) for name in problems if name not in signed}
    return Findings(len(layers), frozenset(signed), reasons)


def _attached(key: BundleKey | AttestationKey, facts: Facts) -> Attached | Needs:
    """The bundles attached to ``key``'s digest, or the need of them.

    Raises:
        FetchError: as ``_attached_bundles``.
    """
    need = AttachedKey(key.registry, key.repository, key.digest, key.login)
    outcome = facts.get(need)
    return Needs.of(need) if outcome is None else unwrap(outcome)


def _attached_bundles(key: AttachedKey, facts: Facts) -> Attached | Needs:
    """The Sigstore bundles attached to ``key.digest`` as OCI referrers (at most
    ``MAX_REFERRERS`` read), or the fetches still missing.

    Raises:
        FetchError: the list or a fetch failed otherwise than ``_gathered`` skips.
    """
    registry, repository, digest, login = key.registry, key.repository, key.digest, key.login
    listing = Referrers(registry, repository, digest, MEDIA_TYPE_V03, login)
    outcome = facts.get(listing)
    if outcome is None:
        return Needs.of(listing)
    discovery = unwrap(outcome)
    skipped: list[str] = []
    referrers = {
        entry.digest: Referrer(
            registry,
            repository,
            entry.digest,
            entry.size,
            digest,
            MEDIA_TYPE_V03,
            MAX_BUNDLE_BYTES,
            login,
        )
        for entry in discovery.listing.referrers[:MAX_REFERRERS]
    }
    layers = _gathered(referrers, facts, skipped, _bundle_layer)
    if isinstance(layers, Needs):
        return layers
    blobs = {
        referrer: Blob(registry, repository, layer, MAX_BUNDLE_BYTES, login, size=size)
        for referrer, (layer, size) in layers.items()
    }
    bundles = _gathered(blobs, facts, skipped, lambda data: data)
    if isinstance(bundles, Needs):
        return bundles
    return Attached(bundles, tuple(skipped), discovery.source)


def _gathered(
    needs: Mapping[str, Need[Any]],
    facts: Facts,
    skipped: list[str],
    use: Callable[[Any], Any],
) -> dict[str, Any] | Needs:
    """``use`` of each fetched value by referrer digest, or the fetches still missing; a
    referrer whose fetch found nothing, too much, wrong bytes or a manifest the referrers
    rules refuse, or whose value ``use`` refuses (None), is noted in ``skipped``.

    Raises:
        FetchError: any other failure of a fetch.
    """
    missing = tuple(need for need in needs.values() if facts.get(need) is None)
    if missing:
        return Needs(missing)
    values: dict[str, Any] = {}
    for referrer, need in needs.items():
        outcome = facts.get(need)
        assert outcome is not None
        try:
            value = unwrap(outcome)
        except (BadContent, TooLarge, ReferrersError) as error:
            skipped.append(f"referrer {referrer}: {error}")
            continue
        used = None if value is None else use(value)
        if used is None:
            what = "not found" if value is None else "holds no Sigstore bundle layer"
            skipped.append(f"referrer {referrer}: {what}")
            continue
        values[referrer] = used
    return values


def _bundle_layer(referrer: ReferrerManifest) -> tuple[str, int] | None:
    """The digest and size of a referrer manifest's first bundle layer."""
    for layer in referrer.layers:
        if layer.media_type == MEDIA_TYPE_V03:
            return layer.digest, layer.size
    return None


def _check_extensions(certificate: str | None, extensions: tuple[ExtensionCheck, ...]) -> None:
    # The rule's certificate extensions bind legacy keyless signatures and attestations as
    # they bind bundles: otherwise a legacy one would bypass what the rule pins.
    assert certificate is not None  # a keyless signature or attestation was accepted
    leaf = load_certificates(certificate, "the signing certificate")[0]
    problem = identity_problem(leaf, IdentityPolicy(), extensions)
    if problem is not None:
        raise Rejected(Failure.IDENTITY_MISMATCH, problem)


def _trusted_root(config: CosignValidatorConfig, sigstore: Sigstore) -> TrustedRoot:
    """What bundles verify against: ``trustedRoot``, else the ``host`` keys."""
    if config.trusted_root is not None:
        return load_trusted_root(config.trusted_root)
    host = config.host
    return from_host_keys(
        _pem_key(host.rekor_pubkey), sigstore.fulcio_certificates, _pem_key(host.ct_log_pubkey)
    )


def _pem_key(pem: str | None) -> PublicKeyTypes | None:
    # The loader has checked the key (kenner.config.cosign_checks).
    return None if pem is None else serialization.load_pem_public_key(pem.strip().encode())


def _bundle_root(root: CosignTrustRoot) -> BundleRoot:
    configured = _trust_root(root)
    if isinstance(configured, KeyRoot):
        return BundleRoot(root.name, key=serialization.load_der_public_key(configured.key.der))
    return BundleRoot(root.name, identity=configured.identity)


def _check_attestations(
    layers: Sequence[AttestationLayer],
    blobs: Mapping[str, bytes],
    roots: Sequence[TrustRoot],
    sigstore: Sigstore,
    require_tlog: bool,
    extensions: tuple[ExtensionCheck, ...],
    *,
    oversized: int,
) -> Attestations:
    """The statements of ``layers`` that verify for each of ``roots`` (pure: may run in a
    worker thread). A root may have several, of different predicate types."""
    verified: list[Verified] = []
    problems: dict[str, Rejected] = {}
    for root in roots:
        for layer in layers:
            blob = blobs[layer.envelope_digest]
            try:
                statement = verify_attestation(
                    layer, blob, root, sigstore, require_tlog=require_tlog
                )
                if extensions and isinstance(root, KeylessRoot):
                    _check_extensions(layer.certificate, extensions)
            except Rejected as rejected:
                problems[root.name] = _more_telling(problems.get(root.name), rejected)
            else:
                verified.append(Verified(root.name, statement))
    signers = {item.root for item in verified}
    reasons = {name: str(problems[name]) for name in problems if name not in signers}
    if oversized:
        for root in roots:
            if root.name not in signers and root.name not in reasons:
                reasons[root.name] = f"{oversized} envelope(s) over {MAX_ENVELOPE_BYTES} bytes"
    return Attestations(len(layers), tuple(verified), reasons)


def _more_telling(known: Rejected | None, new: Rejected) -> Rejected:
    # Another key's signature is "bad" for this root; anything else says more.
    if known is None or known.failure == Failure.BAD_SIGNATURE:
        return new
    return known
