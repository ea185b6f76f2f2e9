"""The Notation scenario: kenner checking a Pod's 3 Notation-signed images in a real registry.

It starts the harness's docker-registry (tests/harness, ``with_scenarios=False``) as the cosign
scenarios do (bench/cosign.py) and pushes, through the distribution API, three images and one
JWS envelope per image made by the tests' own Notation signer (tests/support/notation_signing:
a root -> intermediate -> ES256 code signing leaf, signed now). Each envelope is attached as an
OCI 1.1 referrer the way notation does: docker-registry 2.8 has no referrers API, so the pusher
maintains the referrers tag schema (tests/support/referrers_push). kenner runs a ``notation``
validator whose trust root is that root certificate; the Pod names the images by
``tag@sha256:...``, so the answer patches only the proof.

Counted in the registry's log (bench/server_log.py) in the cache states of bench/cosign.py:
cold (one fresh kenner per ``--cold-samples``), cache miss (``cache.ttlSeconds: 0``), warm.
"""

from __future__ import annotations

import datetime
import json
import statistics
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import partial
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from tests.harness import Testbed
from tests.harness.services import StateLayout
from tests.support.notation_signing import DAY, Pki, make_pki, sign
from tests.support.referrers_push import NOTATION_TYPE, RegistryPusher, referrer_manifest

from bench.cache_report import Design, Sample, cache_report, require_counted
from bench.cosign import REPOSITORIES, SignedImage
from bench.probe import probe
from bench.review import check_proof_only, pod_review
from bench.server_log import ServerLog, registry_fetch
from bench.servers import KENNER_LOG_LEVEL, RunningServer, harness_testbed, kenner_serving
from bench.target import BenchRun, Target
from kenner.notation.payload import Target as SignedTarget
from kenner.oci.manifest import OCI_MANIFEST

NAME = "kenner notation @digest"
IMAGE_TAG = "v1"
# docs/notation.md: by digest, the image's manifest and the referrers list at once, then the
# signature manifests, then the envelopes. Beside the referrers tag (the same round) kenner
# asks the referrers API; docker-registry 2.8 leaves no log line for its 404, so that request
# is not counted.
BY_DIGEST = Design(
    4 * len(REPOSITORIES),
    3,
    "4 per image (the image manifest beside the referrers tag, the signature manifest, the "
    f"envelope; the referrers API, asked beside the tag, answers 404 unlogged) x "
    f"{len(REPOSITORIES)}",
)
_VALIDATOR = "bench-notation"
_WARM_TTL_S = 86_400  # longer than any run: the warm rounds never see an expiry
_CACHE_MISS_SAMPLES = 10


def notation_config(registry: Testbed, root_pem: str, ttl_s: int) -> str:
    """kenner's configuration: one notation validator with one trust root, one rule per image
    (JSON, which is YAML and keeps the PEMs intact)."""
    config = {
        "validators": [
            {
                "name": _VALIDATOR,
                "type": "notation",
                "cert": registry.ca_pem,
                "trustRoots": [{"name": "default", "cert": root_pem}],
            }
        ],
        "policy": [
            {"pattern": f"{registry.registry_host}/{repository}:*", "validator": _VALIDATOR}
            for repository in REPOSITORIES
        ],
        "cache": {"ttlSeconds": ttl_s, "failureTtlSeconds": 0},
        "log": {"level": KENNER_LOG_LEVEL},
    }
    return json.dumps(config, indent=2)


@contextmanager
def kenner_notation(run: BenchRun) -> Iterator[Target]:
    """kenner with a notation validator, Pod images by ``tag@digest``: allowed unchanged."""
    with harness_testbed(
        run.scratch / "notation-registry",
        what="the harness's registry",
        leave_out="--without-notation",
        with_scenarios=False,
    ) as registry:
        now = datetime.datetime.now(datetime.UTC)
        pki = make_pki(name="Bench", not_before=now - DAY, not_after=now + 30 * DAY)
        images = _signed_images(registry, pki, now)
        body = pod_review([image.pinned for image in images])
        root_pem = pki.root.public_bytes(serialization.Encoding.PEM).decode()

        def config(state: str, ttl_s: int) -> Path:
            path = run.scratch / f"kenner-notation-{state}.yaml"
            path.write_text(notation_config(registry, root_pem, ttl_s))
            return path

        log = ServerLog(StateLayout(registry.state_dir).logs / "registry.log", registry_fetch)
        ask = partial(_ask, run, body, log)
        warm_config = config("warm", _WARM_TTL_S)
        cold = []
        for n in range(1, run.cold_samples):
            with _kenner(run, warm_config, f"cold-{n}") as server:
                cold.append(ask(server.url))
        with _kenner(run, config("miss", 0), "miss") as server:
            ask(server.url)  # opens the connections
            misses = [ask(server.url) for _ in range(_CACHE_MISS_SAMPLES)]
        # The last fresh kenner gives the last cold sample, then stays up for the warm load.
        with _kenner(run, warm_config, "warm") as server:
            cold.append(ask(server.url))
            require_counted(cold, log)
            warm_from = log.position()
            yield Target(
                NAME,
                server,
                "/mutate",
                body,
                check_proof_only,
                "kenner serve, notation validator (one trust root, JWS envelopes as referrers "
                "through the tag schema) on a docker-registry, Pod with 3 signed images by "
                f"tag@digest, log level {KENNER_LOG_LEVEL}",
                cold_ms=statistics.median(sample.latency_ms for sample in cold),
                report=partial(_report, (cold, misses), log, warm_from),
            )


def _signed_images(registry: Testbed, pki: Pki, now: datetime.datetime) -> list[SignedImage]:
    """One image per repository with one JWS envelope over it, pushed to the registry."""
    pusher = RegistryPusher(f"https://{registry.registry_host}", registry.ca_pem)
    try:
        images = []
        for repository in REPOSITORIES:
            seed = json.dumps({"bench": repository}).encode()
            digest, size = pusher.push_image(repository, IMAGE_TAG, seed)
            envelope = sign(pki, target=SignedTarget(OCI_MANIFEST, digest, size), signing_time=now)
            artifact = referrer_manifest(
                digest,
                envelope,
                artifact_type=NOTATION_TYPE,
                layer_media_type="application/jose+json",
                subject_size=size,
            )
            pusher.attach(repository, artifact)
            images.append(SignedImage(f"{registry.registry_host}/{repository}:{IMAGE_TAG}", digest))
        return images
    finally:
        pusher.close()


def _kenner(run: BenchRun, config: Path, state: str) -> AbstractContextManager[RunningServer]:
    log_path = run.scratch / f"kenner-notation-{state}.log"
    return kenner_serving(f"kenner notation ({state})", config, run.tls, log_path)


def _ask(run: BenchRun, body: bytes, log: ServerLog, url: str) -> Sample:
    """Send the Pod once, check the answer, count what reached the registry meanwhile."""
    position = log.position()
    answer = probe(url, "/mutate", body, str(run.tls.ca))
    check_proof_only(answer.status, answer.body)
    return Sample(answer.latency_ms, log.fetches_since(position))


def _report(
    states: tuple[list[Sample], list[Sample]], log: ServerLog, warm_from: int, answered: int
) -> list[str]:
    return cache_report(
        NAME, "docker-registry", BY_DIGEST, states, log.fetches_since(warm_from), answered
    )
