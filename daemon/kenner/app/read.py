"""Step 1, read the review: the body becomes an ``AdmissionRequest``.

Rules: the parse is ``kenner.admission.review.parse_review`` (pure). A body larger than
``THREAD_BODY_BYTES`` is parsed in a worker thread (``kenner.offload``, one at a time) so that
a big review cannot stall the event loop and every other request with it; the common small
body is parsed in place, as a thread hop costs more than its parse. A body not parsed by the
request's deadline is a ``ReviewError`` (HTTP 400): without a uid there is nothing to answer.
"""

from __future__ import annotations

import trio

from kenner.admission.review import AdmissionRequest, ReviewError, parse_review
from kenner.offload import in_worker_thread

# Measured (docs/benchmarks.md, "Large reviews"): parsing a 64 KiB body takes about 0.3 ms; a
# thread hop costs about 0.1-0.4 ms, too much for the common small review.
THREAD_BODY_BYTES = 64 * 1024


async def read_review(body: bytes, *, deadline: float) -> AdmissionRequest:
    """The request in ``body``, parsed by ``deadline`` (trio time).

    Raises:
        ReviewError: the body is not an answerable AdmissionReview, or was not parsed in time.
    """
    if len(body) <= THREAD_BODY_BYTES:
        return parse_review(body)
    parsed: AdmissionRequest | None = None
    with trio.move_on_at(deadline):
        parsed = await in_worker_thread(parse_review, body)
    if parsed is None:
        raise ReviewError("the body could not be parsed before the request deadline")
    return parsed
