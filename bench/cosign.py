"""The cosign scenarios: kenner checking a Pod's 3 Cosign-signed images in a real registry.

Each starts the project's harness services (tests/harness, ``with_scenarios=False``: a
docker-registry on 127.0.0.1, beside notary-server and notary-signer, which stay idle) in the
scratch folder and writes three images and their signatures into the registry's storage with
the integration tests' helpers (tests/support: ``OwnImages``, made with a fresh ECDSA key in
Cosign's format). kenner runs a ``cosign`` validator whose trust root is that key. Every
request kenner makes to the registry is counted in the registry's log (bench/server_log.py),
in the same three cache states as the Notary v1 scenario (bench/notary.py):

* **cold**: the first request to a freshly started kenner, once per ``--cold-samples``; the
  median goes into the table's "first ms" column;
* **cache miss on a running kenner**: one extra kenner with ``cache.ttlSeconds: 0``;
* **warm**: the last fresh kenner carries the wrk rounds; no request should reach the registry.

Three variants: the Pod names its images by tag (issue 4: two round trips per image,
resolving the tag and reading the signature), or by ``tag@sha256:...`` digest (one round
trip), both reading legacy ``.sig`` signatures only; or by digest with cosign v3 signatures
(issue 15: a keyless Sigstore bundle per image attached as an OCI referrer through the
referrers tag schema, made by the tests' own Sigstore, verified against a trusted root).
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import attrs
from tests.harness import Testbed
from tests.harness.services import StateLayout
from tests.support.cosign_signing import PrivateKey, new_key, public_pem
from tests.support.registry_storage import RegistryStorage
from tests.support.signed_images import OwnImages
from tests.support.sigstore_sim import (
    EMPTY_JSON,
    IDENTITY,
    ISSUER,
    Ca,
    Log,
    Signing,
    cosign_v3_bundle,
    referrer_manifest,
    referrers_index,
    trusted_root,
)

from bench.cache_report import Design, Sample, cache_report, require_counted
from bench.probe import probe
from bench.review import check_pinned, check_proof_only, pod_review
from bench.server_log import ServerLog, registry_fetch
from bench.servers import KENNER_LOG_LEVEL, RunningServer, harness_testbed, kenner_serving
from bench.target import BenchRun, Target

TAG_NAME = "kenner cosign"
DIGEST_NAME = "kenner cosign @digest"
BUNDLE_NAME = "kenner cosign v3 bundles @digest"
# Three repositories, so that no two containers share a cache entry or a single-flight load.
REPOSITORIES = ("kenner-bench/alpha", "kenner-bench/beta", "kenner-bench/gamma")
IMAGE_TAG = "v1"
# Issue 4: two round trips per image by tag, one by digest; the images are checked concurrently.
BY_TAG = Design(
    2 * len(REPOSITORIES),
    2,
    f"2 per image (resolve the tag, then read the signature manifest) x {len(REPOSITORIES)}",
)
BY_DIGEST = Design(
    len(REPOSITORIES), 1, f"1 per image (read the signature manifest) x {len(REPOSITORIES)}"
)
# Issue 15: per image the referrers tag, the referrer manifest, the bundle: three dependent
# requests, the images at once. Beside the tag (the same round) kenner asks the referrers API,
# which docker-registry 2.8 does not have: its 404 for a path without a route leaves no line
# in the registry's log, so that request is not counted here.
BY_BUNDLE = Design(
    3 * len(REPOSITORIES),
    3,
    "3 per image (the referrers tag, the referrer manifest, the bundle; the referrers API, "
    f"asked beside the tag, answers 404 unlogged) x {len(REPOSITORIES)}",
)
_VALIDATOR = "bench-cosign"
# Longer than any run, so the warm rounds never see an expiry; the default is 300 s.
_WARM_TTL_S = 86_400
_CACHE_MISS_SAMPLES = 10


@attrs.frozen
class SignedImage:
    """One image in the registry, as the Pod names it by tag, and the digest that was signed."""

    reference: str  # 127.0.0.1:PORT/kenner-bench/NAME:v1
    digest: str

    @property
    def pinned(self) -> str:
        """The reference with its digest: kenner's patch value, and the by-digest Pod's image."""
        return f"{self.reference}@{self.digest}"


@attrs.frozen
class _Setup:
    """What every kenner of one variant is started with and asked."""

    run: BenchRun
    label: str  # names the variant's files in the scratch folder
    config: Path
    body: bytes
    check: Callable[[int, bytes], None]
    log: ServerLog

    def ask(self, server: RunningServer) -> Sample:
        """Send the Pod once, check the answer, count what reached the registry meanwhile."""
        position = self.log.position()
        answer = probe(server.url, "/mutate", self.body, str(self.run.tls.ca))
        self.check(answer.status, answer.body)
        return Sample(answer.latency_ms, self.log.fetches_since(position))


def cosign_config(registry: Testbed, public_key_pem: str, ttl_s: int) -> str:
    """kenner's configuration: one cosign validator with one key root, one rule per image.

    The images carry no Rekor bundle, so the rules turn the transparency log off. Returned as
    JSON, which is YAML and keeps the multi-line PEMs intact.
    """
    config = {
        "validators": [
            {
                "name": _VALIDATOR,
                "type": "cosign",
                "cert": registry.ca_pem,
                "trustRoots": [{"name": "default", "key": public_key_pem}],
            }
        ],
        "policy": [
            {
                "pattern": f"{registry.registry_host}/{repository}:*",
                "validator": _VALIDATOR,
                "with": {"verifyInTransparencyLog": False, "signatureFormats": ["legacy"]},
            }
            for repository in REPOSITORIES
        ],
        "cache": {"ttlSeconds": ttl_s, "failureTtlSeconds": 0},
        "log": {"level": KENNER_LOG_LEVEL},
    }
    return json.dumps(config, indent=2)


@contextmanager
def kenner_cosign(run: BenchRun) -> Iterator[Target]:
    """kenner with a cosign validator, Pod images by tag: pinned to the signed digests."""
    with _cosign_scenario(run, by_digest=False) as target:
        yield target


@contextmanager
def kenner_cosign_digest(run: BenchRun) -> Iterator[Target]:
    """kenner with a cosign validator, Pod images by ``tag@digest``: allowed unchanged."""
    with _cosign_scenario(run, by_digest=True) as target:
        yield target


def bundle_config(registry: Testbed, sigstore: tuple[Ca, Log], ttl_s: int) -> str:
    """kenner's configuration for the bundle variant: a keyless root, the trusted root inline,
    bundles only."""
    config = json.loads(cosign_config(registry, "", ttl_s))
    validator = config["validators"][0]
    validator["trustedRoot"] = json.dumps(trusted_root(*sigstore))
    validator["trustRoots"] = [
        {"name": "default", "keyless": {"issuer": ISSUER, "subject": IDENTITY}}
    ]
    for rule in config["policy"]:
        rule["with"] = {"signatureFormats": ["bundle"]}
    return json.dumps(config, indent=2)


@contextmanager
def kenner_cosign_bundles(run: BenchRun) -> Iterator[Target]:
    """kenner with a cosign validator reading cosign v3 bundles, Pod images by digest."""
    with _cosign_scenario(run, by_digest=True, bundles=True) as target:
        yield target


@contextmanager
def _cosign_scenario(run: BenchRun, *, by_digest: bool, bundles: bool = False) -> Iterator[Target]:
    name, label, design = (
        (DIGEST_NAME, "digest", BY_DIGEST) if by_digest else (TAG_NAME, "tag", BY_TAG)
    )
    if bundles:
        name, label, design = BUNDLE_NAME, "bundles", BY_BUNDLE
    with harness_testbed(
        run.scratch / f"cosign-{label}-registry",
        what="the harness's registry",
        leave_out="--without-cosign",
        with_scenarios=False,
    ) as registry:
        key = new_key("ecdsa")
        sigstore = (Ca(), Log())
        images = _bundled_images(registry, sigstore) if bundles else _signed_images(registry, key)
        pinned = tuple(image.pinned for image in images)
        check: Callable[[int, bytes], None]
        if by_digest:
            body, check = pod_review(pinned), check_proof_only
        else:
            body = pod_review([image.reference for image in images])
            check = partial(check_pinned, pinned=pinned)

        def config(state: str, ttl_s: int) -> Path:
            path = run.scratch / f"kenner-cosign-{label}-{state}.yaml"
            if bundles:
                path.write_text(bundle_config(registry, sigstore, ttl_s))
            else:
                path.write_text(cosign_config(registry, public_pem(key), ttl_s))
            return path

        log = ServerLog(StateLayout(registry.state_dir).logs / "registry.log", registry_fetch)
        setup = _Setup(run, label, config("warm", _WARM_TTL_S), body, check, log)
        cold = [_fresh_sample(setup, f"cold-{n}") for n in range(1, run.cold_samples)]
        misses = _cache_misses(attrs.evolve(setup, config=config("miss", 0)))
        # The last fresh kenner gives the last cold sample, then stays up for the warm load.
        log_path = run.scratch / f"kenner-cosign-{label}.log"
        with kenner_serving(name, setup.config, run.tls, log_path) as server:
            cold.append(setup.ask(server))
            require_counted(cold, log)
            warm_from = log.position()
            yield Target(
                name,
                server,
                "/mutate",
                body,
                check,
                f"kenner serve, cosign validator "
                f"({'one keyless root, cosign v3 bundles' if bundles else 'one key root'}) on a "
                f"docker-registry, Pod with 3 signed images by "
                f"{'tag@digest' if by_digest else 'tag'}, log level {KENNER_LOG_LEVEL}",
                cold_ms=statistics.median(sample.latency_ms for sample in cold),
                report=partial(_report, name, design, (cold, misses), log, warm_from),
            )


def _signed_images(registry: Testbed, key: PrivateKey) -> list[SignedImage]:
    """One image per repository, signed by ``key``, written into the registry's storage."""
    storage = RegistryStorage(StateLayout(registry.state_dir).registry_data)
    images = []
    for repository in REPOSITORIES:
        own = OwnImages(storage, registry.registry_host, repository)
        digest = own.signed_image(IMAGE_TAG, key)
        images.append(SignedImage(own.ref(IMAGE_TAG), digest))
    return images


