"""Which pull secrets and ServiceAccount a workload object names, and whether any validator
uses them: the pure part of cosign's ``auth.k8sKeychain`` (``kenner.kube.pull_secrets`` reads
the objects through the Kubernetes API).

Rules: only a workload kind's pod spec counts (a Pod's ``spec``, a template's
``spec.template.spec``...); names come back in the spec's order, each once, and anything that
is not a non-empty string is ignored. A pod spec without an account runs as ``default``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kenner.admission.workload import WORKLOAD_KINDS
from kenner.config.model import Config, CosignValidatorConfig

DEFAULT_SERVICE_ACCOUNT = "default"


def pull_secret_names(kind: str, obj: Mapping[str, Any]) -> tuple[str, ...]:
    """The names in the pod spec's ``imagePullSecrets`` of a workload object, in order."""
    spec = _pod_spec(kind, obj)
    return () if spec is None else reference_names(spec.get("imagePullSecrets"))


def service_account_name(kind: str, obj: Mapping[str, Any]) -> str | None:
    """The ServiceAccount the pods of a workload object run as, or None without a pod spec.

    ``serviceAccountName`` wins over the deprecated ``serviceAccount`` (as the API server's
    conversion does); with neither the pods run as ``default``.
    """
    spec = _pod_spec(kind, obj)
    if spec is None:
        return None
    for field in ("serviceAccountName", "serviceAccount"):
        name = spec.get(field)
        if isinstance(name, str) and name:
            return name
    return DEFAULT_SERVICE_ACCOUNT


def uses_keychain(config: Config) -> bool:
    """Whether any validator reads the pods' pull secrets."""
    return any(
        isinstance(validator, CosignValidatorConfig)
        and validator.auth is not None
        and validator.auth.k8s_keychain
        for validator in config.validators
    )


def _pod_spec(kind: str, obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    if kind not in WORKLOAD_KINDS:
        return None
    spec: object = obj
    for key in WORKLOAD_KINDS[kind][1]:
        spec = spec.get(key) if isinstance(spec, Mapping) else None
    return spec if isinstance(spec, Mapping) else None


def reference_names(entries: object) -> tuple[str, ...]:
    """The names of a list of ``LocalObjectReference`` (``{"name": ...}``), without repeats."""
    if not isinstance(entries, list):
        return ()
    names = (entry.get("name") for entry in entries if isinstance(entry, Mapping))
    return tuple(dict.fromkeys(name for name in names if isinstance(name, str) and name))
