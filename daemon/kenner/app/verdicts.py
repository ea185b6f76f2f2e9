"""Step 4, turn the facts into verdicts: plan the request, then validate its images.

Rules:

- Planning is the decision core's (``kenner.admission.decision.plan_request``): which images
  to check under which rule, which to skip (unchanged, approved through the owner) and the
  denials known before any validation. A request with more than ``THREAD_IMAGES`` image fields
  is planned in a worker thread (``kenner.offload``) so that it cannot stall the event loop;
  a plan not ready by the request's deadline denies the request (``PLAN_LATE``).
- Validation is ``kenner.validators.run.validate_checks``: every distinct image concurrently,
  answered from the validators' caches first, until the deadline; an image without a verdict
  by then is denied by the decision core.
- The pull secrets' logins (gathered in step 3) are passed to the validators explicitly.
"""

from __future__ import annotations

import trio

from kenner.admission.decision import Plan, plan_request
from kenner.admission.review import AdmissionRequest, AdmissionResponse
from kenner.admission.verdict import Verdict
from kenner.admission.workload import image_fields_bound
from kenner.app.gather import Facts
from kenner.app.state import Snapshot
from kenner.offload import in_worker_thread
from kenner.validators.run import OnValidated, validate_checks

# Measured (docs/benchmarks.md, "Large reviews"): planning costs up to 55 us per image not seen
# before (parsing the reference, choosing the rule); a thread hop costs about 0.1-0.4 ms.
THREAD_IMAGES = 64
PLAN_LATE = "kenner denied the request: planning did not finish before the request deadline"


async def plan(
    request: AdmissionRequest, snapshot: Snapshot, facts: Facts, *, deadline: float
) -> Plan:
    """The plan for ``request`` given ``facts``; a denial when not ready by ``deadline``.

    Raises:
        ReviewError: a malformed object found while planning (HTTP 400).
    """
    args = (request, snapshot.config, snapshot.policy, facts.owner_images, snapshot.prover)
    images = image_fields_bound(request.kind, request.object)
    if request.old_object is not None:
        images += image_fields_bound(request.kind, request.old_object)
    if images <= THREAD_IMAGES:
        return plan_request(*args)
    late = Plan(request, AdmissionResponse(False, PLAN_LATE))
    with trio.move_on_at(deadline):
        return await in_worker_thread(plan_request, *args)
    return late


async def validate(
    planned: Plan,
    snapshot: Snapshot,
    facts: Facts,
    *,
    deadline: float,
    on_validated: OnValidated | None = None,
) -> dict[str, Verdict]:
    """The verdicts reached by ``deadline`` for the plan's checks, keyed by check key."""
    if not planned.checks:
        return {}
    return await validate_checks(
        planned.checks, snapshot.validators, deadline, on_validated, pull_logins=facts.pull_logins
    )
