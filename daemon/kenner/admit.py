"""Answer one AdmissionReview: parse, plan, validate concurrently, decide, log."""

from __future__ import annotations

import trio

from kenner.admission.decision import Decision, decide, plan_request
from kenner.admission.review import AdmissionRequest, parse_review, render_response
from kenner.decision_log import log_decision
from kenner.kube.children import owner_approved_images
from kenner.server.state import Snapshot
from kenner.validators.run import validate_checks


async def answer_review(body: bytes, snapshot: Snapshot) -> tuple[bytes, Decision]:
    """The AdmissionReview response for ``body`` and the decision behind it.

    The request's one absolute deadline starts here: ``deadlines.request_s`` from now.

    Raises:
        ReviewError: the body is not an answerable AdmissionReview (HTTP 400).
    """
    started = trio.current_time()
    return await answer_request(parse_review(body), snapshot, started=started)


async def answer_request(
    request: AdmissionRequest, snapshot: Snapshot, *, started: float
) -> tuple[bytes, Decision]:
    """Like ``answer_review`` for a request already parsed (``started``: trio time)."""
    decision = await decide_request(
        request, snapshot, deadline=started + snapshot.config.deadlines.request_s
    )
    log_decision(request, decision, trio.current_time() - started)
    return render_response(request.api_version, request.uid, decision.response), decision


async def decide_request(
    request: AdmissionRequest, snapshot: Snapshot, *, deadline: float
) -> Decision:
    """Plan, validate every distinct image concurrently until ``deadline``, decide."""
    config = snapshot.config
    owner_images = await owner_approved_images(request, snapshot.kube, config, deadline=deadline)
    plan = plan_request(request, config, snapshot.policy, owner_images)
    verdicts = (
        await validate_checks(plan.checks, snapshot.validators, deadline) if plan.checks else {}
    )
    return decide(plan, verdicts, config)
