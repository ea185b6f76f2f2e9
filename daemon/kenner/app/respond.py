"""Step 7, respond: the decision becomes the AdmissionReview response body.

Rules: the body is rendered by the pure core (``kenner.admission.review.render_response``:
the patch, the message) in the API version and with the uid of the request. This module also
holds the internal-error boundary: a bug must not become an HTTP 500, which a webhook with
``failurePolicy: Ignore`` turns into an admission. Such a request is denied (fail closed), its
traceback logged with the uid, and nothing of it remembered (validators cache only expected
failures); it is neither counted nor alerted on, as its decision never existed.
"""

from __future__ import annotations

import logging

from kenner.admission.decision import Decision
from kenner.admission.review import AdmissionRequest, AdmissionResponse, render_response

INTERNAL_ERROR = "kenner denied the request: internal error (logged by kenner)"

log = logging.getLogger(__name__)


def respond(request: AdmissionRequest, decision: Decision) -> bytes:
    """The response body that answers ``request`` with ``decision``."""
    return render_response(request.api_version, request.uid, decision.response)


def internal_error(request: AdmissionRequest) -> tuple[bytes, Decision]:
    """The denial of a request whose answer failed with a bug; call from an ``except``."""
    log.exception("internal error while answering a review", extra={"fields": {"uid": request.uid}})
    decision = Decision(AdmissionResponse(False, INTERNAL_ERROR), ())
    return respond(request, decision), decision
