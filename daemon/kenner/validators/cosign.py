"""``type: cosign``: Sigstore Cosign signatures stored next to the image in its registry.

The I/O shell around the pure verifier in ``kenner.cosign``. For one image it:

1. works out which trust roots must sign and how many (``kenner.cosign.threshold``);
2. resolves a tag to the digest of the manifest (or index) the registry serves, cached per
   tag; a reference with a digest skips this;
3. reads the signature manifest ``<repo>:sha256-<hex>.sig`` and each signature layer's
   payload. Cosign's payload for an image without annotations is deterministic, so when a
   layer's digest equals that of the rendered payload no blob is fetched: one round trip per
   image with a digest, two with a tag. Other payloads are fetched concurrently;
4. checks every layer against every root (``kenner.cosign.signature``) and caches which
   roots signed the digest (single-flight, like the Notary validator). Keyless roots and
   many layers are checked in a worker thread (``kenner.offload``), so that a signature
   manifest with thousands of layers does not stall the event loop;
5. with ``with.platformFromIndex``, a platform manifest named by ``tag@digest`` that is not
   signed itself is accepted when the tag's index contains it and is signed.

The verdict is decided from the two caches' values (``kenner.net.loader.Lookups``): by
``validate``, which loads what is missing, and by ``cached_verdict``, which answers a warm
image without a task (``kenner.validators.run``) or gives up on the first miss.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial

import attrs
import trio

from kenner.admission.image import ImageRef
from kenner.admission.verdict import Trusted, Untrusted, Verdict
from kenner.config.model import Config, CosignTrustRoot, CosignValidatorConfig, RuleOptions
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
from kenner.cosign.threshold import Requirement, RequirementError, requirement, shortfall
from kenner.net.cache import TtlCache
from kenner.net.errors import FetchError, NotFound
from kenner.net.http import Fetchers
from kenner.net.loader import (
    CachedLoader,
    Loaded,
    Lookups,
    answer_from_caches,
    answer_with_loads,
)
from kenner.net.registry import FetchedManifest, RegistryClient
from kenner.oci.dockerconfig import RegistryLogin
from kenner.oci.manifest import ImageIndex, ImageManifest, digest_of, signature_tag
from kenner.oci.naming import DOCKER_HUB, canonical_registry
from kenner.offload import in_worker_thread
from kenner.validators.registry_access import LoginSource, RegistryAccess, registry_fetchers

#: Payloads are a few hundred bytes; annotations may add some.
PAYLOAD_MAX_BYTES = 256 * 1024
# Measured (docs/benchmarks.md, "Work off the event loop"): checking a signature against a
# key costs 0.07 ms, a keyless one (Fulcio chain, SCT, Rekor entry) 1.5 ms. Keyless checks,
# and more than this many key checks (layers x roots), run in a worker thread.
THREAD_KEY_CHECKS = 16
MAX_CACHED_ENTRIES = 4096


@attrs.frozen(cache_hash=True)  # hashed on every cache look-up, hit record and LRU update
class TagKey:
    """A tag of a repository, as resolved (and cached) to a manifest digest."""

    registry: str
    repository: str
    tag: str
    login: RegistryLogin | None  # results read with one login are not another login's


@attrs.frozen(cache_hash=True)  # as TagKey
class SignatureKey:
    """What the verified signer set of one digest depends on."""

    registry: str
    repository: str
    digest: str
    roots: tuple[str, ...]
    reference_check: ReferenceCheck
    require_tlog: bool
    login: RegistryLogin | None


@attrs.frozen
class Findings:
    """Which roots signed one digest, and why the others did not."""

    layers: int
    signed: frozenset[str]
    problems: Mapping[str, str]


@attrs.frozen
class _Reads:
    """How one verdict reads the registry: with whose login, through which cache lookups."""

    login: RegistryLogin | None
    lookups: Lookups


@attrs.frozen
class CosignSettings:
    """The deadline of each registry fetch, inside the request's."""

    fetch_s: float


