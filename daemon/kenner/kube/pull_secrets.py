"""Registry logins from the ``imagePullSecrets`` of the object being admitted (cosign's
``auth.k8sKeychain``), read through the Kubernetes API.

The pod spec's ``imagePullSecrets`` name Secrets in the object's namespace; each is read with
``GET /api/v1/namespaces/<ns>/secrets/<name>`` (kenner's service account needs ``get`` on
secrets there) and parsed as a docker config (``kenner.oci.dockerconfig``). As the kubelet
does, a secret that is missing or unreadable is skipped with a warning: the images are then
fetched with the validator's other credentials, and a registry that refuses them denies.
Secrets are read per request and never cached, so a rotated secret counts at once.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import trio

from kenner.admission.decision import VALIDATED_OPERATIONS
from kenner.admission.review import AdmissionRequest
from kenner.admission.workload import WORKLOAD_KINDS
from kenner.config.model import Config, CosignValidatorConfig
from kenner.kube.client import KubeClient, KubeError
from kenner.oci.dockerconfig import (
    DockerConfigError,
    RegistryLogins,
    combine_logins,
    parse_pull_secret,
)

log = logging.getLogger(__name__)


def pull_secret_names(kind: str, obj: Mapping[str, Any]) -> tuple[str, ...]:
    """The names in the pod spec's ``imagePullSecrets`` of a workload object, in order."""
    if kind not in WORKLOAD_KINDS:
        return ()
    spec: object = obj
    for key in WORKLOAD_KINDS[kind][1]:
        spec = spec.get(key) if isinstance(spec, Mapping) else None
    entries = spec.get("imagePullSecrets") if isinstance(spec, Mapping) else None
    if not isinstance(entries, list):
        return ()
    names = (entry.get("name") for entry in entries if isinstance(entry, Mapping))
    return tuple(dict.fromkeys(name for name in names if isinstance(name, str) and name))


def uses_keychain(config: Config) -> bool:
    """Whether any validator reads the pods' pull secrets."""
    return any(
        isinstance(validator, CosignValidatorConfig)
        and validator.auth is not None
        and validator.auth.k8s_keychain
        for validator in config.validators
    )


async def pod_pull_logins(
    request: AdmissionRequest, kube: KubeClient | None, config: Config, *, deadline: float
) -> RegistryLogins | None:
    """The logins of the request object's pull secrets, or None when there are none to read.

    Every secret is read concurrently, each within ``kubernetes.apiSeconds`` and ``deadline``
    (trio time); the first secret listed wins for a registry key they share.
    """
    if (
        kube is None
        or not uses_keychain(config)
        or request.operation not in VALIDATED_OPERATIONS
        or request.object is None
        or not request.namespace
    ):
        return None
    names = pull_secret_names(request.kind, request.object)
    if not names:
        return None
    found: dict[str, RegistryLogins] = {}
    async with trio.open_nursery() as nursery:
        for name in names:
            nursery.start_soon(_read_secret, kube, request, name, config, deadline, found)
    return combine_logins([found[name] for name in names if name in found])


async def _read_secret(
    kube: KubeClient,
    request: AdmissionRequest,
    name: str,
    config: Config,
    deadline: float,
    found: dict[str, RegistryLogins],
) -> None:
    path = f"/api/v1/namespaces/{request.namespace}/secrets/{name}"
    failure = f"no answer within {config.kubernetes.api_s:g} s"
    with trio.move_on_at(min(deadline, trio.current_time() + config.kubernetes.api_s)):
        try:
            found[name] = parse_pull_secret(await kube.get_object(path))
            return
        except KubeError as error:
            failure = str(error)
        except DockerConfigError as error:
            failure = f"secret {name!r}: {error}"
    log.warning(
        "image pull secret not used",
        extra={"fields": {"uid": request.uid, "secret": path, "reason": failure}},
    )
