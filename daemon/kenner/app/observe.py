"""Step 6, observe the decision: alerts, metrics, the decision log.

Rules:

- Alerts first (``alert``), because one may change the answer: a receiver with
  ``failIfAlertSendingFails`` is awaited within the request's deadline and its failure denies
  the request, in detection mode too: an operator who asked for that receiver wants no
  admission it did not hear of (Connaisseur's Go version admits). Other receivers are queued
  and never delay the answer.
- Then the record (``record``): the request is counted in the daemon's metrics
  (``kenner.metrics``) when it has some, and its decision logged (``kenner.decision_log``),
  both with the final answer and the request's whole duration.
- Validation results use Connaisseur's labels: ``type`` and ``validator_name`` of the rule's
  validator, ``result`` success / error / timeout. Images not validated are counted as skipped
  under Connaisseur's reasons, labelled with the validator their rule would have used.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from kenner.admission.decision import CHILD_SKIP, UNCHANGED_SKIP, Decision, ImageCheck, Plan
from kenner.admission.image import ImageRefError, parse_image
from kenner.admission.review import AdmissionRequest, AdmissionResponse
from kenner.admission.verdict import Trusted, Verdict
from kenner.alerting.sender import AlertDispatcher
from kenner.app.state import Snapshot
from kenner.decision_log import log_decision
from kenner.metrics import UNCHANGED_SKIP_REASON, Metrics

# kenner's skip reasons (kenner.admission.decision) -> Connaisseur's metric label.
_SKIP_REASONS = {
    UNCHANGED_SKIP: UNCHANGED_SKIP_REASON,
    CHILD_SKIP: "automatic approval of child image reference",
}


async def alert(
    request: AdmissionRequest,
    decision: Decision,
    snapshot: Snapshot,
    alerts: AlertDispatcher | None,
    *,
    deadline: float,
) -> Decision:
    """``decision`` once sent to the alert receivers: a denial when a receiver that must hear
    of every admission request could not be told by ``deadline`` (trio time)."""
    if alerts is None:
        return decision
    failure = await alerts.dispatch(request, decision, snapshot.config.alerting, deadline)
    if failure is None:
        return decision
    denial = AdmissionResponse(False, f"kenner denied the request: {failure}")
    return attrs.evolve(decision, response=denial)


def record(
    request: AdmissionRequest,
    plan: Plan,
    verdicts: Mapping[str, Verdict],
    decision: Decision,
    duration_s: float,
    observer: RequestObserver | None,
) -> None:
    """Count the answered request (with an ``observer``) and log its decision."""
    if observer is not None:
        observer.request_done(request, plan, verdicts, decision, duration_s)
    log_decision(request, decision, duration_s)


class RequestObserver:
    """Counts the validations and the outcome of one request against one snapshot."""

    def __init__(self, metrics: Metrics, snapshot: Snapshot) -> None:
        self._metrics = metrics
        self._snapshot = snapshot
        self._types = {v.name: v.type for v in snapshot.config.validators}

    def validation_done(self, check: ImageCheck, verdict: Verdict, duration_s: float) -> None:
        """One validator call finished (in time) with ``verdict``."""
        validator_type = self._type(check.rule.validator)
        result = "success" if isinstance(verdict, Trusted) else "error"
        self._metrics.count_validation(validator_type, check.rule.validator, result, duration_s)

    def request_done(
        self,
        request: AdmissionRequest,
        plan: Plan,
        verdicts: Mapping[str, Verdict],
        decision: Decision,
        duration_s: float,
    ) -> None:
        """The request was answered (``verdicts``: those reached before the deadline)."""
        timed_out = False
        for check in plan.checks:
            if check.key not in verdicts:
                timed_out = True
                self._metrics.count_validation(
                    self._type(check.rule.validator), check.rule.validator, "timeout"
                )
        for outcome in decision.outcomes:
            if outcome.verdict == "skip":
                self._count_skip(outcome.image, outcome.reason)
        allowed = decision.response.allowed
        self._metrics.count_request(request.kind, allowed, timed_out and not allowed, duration_s)

    def _count_skip(self, image: str, reason: str) -> None:
        try:
            rule = self._snapshot.policy.select(parse_image(image))
        except ImageRefError:
            rule = None
        name = rule.validator if rule is not None else ""
        self._metrics.count_skip(self._type(name), name, _SKIP_REASONS.get(reason, reason))

    def _type(self, validator_name: str) -> str:
        return self._types.get(validator_name, "unknown")
