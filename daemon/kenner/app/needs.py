"""Step 2, list the needs: which facts from outside the review a request needs.

Two kinds of request need facts from the Kubernetes API:

- ``owners``: a child (a ReplicaSet's pod, a Deployment's ReplicaSet...) may keep the images
  its owner was admitted with (automatic child approval, ``kenner.kube.children``); that needs
  the owner objects.
- ``pull_secrets``: a validator with ``auth.k8sKeychain`` fetches with the logins of the
  object's pull secrets (``kenner.kube.pull_secrets``); that needs the Secrets and the
  ServiceAccount.

Rules: listing reads nothing and costs next to nothing, so a request that needs nothing (the
common static or warm admission, or a daemon without API access) gathers nothing and opens no
nursery. Only a validated operation (``CREATE``, ``UPDATE``) of an object in a namespace needs
anything; whether child approval applies at all is the decision core's rule
(``kenner.admission.decision.child_approval_applies``). The readers check the same conditions
again on their own, so a reader called alone never reads what is not needed.

What each image's validator needs (a manifest, a TUF role, a referrers list) is not listed
here: it depends on the answers before it (a tag's digest, then its signatures), so each
validator's step asks for it and its driver meets it, cached and shared
(``kenner.validators.driver``, docs/architecture.md "Validators: sans-IO steps and one
driver").
"""

from __future__ import annotations

import attrs

from kenner.admission.decision import VALIDATED_OPERATIONS, child_approval_applies
from kenner.admission.pull_secrets import uses_keychain
from kenner.admission.review import AdmissionRequest
from kenner.app.state import Snapshot


@attrs.frozen
class Needs:
    """The API reads one request needs."""

    owners: bool = False  # the owner objects, for automatic child approval
    pull_secrets: bool = False  # the pull secrets' logins, for ``auth.k8sKeychain``


NOTHING = Needs()


def needs_of(request: AdmissionRequest, snapshot: Snapshot) -> Needs:
    """What ``request`` needs read from the Kubernetes API under ``snapshot``."""
    if (
        snapshot.kube is None
        or request.operation not in VALIDATED_OPERATIONS
        or request.object is None
        or not request.namespace
    ):
        return NOTHING
    config = snapshot.config
    return Needs(owners=child_approval_applies(config), pull_secrets=uses_keychain(config))