class CosignValidator:
    """Validates images by the Cosign signatures in their registries."""

    def __init__(
        self,
        config: CosignValidatorConfig,
        *,
        access: RegistryAccess,
        manifests: CachedLoader[TagKey, FetchedManifest],
        signatures: CachedLoader[SignatureKey, Findings],
        settings: CosignSettings,
    ) -> None:
        self._config = config
        self._access = access
        self._manifests = manifests
        self._signatures = signatures
        self._settings = settings
        self._roots = {root.name: _trust_root(root) for root in config.trust_roots}
        self._requirements: dict[
            tuple[str | None, int | None, tuple[str, ...]], Requirement | Untrusted
        ] = {}
        host = config.host
        self._sigstore = Sigstore(
            load_public_key(host.rekor_pubkey) if host.rekor_pubkey else None,
            load_certificates(host.fulcio_cert, "fulcioCert") if host.fulcio_cert else (),
            load_ct_log(host.ct_log_pubkey) if host.ct_log_pubkey else None,
        )

    @property
    def name(self) -> str:
        return self._config.name

    def cached_verdict(self, image: ImageRef, options: RuleOptions) -> Verdict | None:
        """``validate``'s verdict from the cached tag resolutions and signature findings (or
        remembered failures); None when one it needs is not cached and fresh."""
        return answer_from_caches(lambda lookups: self._verdict(image, options, lookups))

    async def validate(self, image: ImageRef, options: RuleOptions) -> Verdict:
        return await answer_with_loads(lambda lookups: self._verdict(image, options, lookups))

    def _verdict(self, image: ImageRef, options: RuleOptions, lookups: Lookups) -> Verdict:
        need = self._requirement(options)
        if isinstance(need, Untrusted):
            return need
        login = self._access.login(canonical_registry(image.registry), image.repository)
        try:
            return self._signed_verdict(image, options, need, _Reads(login, lookups))
        except FetchError as error:
            return Untrusted(f"registry error: {error}")
        except trio.TooSlowError:
            return Untrusted(f"registry error: no answer from {image.registry} in time")

    def _requirement(self, options: RuleOptions) -> Requirement | Untrusted:
        # Memoised: every image needs it, and it depends only on this validator's roots and
        # the options asked, of which there are as many as rules ever configured for it.
        asked = (options.trust_root, options.threshold, options.required)
        need = self._requirements.get(asked)
        if need is None:
            try:
                need = requirement(list(self._roots), *asked)
            except RequirementError as error:
                need = Untrusted(f"cosign validator {self.name!r}: {error}")
            self._requirements[asked] = need
        return need

    def _signed_verdict(
        self, image: ImageRef, options: RuleOptions, need: Requirement, reads: _Reads
    ) -> Verdict:
        digest = image.digest or self._resolve(image, reads).digest
        reason = self._judge(image, digest, need, options, reads)
        if reason is None:
            return Trusted(digest)
        if options.platform_from_index and image.digest is not None and image.tag is not None:
            index = self._resolve(image, reads)
            if not isinstance(index.manifest, ImageIndex) or not index.manifest.contains(digest):
                return Untrusted(f"{reason}; tag {image.tag!r} names no index containing it")
            index_reason = self._judge(image, index.digest, need, options, reads)
            if index_reason is None:
                return Trusted(digest)
            reason = f"{reason}; its index {index.digest} (tag {image.tag!r}): {index_reason}"
        return Untrusted(reason)

    def _resolve(self, image: ImageRef, reads: _Reads) -> FetchedManifest:
        assert image.tag is not None  # a reference has a tag, a digest, or both
        key = TagKey(canonical_registry(image.registry), image.repository, image.tag, reads.login)

        async def load() -> Loaded[FetchedManifest]:
            client = self._access.client(key.registry, key.login)
            try:
                with trio.fail_after(self._settings.fetch_s):
                    return Loaded(await client.manifest(key.repository, key.tag))
            except NotFound:
                raise NotFound(f"{image.name}:{image.tag}", "the image does not exist") from None

        return reads.lookups.take(self._manifests, key, load)

    def _judge(
        self,
        image: ImageRef,
        digest: str,
        need: Requirement,
        options: RuleOptions,
        reads: _Reads,
    ) -> str | None:
        key = SignatureKey(
            canonical_registry(image.registry),
            image.repository,
            digest,
            need.roots,
            options.signed_reference,
            options.verify_in_transparency_log,
            reads.login,
        )
        findings = reads.lookups.take(self._signatures, key, lambda: self._find(key))
        if findings.layers == 0:
            return f"no cosign signature for {digest} ({signature_tag(digest)} has none)"
        problem = shortfall(need, findings.signed, findings.problems)
        return None if problem is None else f"signatures on {digest}: {problem}"

    async def _find(self, key: SignatureKey) -> Loaded[Findings]:
        client = self._access.client(key.registry, key.login)
        try:
            with trio.fail_after(self._settings.fetch_s):
                fetched = await client.manifest(key.repository, signature_tag(key.digest))
        except NotFound:
            return Loaded(Findings(0, frozenset(), {}))
        if not isinstance(fetched.manifest, ImageManifest):
            return Loaded(Findings(0, frozenset(), {}))
        layers = signature_layers(fetched.manifest)
        payloads = await self._payloads(client, key, layers)
        expectation = Expectation(
            key.digest, key.registry, key.repository, key.reference_check, key.require_tlog
        )
        roots = [self._roots[name] for name in key.roots]
        check = partial(_check_layers, layers, payloads, roots, expectation, self._sigstore)
        keyless = any(isinstance(root, KeylessRoot) for root in roots)
        if keyless or len(layers) * len(roots) > THREAD_KEY_CHECKS:
            return Loaded(await in_worker_thread(check))
        return Loaded(check())

    async def _payloads(
        self, client: RegistryClient, key: SignatureKey, layers: Sequence[SignatureLayer]
    ) -> dict[str, bytes]:
        registry = "index.docker.io" if key.registry == DOCKER_HUB else key.registry
        rendered = render_payload(f"{registry}/{key.repository}", key.digest)
        payloads = {digest_of(rendered): rendered}
        missing = {layer.payload_digest for layer in layers} - payloads.keys()

        async def fetch(digest: str) -> None:
            with trio.fail_after(self._settings.fetch_s):
                payloads[digest] = await client.blob(
                    key.repository, digest, max_bytes=PAYLOAD_MAX_BYTES
                )

        async with trio.open_nursery() as nursery:
            for digest in sorted(missing):
                nursery.start_soon(fetch, digest)
        return payloads


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
) -> Findings:
    """Which ``roots`` sign with one of ``layers`` (pure: may run in a worker thread)."""
    signed: set[str] = set()
    problems: dict[str, Rejected] = {}
    for root in roots:
        for layer in layers:
            try:
                verify_layer(layer, payloads[layer.payload_digest], root, expectation, sigstore)
            except Rejected as rejected:
                problems[root.name] = _more_telling(problems.get(root.name), rejected)
            else:
                signed.add(root.name)
                break
    reasons = {name: str(problems[name]) for name in problems if name not in signed}
    return Findings(len(layers), frozenset(signed), reasons)


