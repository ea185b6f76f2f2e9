"""Registry logins from the pull secrets of the object being admitted (cosign's
``auth.k8sKeychain``), read through the Kubernetes API.

The secrets are those the pod spec names in ``imagePullSecrets``, followed by those of the
pod's ServiceAccount (``spec.serviceAccountName``, else the deprecated ``serviceAccount``, else
``default``; read with ``GET /api/v1/namespaces/<ns>/serviceaccounts/<name>``), without
repeats. This is k8schain's order (go-containerregistry's Kubernetes keychain, used by cosign
and the policy-controller): the pod's secrets first, so their logins win a registry key both
have. The kubelet never merges the two: it pulls with the Pod's own list, into which the
API server's ServiceAccount admission plugin copies the account's list only when the Pod names
none. Merging can only add logins, tried after the pod's, and signatures are verified whatever
login fetched them; it also covers workload templates, which the plugin never fills. The names
are taken from the object by ``kenner.admission.pull_secrets`` (pure); this module only reads.

Every secret lives in the object's namespace and is read with
``GET /api/v1/namespaces/<ns>/secrets/<name>`` (kenner's service account needs ``get`` on
secrets and serviceaccounts there) and parsed as a docker config (``kenner.oci.dockerconfig``).
As the kubelet does, a secret that is missing or unreadable is skipped with a warning, and so
is a ServiceAccount that cannot be read: the images are then fetched with the validator's other
credentials, and a registry that refuses them denies. A missing ServiceAccount (404) adds no
secrets: the ServiceAccount admission plugin refuses to create a Pod whose account does not
exist (before any webhook sees it), so a workload's pods will not run until it exists.
Objects are read per request and never cached, so a rotated secret counts at once.

Names are checked before any read (``kenner.admission.kube_names``): the namespace must be a
DNS-1123 label, Secret and ServiceAccount names DNS-1123 subdomains, as the API server requires
of real objects, and every path is built from escaped segments. An invalid name
(``../../kube-system/secrets/admin``, ``a%2Fb``) is skipped with a warning like a missing
secret; an invalid namespace, or an object whose ``metadata.namespace`` is not the request's,
reads nothing. So kenner only ever reads Secrets of the admitted object's own namespace.
Skipping, not denying, is safe: a login only decides whether a registry lets kenner read; a
signature counts the same whichever login fetched it, and a registry that refuses denies.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import attrs
import trio

from kenner.admission.decision import VALIDATED_OPERATIONS
from kenner.admission.kube_names import KubeNameError, check_name, check_namespace, object_path
from kenner.admission.pull_secrets import (
    pull_secret_names,
    reference_names,
    service_account_name,
    uses_keychain,
)
from kenner.admission.review import AdmissionRequest
from kenner.config.model import Config
from kenner.kube.client import KubeClient, KubeError, KubeNotFound
from kenner.oci.dockerconfig import (
    DockerConfigError,
    RegistryLogins,
    combine_logins,
    parse_pull_secret,
)

log = logging.getLogger(__name__)


async def pod_pull_logins(
    request: AdmissionRequest, kube: KubeClient | None, config: Config, *, deadline: float
) -> RegistryLogins | None:
    """The logins of the request object's pull secrets (its own, then its ServiceAccount's), or
    None when no validator uses them or the object has no pod spec.

    The ServiceAccount and the object's own secrets are read concurrently, then the account's
    secrets not read yet; each read within ``kubernetes.apiSeconds`` and ``deadline`` (trio
    time). The first secret in that order wins for a registry key they share.
    """
    if (
        kube is None
        or not uses_keychain(config)
        or request.operation not in VALIDATED_OPERATIONS
        or request.object is None
        or not request.namespace
    ):
        return None
    account = service_account_name(request.kind, request.object)
    if account is None:
        return None
    if not _own_namespace(request):
        return RegistryLogins({})
    own = pull_secret_names(request.kind, request.object)
    reads = _Reads(kube, request, config, deadline)
    async with trio.open_nursery() as nursery:
        for name in own:
            nursery.start_soon(reads.secret, name)
        nursery.start_soon(reads.account_secrets, account, own, nursery)
    names = dict.fromkeys((*own, *reads.account_names))
    return combine_logins([reads.found[name] for name in names if name in reads.found])


@attrs.define
class _Reads:
    """The API reads of one request; ``found`` and ``account_names`` fill as they answer."""

    kube: KubeClient
    request: AdmissionRequest
    config: Config
    deadline: float
    found: dict[str, RegistryLogins] = attrs.field(factory=dict)
    account_names: tuple[str, ...] = ()

    async def secret(self, name: str) -> None:
        try:
            check_name(name, "secret name")
            path = object_path("v1", "secrets", name, self.request.namespace)
        except KubeNameError as error:
            self._skipped("image pull secret not used", "secret", _cut(name), str(error))
            return
        try:
            secret = await self._get(path)
            self.found[name] = parse_pull_secret(secret)
        except KubeError as error:
            self._skipped("image pull secret not used", "secret", path, str(error))
        except DockerConfigError as error:
            reason = f"secret {_cut(name)!r}: {error}"
            self._skipped("image pull secret not used", "secret", path, reason)

    async def account_secrets(
        self, account: str, already_read: tuple[str, ...], nursery: trio.Nursery
    ) -> None:
        try:
            check_name(account, "service account name")
            path = object_path("v1", "serviceaccounts", account, self.request.namespace)
        except KubeNameError as error:
            event = "service account pull secrets not used"
            self._skipped(event, "serviceAccount", _cut(account), str(error))
            return
        try:
            found = await self._get(path)
        except KubeNotFound:
            # Kubernetes refuses pods of a missing account: nothing to add, nothing to warn of.
            log.info(
                "service account not found; its pull secrets are not used",
                extra={"fields": {"uid": self.request.uid, "serviceAccount": path}},
            )
            return
        except KubeError as error:
            event = "service account pull secrets not used"
            self._skipped(event, "serviceAccount", path, str(error))
            return
        self.account_names = reference_names(found.get("imagePullSecrets"))
        for name in self.account_names:
            if name not in already_read:
                nursery.start_soon(self.secret, name)

    async def _get(self, path: str) -> Mapping[str, Any]:
        """The object at ``path``, read within ``apiSeconds`` and the request's deadline.

        Raises:
            KubeError: the API failed or did not answer in time.
        """
        limit = min(self.deadline, trio.current_time() + self.config.kubernetes.api_s)
        with trio.move_on_at(limit):
            return await self.kube.get_object(path)
        raise KubeError(path, f"no answer within {self.config.kubernetes.api_s:g} s")

    def _skipped(self, event: str, field: str, path: str, reason: str) -> None:
        fields = {"uid": self.request.uid, field: path, "reason": reason}
        log.warning(event, extra={"fields": fields})


def _own_namespace(request: AdmissionRequest) -> bool:
    """Whether the request's namespace is a valid one and the object's own (if it names one);
    warns when not. Only then may its pull secrets be read."""
    metadata = request.object.get("metadata") if request.object is not None else None
    stated = metadata.get("namespace") if isinstance(metadata, Mapping) else None
    try:
        check_namespace(request.namespace)
    except KubeNameError as error:
        reason = str(error)
    else:
        if stated in (None, "") or stated == request.namespace:
            return True
        reason = (
            f"the object's metadata.namespace {_cut(str(stated))!r} is not the request's "
            f"namespace {request.namespace!r}"
        )
    log.warning(
        "image pull secrets not used",
        extra={"fields": {"uid": request.uid, "reason": reason}},
    )
    return False


def _cut(text: str) -> str:
    """``text`` cut to 200 characters, for messages that quote input."""
    return text if len(text) <= 200 else text[:200] + "..."