def _bundled_images(registry: Testbed, sigstore: tuple[Ca, Log]) -> list[SignedImage]:
    """One image per repository with a keyless cosign v3 bundle attached as a referrer
    (the referrers tag schema), written into the registry's storage."""
    storage = RegistryStorage(StateLayout(registry.state_dir).registry_data)
    images = []
    for repository in REPOSITORIES:
        own = OwnImages(storage, registry.registry_host, repository)
        digest = own.image(IMAGE_TAG, json.dumps({"bench": repository}).encode())
        bundle = json.dumps(cosign_v3_bundle(Signing(digest, *sigstore))).encode()
        storage.put_blob(repository, EMPTY_JSON)
        storage.put_blob(repository, bundle)
        manifest = referrer_manifest(bundle, digest, 1)
        referrer = storage.put_manifest(repository, manifest)
        tag = digest.replace(":", "-")
        storage.put_manifest(repository, referrers_index([(referrer, len(manifest))]), tag)
        images.append(SignedImage(own.ref(IMAGE_TAG), digest))
    return images


def _fresh_sample(setup: _Setup, state: str) -> Sample:
    log_path = setup.run.scratch / f"kenner-cosign-{setup.label}-{state}.log"
    name = f"kenner cosign {setup.label} ({state})"
    with kenner_serving(name, setup.config, setup.run.tls, log_path) as server:
        return setup.ask(server)


def _cache_misses(setup: _Setup) -> list[Sample]:
    """Requests to a kenner that caches nothing, after a first one that opens its connections."""
    log_path = setup.run.scratch / f"kenner-cosign-{setup.label}-miss.log"
    name = f"kenner cosign {setup.label} (ttl 0)"
    with kenner_serving(name, setup.config, setup.run.tls, log_path) as server:
        setup.ask(server)
        return [setup.ask(server) for _ in range(_CACHE_MISS_SAMPLES)]


def _report(
    name: str,
    design: Design,
    states: tuple[list[Sample], list[Sample]],
    log: ServerLog,
    warm_from: int,
    answered: int,
) -> list[str]:
    return cache_report(
        name, "docker-registry", design, states, log.fetches_since(warm_from), answered
    )
