"""Answer one AdmissionReview: parse, plan, validate concurrently, decide, alert, log.

With ``metrics`` the request is counted; with ``alerts`` the decision is sent to the alert
receivers. A receiver with ``failIfAlertSendingFails`` is awaited within the request's
deadline and its failure denies the request, in detection mode too: an operator who asked
for that receiver wants no admission it did not hear of (Connaisseur's Go version admits).
"""

from __future__ import annotations

from contextlib import nullcontext

import attrs
import trio

from kenner.admission.decision import Decision, Plan, decide, plan_request
from kenner.admission.review import (
    AdmissionRequest,
    AdmissionResponse,
    parse_review,
    render_response,
)
from kenner.admission.verdict import Verdict
from kenner.alerting.sender import AlertDispatcher
from kenner.decision_log import log_decision
from kenner.kube.children import owner_approved_images
from kenner.kube.pull_secrets import pod_pull_logins
from kenner.metrics import Metrics
from kenner.observe import RequestObserver
from kenner.server.state import Snapshot
from kenner.validators.pod_logins import pod_logins
from kenner.validators.run import validate_checks


async def answer_review(
    body: bytes,
    snapshot: Snapshot,
    *,
    metrics: Metrics | None = None,
    alerts: AlertDispatcher | None = None,
) -> tuple[bytes, Decision]:
    """The AdmissionReview response for ``body`` and the decision behind it.

    The request's one absolute deadline starts here: ``deadlines.request_s`` from now.

    Raises:
        ReviewError: the body is not an answerable AdmissionReview (HTTP 400).
    """
    started = trio.current_time()
    return await answer_request(
        parse_review(body), snapshot, started=started, metrics=metrics, alerts=alerts
    )


async def answer_request(
    request: AdmissionRequest,
    snapshot: Snapshot,
    *,
    started: float,
    metrics: Metrics | None = None,
    alerts: AlertDispatcher | None = None,
) -> tuple[bytes, Decision]:
    """Like ``answer_review`` for a request already parsed (``started``: trio time)."""
    deadline = started + snapshot.config.deadlines.request_s
    observer = RequestObserver(metrics, snapshot) if metrics is not None else None
    plan, verdicts, decision = await _decide(request, snapshot, deadline, observer)
    if alerts is not None:
        failure = await alerts.dispatch(request, decision, snapshot.config.alerting, deadline)
        if failure is not None:
            message = f"kenner denied the request: {failure}"
            decision = attrs.evolve(decision, response=AdmissionResponse(False, message))
    duration_s = trio.current_time() - started
    if observer is not None:
        observer.request_done(request, plan, verdicts, decision, duration_s)
    log_decision(request, decision, duration_s)
    return render_response(request.api_version, request.uid, decision.response), decision


async def decide_request(
    request: AdmissionRequest, snapshot: Snapshot, *, deadline: float
) -> Decision:
    """Plan, validate every distinct image concurrently until ``deadline``, decide."""
    return (await _decide(request, snapshot, deadline, None))[2]


async def _decide(
    request: AdmissionRequest,
    snapshot: Snapshot,
    deadline: float,
    observer: RequestObserver | None,
) -> tuple[Plan, dict[str, Verdict], Decision]:
    config = snapshot.config
    prover = snapshot.prover
    owner_images = await owner_approved_images(
        request, snapshot.kube, config, prover, deadline=deadline
    )
    plan = plan_request(request, config, snapshot.policy, owner_images, prover)
    on_validated = observer.validation_done if observer is not None else None
    verdicts: dict[str, Verdict] = {}
    if plan.checks:
        logins = await pod_pull_logins(request, snapshot.kube, config, deadline=deadline)
        # Setting the context variable costs a visible share of a static admission: only
        # when there are logins to hand on.
        with pod_logins(logins) if logins is not None else nullcontext():
            verdicts = await validate_checks(
                plan.checks, snapshot.validators, deadline, on_validated
            )
    return plan, verdicts, decide(plan, verdicts, config)
