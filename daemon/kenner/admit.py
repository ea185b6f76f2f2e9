"""Answer one AdmissionReview: parse, plan, validate concurrently, decide, alert, log.

A body larger than ``THREAD_BODY_BYTES`` is parsed, and a request with more than
``THREAD_IMAGES`` image fields is planned, in a worker thread (one at a time), so that a big
review cannot stall the event loop and every other request with it. Planning ends at the
request's deadline: a request whose plan is not ready by then is denied (a body not even
parsed by then is a ReviewError: there is no uid to answer).

With ``metrics`` the request is counted; with ``alerts`` the decision is sent to the alert
receivers. A receiver with ``failIfAlertSendingFails`` is awaited within the request's
deadline and its failure denies the request, in detection mode too: an operator who asked
for that receiver wants no admission it did not hear of (Connaisseur's Go version admits).
"""

from __future__ import annotations

import logging
from contextlib import nullcontext

import attrs
import trio

from kenner.admission.decision import Decision, Plan, decide, plan_request
from kenner.admission.review import (
    AdmissionRequest,
    AdmissionResponse,
    ReviewError,
    parse_review,
    render_response,
)
from kenner.admission.verdict import Verdict
from kenner.admission.workload import image_fields_bound
from kenner.alerting.sender import AlertDispatcher
from kenner.decision_log import log_decision
from kenner.kube.children import owner_approved_images
from kenner.kube.pull_secrets import pod_pull_logins
from kenner.metrics import Metrics
from kenner.observe import RequestObserver
from kenner.offload import in_worker_thread
from kenner.server.state import Snapshot
from kenner.validators.pod_logins import pod_logins
from kenner.validators.run import validate_checks

# Measured (docs/benchmarks.md, "Large reviews"): parsing a 64 KiB body takes about 0.3 ms,
# planning costs up to 55 us per image not seen before (parsing the reference, choosing the
# rule); a thread hop costs about 0.1-0.4 ms, too much for the common small review.
THREAD_BODY_BYTES = 64 * 1024
THREAD_IMAGES = 64
PLAN_LATE = "kenner denied the request: planning did not finish before the request deadline"
INTERNAL_ERROR = "kenner denied the request: internal error (logged by kenner)"

log = logging.getLogger(__name__)


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
    if len(body) <= THREAD_BODY_BYTES:
        request = parse_review(body)
    else:
        parsed: AdmissionRequest | None = None
        with trio.move_on_at(started + snapshot.config.deadlines.request_s):
            parsed = await in_worker_thread(parse_review, body)
        if parsed is None:
            raise ReviewError("the body could not be parsed before the request deadline")
        request = parsed
    try:
        return await answer_request(
            request, snapshot, started=started, metrics=metrics, alerts=alerts
        )
    except ReviewError:
        raise  # a malformed object found while planning: HTTP 400
    except Exception:
        # A bug must not become an HTTP 500: under a webhook's failurePolicy: Ignore that
        # admits. The request is denied (fail closed) and the traceback logged; nothing of it
        # is remembered (validators cache only expected failures).
        log.exception(
            "internal error while answering a review", extra={"fields": {"uid": request.uid}}
        )
        decision = Decision(AdmissionResponse(False, INTERNAL_ERROR), ())
        return render_response(request.api_version, request.uid, decision.response), decision


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
    images = image_fields_bound(request.kind, request.object)
    if request.old_object is not None:
        images += image_fields_bound(request.kind, request.old_object)
    if images <= THREAD_IMAGES:
        plan = plan_request(request, config, snapshot.policy, owner_images, prover)
    else:
        plan = Plan(request, AdmissionResponse(False, PLAN_LATE))
        with trio.move_on_at(deadline):
            plan = await in_worker_thread(
                plan_request, request, config, snapshot.policy, owner_images, prover
            )
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
