"""validate_checks answers cached images in the request task: no task, no nursery.

Tasks are counted with a trio instrument (``task_spawned``). The real validators run on the
in-memory servers of ``tests.support.signed_servers``; ``CacheOrWait`` is a validator whose cached
answers and waits are scripted, for the paths around the fast path (misses, deadline, bugs).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import attrs
import httpx
import pytest
import trio
import trio.testing

from kenner.admission.decision import ImageCheck
from kenner.admission.image import ImageRef, parse_image
from kenner.admission.verdict import Trusted, Untrusted, Verdict
from kenner.config.model import (
    CacheConfig,
    Config,
    CosignTrustRoot,
    CosignValidatorConfig,
    NotaryV1ValidatorConfig,
    Rule,
    RuleOptions,
    StaticValidatorConfig,
    TrustRoot,
)
from kenner.oci.dockerconfig import RegistryLogins
from kenner.validators.build import build_validators, open_runtime
from kenner.validators.driver import Driven
from kenner.validators.run import validate_checks
from tests.support.loop_watch import instrumented
from tests.support.signed_servers import GUN, NOTARY, REGISTRY, SignedNotary, SignedRegistry

FAR = 1e9  # a deadline no test reaches
NO_TLOG = RuleOptions(verify_in_transparency_log=False)


class TaskCounter(trio.abc.Instrument):
    def __init__(self) -> None:
        self.spawned = 0

    def task_spawned(self, task: trio.lowlevel.Task) -> None:
        self.spawned += 1


def check(image: str, validator: str, options: RuleOptions | None = None) -> ImageCheck:
    return ImageCheck(parse_image(image), Rule("*", validator, options or RuleOptions()), ())


class Reports:
    """What ``on_validated`` was told."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Verdict, float]] = []

    def __call__(self, check: ImageCheck, verdict: Verdict, duration_s: float) -> None:
        self.seen.append((check.key, verdict, duration_s))


async def test_a_warm_pod_of_notary_cosign_and_static_images_opens_no_task(
    autojump_clock: trio.testing.MockClock,
) -> None:
    notary, registry = SignedNotary(), SignedRegistry()
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
            StaticValidatorConfig("allow", True),
        ),
        policy=(),
        cache=CacheConfig(ttl_s=300.0),
    )
    checks = [
        check(f"{GUN}:v1", "notary"),
        check(f"{REGISTRY}/team/app:signed", "cosign", NO_TLOG),
        check(f"{REGISTRY}/team/app@{registry.signed}", "cosign", NO_TLOG),
        check("registry.k8s.io/pause:3.9", "allow"),
    ]
    expected = {
        f"{GUN}:v1": Trusted(notary.digest),
        f"{REGISTRY}/team/app:signed": Trusted(registry.signed),
        f"{REGISTRY}/team/app@{registry.signed}": Trusted(registry.signed),
        "registry.k8s.io/pause:3.9": Trusted(),
    }
    async with open_runtime(transport=httpx.MockTransport(route)) as runtime:
        validators = build_validators(config, runtime)
        with instrumented(TaskCounter()) as cold:
            assert await validate_checks(checks, validators, FAR) == expected
        assert cold.spawned > 0  # the control: misses are loaded in tasks
        requests = len(notary.server.requests) + len(registry.server.requests)
        reports = Reports()
        with instrumented(TaskCounter()) as warm:
            assert await validate_checks(checks, validators, FAR, reports) == expected
        assert warm.spawned == 0
        assert len(notary.server.requests) + len(registry.server.requests) == requests
        assert reports.seen == [(c.key, expected[c.key], 0.0) for c in checks]


@attrs.define
class CacheOrWait:
    """Answers the images in ``cached`` at once; the others after ``wait_s``, Untrusted."""

    name: str
    cached: Mapping[str, Verdict] = attrs.Factory(dict)
    wait_s: float = 1.0
    broken: bool = False
    validated: list[str] = attrs.Factory(list)

    def answer_now(
        self, image: ImageRef, options: RuleOptions, pull_logins: RegistryLogins | None = None
    ) -> Verdict | None:
        if self.broken:
            raise RuntimeError("bug in the fast path")
        return self.cached.get(str(image))

    async def answer(
        self, image: ImageRef, options: RuleOptions, pull_logins: RegistryLogins | None = None
    ) -> Verdict:
        self.validated.append(str(image))
        await trio.sleep(self.wait_s)
        return Untrusted(f"{image} was loaded")


IMAGES = [f"registry.kenner.test/team/{name}:v1" for name in ("a", "b", "c")]


def scripted(validator: CacheOrWait) -> Mapping[str, Driven]:
    return {validator.name: validator}


async def test_only_misses_are_validated_and_a_single_miss_needs_no_task(
    autojump_clock: trio.testing.MockClock,
) -> None:
    validator = CacheOrWait("v", {IMAGES[0]: Trusted("sha256:a"), IMAGES[1]: Trusted("sha256:b")})
    with instrumented(TaskCounter()) as tasks:
        verdicts = await validate_checks([check(i, "v") for i in IMAGES], scripted(validator), FAR)
    assert tasks.spawned == 0
    assert validator.validated == [IMAGES[2]]
    assert verdicts == {
        IMAGES[0]: Trusted("sha256:a"),
        IMAGES[1]: Trusted("sha256:b"),
        IMAGES[2]: Untrusted(f"{IMAGES[2]} was loaded"),
    }


async def test_several_misses_run_concurrently_one_task_each_under_the_deadline(
    autojump_clock: trio.testing.MockClock,
) -> None:
    validator = CacheOrWait("v", {IMAGES[0]: Trusted("sha256:a")}, wait_s=5.0)
    start = trio.current_time()
    reports = Reports()
    with instrumented(TaskCounter()) as tasks:
        verdicts = await validate_checks(
            [check(i, "v") for i in IMAGES], scripted(validator), start + 2.0, reports
        )
    assert trio.current_time() - start == 2.0
    assert tasks.spawned == 2
    # The cached answer stands; the misses did not finish in time, so they have none.
    assert verdicts == {IMAGES[0]: Trusted("sha256:a")}
    assert reports.seen == [(IMAGES[0], Trusted("sha256:a"), 0.0)]


async def test_a_cached_answer_past_the_deadline_still_counts(
    autojump_clock: trio.testing.MockClock,
) -> None:
    validator = CacheOrWait("v", {IMAGES[0]: Trusted("sha256:a")})
    deadline = trio.current_time() - 1.0
    verdicts = await validate_checks([check(IMAGES[0], "v")], scripted(validator), deadline)
    assert verdicts == {IMAGES[0]: Trusted("sha256:a")}


async def test_a_fast_path_that_raises_denies_its_image_like_a_failing_validate(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    validator = CacheOrWait("v", broken=True)
    with caplog.at_level(logging.ERROR, logger="kenner.validators.run"):
        verdicts = await validate_checks([check(IMAGES[0], "v")], scripted(validator), FAR)
    assert verdicts == {IMAGES[0]: Untrusted("internal error in validator 'v'")}
    assert validator.validated == []
    assert f"validator 'v' failed on {IMAGES[0]}" in caplog.text
