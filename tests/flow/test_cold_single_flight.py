"""200 concurrent cold requests for one image: one fetch per role, counted by the servers.

Each request runs ``validate_checks`` on its own, as 200 admissions arriving at once would,
against the daemon's validators (``build_validators``) on in-memory Notary and registry
servers whose answers take a second, so that every request arrives while the first load is
still running. The counts come from the servers' own request logs, not from kenner's
statistics.
"""

from __future__ import annotations

import collections

import httpx
import trio
import trio.testing

from kenner.admission.decision import ImageCheck
from kenner.admission.image import parse_image
from kenner.admission.verdict import Trusted, Verdict
from kenner.config.model import (
    CacheConfig,
    Config,
    CosignTrustRoot,
    CosignValidatorConfig,
    NotaryV1ValidatorConfig,
    Rule,
    RuleOptions,
    TrustRoot,
)
from kenner.oci.manifest import signature_tag
from kenner.validators.build import build_validators, open_runtime
from kenner.validators.run import validate_checks
from tests.support.signed_servers import GUN, NOTARY, REGISTRY, SignedNotary, SignedRegistry

REQUESTS = 200
ANSWER_S = 1.0


async def test_200_cold_requests_fetch_each_notary_role_and_each_cosign_manifest_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    notary, registry = SignedNotary(), SignedRegistry()
    notary.server.delays.update(dict.fromkeys(("root", "timestamp", "snapshot", "targets"), 1.0))
    registry.server.delay_s = ANSWER_S
    servers = {
        httpx.URL(NOTARY).host: notary.server.mock_transport(),
        REGISTRY: registry.server.mock_transport(),
    }

    async def route(request: httpx.Request) -> httpx.Response:
        return await servers[request.url.host].handle_async_request(request)

    config = Config(
        validators=(
            NotaryV1ValidatorConfig("notary", NOTARY, (TrustRoot("default", notary.pin_pem),)),
            CosignValidatorConfig("cosign", (CosignTrustRoot("default", registry.public_pem),)),
        ),
        policy=(),
        cache=CacheConfig(ttl_s=300.0),
    )
    no_tlog = RuleOptions(verify_in_transparency_log=False)
    checks = [
        ImageCheck(parse_image(f"{GUN}:v1"), Rule("*", "notary", RuleOptions()), ()),
        ImageCheck(parse_image(f"{REGISTRY}/team/app:signed"), Rule("*", "cosign", no_tlog), ()),
    ]
    answers: list[dict[str, Verdict]] = []
    async with open_runtime(transport=httpx.MockTransport(route)) as runtime:
        validators = build_validators(config, runtime)

        async def admission() -> None:
            answers.append(await validate_checks(checks, validators, trio.current_time() + 30))

        start = trio.current_time()
        async with trio.open_nursery() as nursery:
            for _ in range(REQUESTS):
                nursery.start_soon(admission)
    expected = {checks[0].key: Trusted(notary.digest), checks[1].key: Trusted(registry.signed)}
    assert answers == [expected] * REQUESTS
    # Notary: the four roles at once; cosign: the tag, then the signature manifest and the
    # bundle referrers at once (the referrers API, its 404, beside the referrers tag schema).
    assert trio.current_time() - start == 2 * ANSWER_S
    roles = collections.Counter(request.role for request in notary.server.requests)
    assert roles == dict.fromkeys(("root", "timestamp", "snapshot", "targets"), 1)
    paths = collections.Counter(registry.server.requests)
    assert paths == {
        "/v2/team/app/manifests/signed": 1,
        f"/v2/team/app/manifests/{signature_tag(registry.signed)}": 1,
        f"/v2/team/app/referrers/{registry.signed}": 1,
        f"/v2/team/app/manifests/{registry.signed.replace(':', '-')}": 1,
    }
