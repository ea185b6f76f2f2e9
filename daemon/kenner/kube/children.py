"""Automatic child approval: the images a child may keep because its owner already has them.

A ReplicaSet's pods, a Deployment's ReplicaSets, a CronJob's Jobs carry the images their owner
was admitted with (and pinned to signed digests then). Validating them again costs a Notary
round trip per pod and can deny a rollout halfway when a Notary is briefly down. kenner fetches
each owner the child names and keeps the digest references of its pod template only when the
owner vouches for them (``kenner.admission.owners``: the same UID, not being deleted, a proof that
verifies under the current key and policy); the decision core skips those.

Under ``resourceValidationMode: podsOnly`` controllers are admitted unchecked and carry no
proof, so child approval does not apply at all. Whether it applies is the decision core's rule
(``kenner.admission.decision.child_approval_applies``, which ignores owner images otherwise);
this module asks it only to skip reads whose answer would not count. Every failure (API down,
owner missing, UID or kind mismatch, no valid proof, deadline) returns no images for that
owner and is logged with the reason, so the child is validated in full: an error never turns
into an allow.
"""

from __future__ import annotations

import logging

import trio

from kenner.admission.decision import VALIDATED_OPERATIONS, child_approval_applies
from kenner.admission.kube_names import KubeNameError
from kenner.admission.owners import OwnerMismatch, owner_proven_images, owner_references
from kenner.admission.proof import Prover
from kenner.admission.review import AdmissionRequest
from kenner.config.model import Config
from kenner.kube.client import KubeClient, KubeError

log = logging.getLogger(__name__)


async def owner_approved_images(
    request: AdmissionRequest,
    kube: KubeClient | None,
    config: Config,
    prover: Prover,
    *,
    deadline: float,
) -> frozenset[str]:
    """Normalised digest references of the pod templates of the request object's owners
    whose proofs verify under ``prover``.

    Each API call ends at ``kubernetes.apiSeconds`` from its start or at ``deadline`` (trio
    time), whichever is first. Empty when the feature is off or ``podsOnly`` is set, there is
    no API access, the object has no owner kenner can read, or anything fails.
    """
    if (
        kube is None
        or not child_approval_applies(config)
        or request.operation not in VALIDATED_OPERATIONS
        or request.object is None
        or not request.namespace
    ):
        return frozenset()
    images: set[str] = set()
    for ref in owner_references(request.object):
        try:
            path = ref.api_path(request.namespace)
        except KubeNameError as error:  # a hostile namespace never reaches the API
            log.warning(
                "child approval not possible; validating every image",
                extra={"fields": {"uid": request.uid, "reason": str(error)}},
            )
            continue
        failure: str | None = None
        level = logging.WARNING  # the API failed: worth an operator's look
        with trio.move_on_at(min(deadline, trio.current_time() + config.kubernetes.api_s)):
            try:
                owner = await kube.get_object(path)
                images |= owner_proven_images(owner, ref, request.namespace, prover)
            except KubeError as error:
                failure = str(error)
            except OwnerMismatch as error:
                # Common and harmless (e.g. an owner created before kenner): info.
                failure, level = str(error), logging.INFO
            else:
                continue
        failure = failure or f"no answer within {config.kubernetes.api_s:g} s"
        log.log(
            level,
            "child approval not possible; validating every image",
            extra={"fields": {"uid": request.uid, "owner": path, "reason": failure}},
        )
    return frozenset(images)
