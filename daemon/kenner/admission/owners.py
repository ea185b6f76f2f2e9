"""Owner references and the images an owner vouches for (pure: JSON in, values out).

Automatic child approval admits a child's images that appear in its owner's pod template, but
only when kenner itself validated that template under the policy in force now. An owner
vouches for its images only when all of these hold:

- it is the very object the child names: same kind, name and namespace, and the same UID (a
  deleted and re-created owner of the same name has a new UID);
- it is not being deleted (no ``metadata.deletionTimestamp``);
- it carries a ``kenner.dev/proof`` that verifies for its namespace and current images
  under the current key and policy (``kenner.admission.proof``): an owner created before
  kenner was installed, admitted in detection mode, unchecked (``podsOnly``), in a namespace
  kenner does not validate, or changed since, has none;
- and only its images pinned by digest count: a tag may point elsewhere by now.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from kenner.admission.image import ImageRefError, parse_image
from kenner.admission.kube_names import KubeNameError, check_name, object_path
from kenner.admission.proof import Prover
from kenner.admission.workload import (
    WORKLOAD_KINDS,
    ObjectShapeError,
    WorkloadError,
    extract_images,
    marked_for_deletion,
)
from kenner.errors import KennerError
from kenner.quoting import quote

# The REST resource name of each owner kind (lower-case plural, as the API spells it).
RESOURCES = {
    "Pod": "pods",
    "Deployment": "deployments",
    "ReplicaSet": "replicasets",
    "DaemonSet": "daemonsets",
    "StatefulSet": "statefulsets",
    "ReplicationController": "replicationcontrollers",
    "Job": "jobs",
    "CronJob": "cronjobs",
}
# A child names a handful of owners at most; more is not something kenner looks up.
MAX_OWNERS = 4


class OwnerMismatch(KennerError, ValueError):
    """The fetched owner does not vouch for its images: another object, being deleted, no
    readable pod template, or no proof that verifies (the message says which)."""


@attrs.frozen
class OwnerRef:
    """One ``metadata.ownerReferences`` entry of a workload kind kenner reads."""

    api_version: str
    kind: str
    name: str
    uid: str

    def api_path(self, namespace: str) -> str:
        """The API path of the owner object in ``namespace``, every segment checked and escaped.

        Raises:
            KubeNameError: the namespace is not a Kubernetes namespace name.
        """
        return object_path(self.api_version, RESOURCES[self.kind], self.name, namespace)


def owner_references(obj: Mapping[str, Any]) -> tuple[OwnerRef, ...]:
    """The owners of ``obj`` whose kind and apiVersion kenner knows; others are ignored.

    An owner of another kind (a custom resource) cannot be read for a pod template, so its
    children are validated in full.
    """
    metadata = obj.get("metadata")
    refs = metadata.get("ownerReferences") if isinstance(metadata, Mapping) else None
    owners: list[OwnerRef] = []
    for ref in refs if isinstance(refs, list) else ():
        if not isinstance(ref, Mapping):
            continue
        fields = [ref.get(key) for key in ("apiVersion", "kind", "name", "uid")]
        if not all(isinstance(value, str) and value for value in fields):
            continue
        api_version, kind, name, uid = (str(value) for value in fields)
        if kind not in RESOURCES or api_version not in WORKLOAD_KINDS[kind][0]:
            continue
        try:
            check_name(name)  # a name must never steer the API path
        except KubeNameError:
            continue
        owners.append(OwnerRef(api_version, kind, name, uid))
    return tuple(owners[:MAX_OWNERS])


def owner_proven_images(
    owner: Mapping[str, Any], ref: OwnerRef, namespace: str, prover: Prover
) -> frozenset[str]:
    """The normalised digest references of the owner's pod template, once its proof verified.

    Raises:
        OwnerMismatch: the object is not the owner ``ref`` names (kind or UID differ), is
            being deleted, its pod template cannot be read, or its proof does not verify.
    """
    metadata = owner.get("metadata")
    uid = metadata.get("uid") if isinstance(metadata, Mapping) else None
    if owner.get("kind") != ref.kind:
        raise OwnerMismatch(f"{ref.kind} {ref.name}: the API returned a {quote(owner.get('kind'))}")
    if uid != ref.uid:
        raise OwnerMismatch(
            f"{ref.kind} {ref.name}: UID {quote(uid)} is not the child's {quote(ref.uid)}"
        )
    if marked_for_deletion(owner):
        raise OwnerMismatch(f"{ref.kind} {ref.name}: is being deleted")
    try:
        sites = extract_images(ref.kind, owner)
    except (WorkloadError, ObjectShapeError) as error:
        raise OwnerMismatch(f"{ref.kind} {ref.name}: {error}") from None
    verification = prover.verify_object(owner, namespace, ref.kind)
    if not verification.ok:
        raise OwnerMismatch(f"{ref.kind} {ref.name}: {verification.reason}")
    images: set[str] = set()
    for site in sites:
        try:
            image = parse_image(site.image)
        except ImageRefError:
            continue  # an unparseable image in the owner approves nothing
        if image.digest is not None:
            images.add(str(image))
    return frozenset(images)
