"""Step 3, gather the facts a request needs, concurrently, under the request's deadline.

Rules:

- The reads of one request run at once: the owner objects and the pull secrets in one nursery
  (each reader also reads its own objects concurrently where it can), so a request waits for
  the slowest read, not for their sum. A single need is awaited directly, and a request that
  needs nothing opens no nursery.
- Every API read ends at ``kubernetes.apiSeconds`` from its start or at the request's
  deadline, whichever comes first; the readers (``kenner.kube.children``,
  ``kenner.kube.pull_secrets``) enforce it per read.
- A failed or late read is never an allow: an owner that cannot be read approves no image (the
  child is validated in full), a pull secret that cannot be read adds no login (a registry
  that refuses the validator's other credentials denies). The readers log each such failure
  with its reason. Anything else (a bug) propagates and the request is denied as an internal
  error (``kenner.app.respond``).
- Pull secrets are read whenever a keychain validator exists and the request is validated,
  before planning knows whether any image will be validated: the price of reading them
  alongside the owners (an image approved through its owner reads them for nothing).
"""

from __future__ import annotations

import attrs
import trio

from kenner.admission.review import AdmissionRequest
from kenner.app.needs import Needs
from kenner.app.state import Snapshot
from kenner.kube.children import owner_approved_images
from kenner.kube.pull_secrets import pod_pull_logins
from kenner.oci.dockerconfig import RegistryLogins


@attrs.frozen
class Facts:
    """What was read for one request."""

    # Normalised digest references the request object's owners vouch for (proofs verified).
    owner_images: frozenset[str] = frozenset()
    # The logins of the object's pull secrets; None when no validator uses them.
    pull_logins: RegistryLogins | None = None


NO_FACTS = Facts()


async def gather(
    request: AdmissionRequest, snapshot: Snapshot, needs: Needs, *, deadline: float
) -> Facts:
    """The facts ``needs`` lists for ``request``, read by ``deadline`` (trio time)."""
    if not (needs.owners or needs.pull_secrets):
        return NO_FACTS  # the common request: no closures, no nursery
    kube, config = snapshot.kube, snapshot.config

    async def owners() -> frozenset[str]:
        if not needs.owners:
            return frozenset()
        prover = snapshot.prover
        return await owner_approved_images(request, kube, config, prover, deadline=deadline)

    async def logins() -> RegistryLogins | None:
        if not needs.pull_secrets:
            return None
        return await pod_pull_logins(request, kube, config, deadline=deadline)

    if not (needs.owners and needs.pull_secrets):
        return Facts(await owners(), await logins())  # one read: nothing to overlap
    approved: list[frozenset[str]] = []

    async def read_owners() -> None:
        approved.append(await owners())

    # The owners in a child task, the pull secrets in this one; both end by the deadline.
    async with trio.open_nursery() as nursery:
        nursery.start_soon(read_owners)
        pull_logins = await logins()
    return Facts(approved[0], pull_logins)
