"""Answer one AdmissionReview: the walk of a request through the steps of ``kenner.app``.

read -> needs -> gather -> plan -> validate -> decide -> observe -> respond, forward only.

Rules: the request's one absolute deadline starts when its body arrives
(``deadlines.request_s`` from then) and every step that waits (parsing a big body, the API
reads, planning in a thread, validation, a must-deliver alert) ends at it. A body that is not
an answerable AdmissionReview, or an object found malformed while planning, is a
``ReviewError`` (HTTP 400). Any other exception is a bug, answered with a denial
(``kenner.app.respond.internal_error``), never with an HTTP 500. This module only orders the
steps; each step's own rules are in its module.
"""

from __future__ import annotations

import trio

from kenner.admission.decision import Decision, Plan, decide
from kenner.admission.review import AdmissionRequest, ReviewError
from kenner.admission.verdict import Verdict
from kenner.alerting.sender import AlertDispatcher
from kenner.app.gather import gather
from kenner.app.needs import needs_of
from kenner.app.observe import RequestObserver, alert, record
from kenner.app.read import read_review
from kenner.app.respond import internal_error, respond
from kenner.app.state import Snapshot
from kenner.app.verdicts import plan, validate
from kenner.metrics import Metrics


async def answer_review(
    body: bytes,
    snapshot: Snapshot,
    *,
    metrics: Metrics | None = None,
    alerts: AlertDispatcher | None = None,
) -> tuple[bytes, Decision]:
    """The AdmissionReview response for ``body`` and the decision behind it.

    With ``metrics`` the request is counted; with ``alerts`` the decision is sent to the alert
    receivers (``kenner.app.observe``).

    Raises:
        ReviewError: the body is not an answerable AdmissionReview (HTTP 400).
    """
    started = trio.current_time()
    request = await read_review(body, deadline=started + snapshot.config.deadlines.request_s)
    try:
        return await answer_request(
            request, snapshot, started=started, metrics=metrics, alerts=alerts
        )
    except ReviewError:
        raise  # a malformed object found while planning: HTTP 400
    except Exception:
        return internal_error(request)


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
    planned, verdicts, decision = await _decide(request, snapshot, deadline, observer)
    decision = await alert(request, decision, snapshot, alerts, deadline=deadline)
    record(request, planned, verdicts, decision, trio.current_time() - started, observer)
    return respond(request, decision), decision


async def decide_request(
    request: AdmissionRequest, snapshot: Snapshot, *, deadline: float
) -> Decision:
    """Gather, plan, validate every distinct image concurrently until ``deadline``, decide."""
    return (await _decide(request, snapshot, deadline, None))[2]


async def _decide(
    request: AdmissionRequest,
    snapshot: Snapshot,
    deadline: float,
    observer: RequestObserver | None,
) -> tuple[Plan, dict[str, Verdict], Decision]:
    facts = await gather(request, snapshot, needs_of(request, snapshot), deadline=deadline)
    planned = await plan(request, snapshot, facts, deadline=deadline)
    on_validated = observer.validation_done if observer is not None else None
    verdicts = await validate(
        planned, snapshot, facts, deadline=deadline, on_validated=on_validated
    )
    return planned, verdicts, decide(planned, verdicts, snapshot.config)
