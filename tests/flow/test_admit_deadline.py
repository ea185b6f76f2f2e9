"""The request deadline, on trio's virtual clock: exact times, fail closed."""

from __future__ import annotations

import trio

from kenner.admission.review import parse_review
from kenner.app.pipeline import decide_request
from kenner.app.state import Snapshot
from kenner.config.model import Config, Deadlines, Rule
from kenner.validators.driver import Driven
from tests.support.proofs import without_proof
from tests.support.reviews import as_bytes, pod_review
from tests.support.validators import SlowValidator

DIGEST = "sha256:" + "ab" * 32


def _pod(*images: str) -> bytes:
    return as_bytes(pod_review(*images, uid="u"))


def _snapshot(**validators: Driven) -> Snapshot:
    config = Config(
        validators=(),
        policy=(Rule("docker.io/library/slow*", "slow"), Rule("docker.io/library/fast*", "fast")),
        deadlines=Deadlines(request_s=8.0),
    )
    return Snapshot(config, validators)


async def test_images_are_validated_concurrently(autojump_clock: trio.testing.MockClock) -> None:
    snapshot = _snapshot(fast=SlowValidator("fast", 3.0, DIGEST), slow=SlowValidator("slow", 5.0))
    start = trio.current_time()
    decision = await decide_request(
        parse_review(_pod("fast-a", "fast-b", "slow-c")), snapshot, deadline=start + 8.0
    )
    assert decision.response.allowed
    # three validations of 3 s, 3 s and 5 s finish together after 5 s, not 11 s
    assert trio.current_time() - start == 5.0
    assert len(without_proof(decision.response.patch)) == 2


async def test_an_image_not_done_by_the_deadline_is_denied(
    autojump_clock: trio.testing.MockClock,
) -> None:
    snapshot = _snapshot(fast=SlowValidator("fast", 1.0, DIGEST), slow=SlowValidator("slow", 60.0))
    start = trio.current_time()
    decision = await decide_request(
        parse_review(_pod("fast-a", "slow-b")), snapshot, deadline=start + 8.0
    )
    assert trio.current_time() - start == 8.0
    assert not decision.response.allowed
    assert decision.response.message == (
        "kenner denied the request: image 'docker.io/library/slow-b:latest': "
        "validation did not finish before the request deadline"
    )
    verdicts = {o.image: o.verdict for o in decision.outcomes}
    assert verdicts == {
        "docker.io/library/fast-a:latest": "allow",
        "docker.io/library/slow-b:latest": "deny",
    }