def _more_telling(known: Rejected | None, new: Rejected) -> Rejected:
    # Another key's signature is "bad" for this root; anything else says more.
    if known is None or known.failure == Failure.BAD_SIGNATURE:
        return new
    return known


def cosign_validator(
    validator: CosignValidatorConfig,
    logins: LoginSource,
    config: Config,
    fetchers: Fetchers,
    nursery: trio.Nursery,
) -> CosignValidator:
    """A cosign validator on the process-wide fetchers and background nursery, with the
    registry logins read from its secret (``load_logins``)."""
    access = RegistryAccess(
        registry_fetchers(validator, fetchers),
        logins,
        use_pod_logins=validator.auth is not None and validator.auth.k8s_keychain,
    )
    tags: TtlCache[TagKey, FetchedManifest] = TtlCache(
        ttl_s=config.cache.ttl_s,
        failure_ttl_s=config.cache.failure_ttl_s,
        max_entries=MAX_CACHED_ENTRIES,
    )
    signatures: TtlCache[SignatureKey, Findings] = TtlCache(
        ttl_s=config.cache.ttl_s,
        failure_ttl_s=config.cache.failure_ttl_s,
        max_entries=MAX_CACHED_ENTRIES,
    )
    work_deadline_s = config.deadlines.request_s
    return CosignValidator(
        validator,
        access=access,
        manifests=CachedLoader(tags, nursery, work_deadline_s=work_deadline_s),
        signatures=CachedLoader(signatures, nursery, work_deadline_s=work_deadline_s),
        settings=CosignSettings(fetch_s=config.deadlines.fetch_s),
    )
