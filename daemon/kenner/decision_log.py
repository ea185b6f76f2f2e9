"""The decision log: one JSON line per admission request, with no secrets in it.

The line is bounded whatever the request held: at most ``MAX_LOGGED_IMAGES`` (50) images are
listed, the rest only counted (``images_omitted``), and every string that comes from the
request or a validator is clipped to 200 characters.
"""

from __future__ import annotations

import logging

from kenner.admission.decision import Decision, ImageOutcome
from kenner.admission.review import AdmissionRequest
from kenner.quoting import clip

log = logging.getLogger("kenner.decision")

MAX_LOGGED_IMAGES = 50


def decision_record(
    request: AdmissionRequest, decision: Decision, duration_s: float
) -> dict[str, object]:
    """The fields of one decision line."""
    outcomes = decision.outcomes
    return {
        "uid": clip(request.uid),
        "operation": request.operation,
        "kind": clip(request.kind),
        "namespace": clip(request.namespace),
        "name": clip(request.name),
        "allowed": decision.response.allowed,
        "images": [_image(o) for o in outcomes[:MAX_LOGGED_IMAGES]],
        "images_omitted": max(0, len(outcomes) - MAX_LOGGED_IMAGES),
        "duration_ms": round(duration_s * 1000, 3),
    }


def _image(outcome: ImageOutcome) -> dict[str, str | None]:
    return {
        "image": clip(outcome.image),
        "rule": outcome.rule,
        "validator": outcome.validator,
        "verdict": outcome.verdict,
        "reason": clip(outcome.reason, 500),  # kenner's words, quoting input clipped already
        "digest": outcome.digest,
    }


def log_decision(request: AdmissionRequest, decision: Decision, duration_s: float) -> None:
    """Emit the decision line (the JSON formatter renders ``extra['fields']``)."""
    if not log.isEnabledFor(logging.INFO):
        return  # building the record costs more than the check
    log.info("admission decision", extra={"fields": decision_record(request, decision, duration_s)})
