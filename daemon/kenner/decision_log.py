"""The decision log: one JSON line per admission request, with no secrets in it."""

from __future__ import annotations

import logging

from kenner.admission.decision import Decision
from kenner.admission.review import AdmissionRequest

log = logging.getLogger("kenner.decision")


def decision_record(
    request: AdmissionRequest, decision: Decision, duration_s: float
) -> dict[str, object]:
    """The fields of one decision line."""
    return {
        "uid": request.uid,
        "operation": request.operation,
        "kind": request.kind,
        "namespace": request.namespace,
        "name": request.name,
        "allowed": decision.response.allowed,
        "images": [
            {
                "image": o.image,
                "rule": o.rule,
                "validator": o.validator,
                "verdict": o.verdict,
                "reason": o.reason,
                "digest": o.digest,
            }
            for o in decision.outcomes
        ],
        "duration_ms": round(duration_s * 1000, 3),
    }


def log_decision(request: AdmissionRequest, decision: Decision, duration_s: float) -> None:
    """Emit the decision line (the JSON formatter renders ``extra['fields']``)."""
    if not log.isEnabledFor(logging.INFO):
        return  # building the record costs more than the check
    log.info("admission decision", extra={"fields": decision_record(request, decision, duration_s)})
