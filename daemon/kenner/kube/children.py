"""Automatic child approval: the images a child may keep because its owner already has them.

A ReplicaSet's pods, a Deployment's ReplicaSets, a CronJob's Jobs carry the images their owner
was admitted with (and pinned to signed digests then). Validating them again costs a Notary
round trip per pod and can deny a rollout halfway when a Notary is briefly down. kenner fetches
each owner the child names, requires the same UID (the very object, not a namesake), and
returns the normalised references of the owner's pod template; the decision core skips those.

Every failure (API down, owner missing, UID or kind mismatch, deadline) returns no images for
that owner, so the child is validated in full: an error never turns into an allow.
"""

from __future__ import annotations

import logging

import trio

from kenner.admission.decision import VALIDATED_OPERATIONS
from kenner.admission.review import AdmissionRequest
from kenner.config.model import Config
from kenner.kube.client import KubeClient, KubeError
from kenner.kube.owners import OwnerMismatch, owner_references, owner_template_images

log = logging.getLogger(__name__)


async def owner_approved_images(
    request: AdmissionRequest, kube: KubeClient | None, config: Config, *, deadline: float
) -> frozenset[str]:
    """Normalised image references of the request object's verified owners' pod templates.

    Each API call ends at ``kubernetes.apiSeconds`` from its start or at ``deadline`` (trio
    time), whichever is first. Empty when the feature is off, there is no API access, the
    object has no owner kenner can read, or anything fails.
    """
    if (
        kube is None
        or not config.features.automatic_child_approval
        or request.operation not in VALIDATED_OPERATIONS
        or request.object is None
        or not request.namespace
    ):
        return frozenset()
    images: set[str] = set()
    for ref in owner_references(request.object):
        path = ref.api_path(request.namespace)
        failure: str | None = None
        with trio.move_on_at(min(deadline, trio.current_time() + config.kubernetes.api_s)):
            try:
                owner = await kube.get_object(path)
                images |= owner_template_images(owner, ref)
            except (KubeError, OwnerMismatch) as error:
                failure = str(error)
            else:
                continue
        failure = failure or f"no answer within {config.kubernetes.api_s:g} s"
        log.warning(
            "child approval not possible; validating every image",
            extra={"fields": {"uid": request.uid, "owner": path, "reason": failure}},
        )
    return frozenset(images)
