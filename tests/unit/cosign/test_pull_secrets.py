"""Pull secrets as the Kubernetes API returns them, where a workload names them and its
ServiceAccount, and the opt-in RBAC that lets kenner read both."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from kenner.admission.pull_secrets import pull_secret_names, service_account_name
from kenner.oci.dockerconfig import (
    DockerConfigError,
    RegistryLogin,
    combine_logins,
    parse_pull_secret,
)


def _b64(data: object) -> str:
    return base64.b64encode(json.dumps(data).encode()).decode()


def _secret(kind: str, field: str, value: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "regcred", "namespace": "team", "resourceVersion": "812"},
        "type": kind,
        "data": {field: value},
    }


def test_dockerconfigjson_and_legacy_dockercfg_secrets() -> None:
    auths = {"reg.example:5000": {"username": "ci", "password": "pw", "auth": "Y2k6cHc="}}
    current = parse_pull_secret(
        _secret("kubernetes.io/dockerconfigjson", ".dockerconfigjson", _b64({"auths": auths}))
    )
    assert current.for_image("reg.example:5000", "team/app") == RegistryLogin("ci", "pw")
    legacy = parse_pull_secret(_secret("kubernetes.io/dockercfg", ".dockercfg", _b64(auths)))
    assert legacy == current


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        (_secret("Opaque", "password", "cHc="), "type 'Opaque' is not a pull secret type"),
        (
            _secret("kubernetes.io/dockerconfigjson", ".dockercfg", "e30="),
            "the secret has no data['.dockerconfigjson']",
        ),
        (
            _secret("kubernetes.io/dockerconfigjson", ".dockerconfigjson", "not base64!"),
            "data['.dockerconfigjson'] is not base64",
        ),
        (
            _secret("kubernetes.io/dockercfg", ".dockercfg", base64.b64encode(b"{").decode()),
            "the docker config is not JSON",
        ),
        (
            _secret("kubernetes.io/dockerconfigjson", ".dockerconfigjson", _b64({"x": 1})),
            "the docker config has no 'auths' object",
        ),
    ],
)
def test_unusable_secrets_are_named(secret: dict[str, Any], message: str) -> None:
    with pytest.raises(DockerConfigError) as info:
        parse_pull_secret(secret)
    assert str(info.value) == message


def test_the_first_secret_listed_wins_a_shared_key() -> None:
    def logins(user: str, *keys: str) -> Any:
        auths = {key: {"username": user, "password": "pw"} for key in keys}
        return parse_pull_secret(
            _secret("kubernetes.io/dockerconfigjson", ".dockerconfigjson", _b64({"auths": auths}))
        )

    combined = combine_logins(
        [logins("first", "reg.example"), logins("second", "reg.example", "reg.example/team")]
    )
    assert combined.for_image("reg.example", "other/app") == RegistryLogin("first", "pw")
    # The longer prefix still wins over the earlier secret.
    assert combined.for_image("reg.example", "team/app") == RegistryLogin("second", "pw")


def test_pull_secret_names_of_each_workload_kind() -> None:
    pod_spec = {
        "containers": [{"name": "app", "image": "reg.example/app:1"}],
        "imagePullSecrets": [{"name": "a"}, {"name": "b"}, {"name": "a"}, {}, "junk", {"name": 3}],
    }
    assert pull_secret_names("Pod", {"spec": pod_spec}) == ("a", "b")
    template = {"template": {"spec": pod_spec}}
    assert pull_secret_names("Deployment", {"spec": template}) == ("a", "b")
    cron = {"spec": {"jobTemplate": {"spec": template}}}
    assert pull_secret_names("CronJob", cron) == ("a", "b")
    assert pull_secret_names("Pod", {"spec": {"imagePullSecrets": "a"}}) == ()
    assert pull_secret_names("ConfigMap", {"spec": pod_spec}) == ()


def test_service_account_of_each_workload_kind() -> None:
    pod_spec = {"containers": [{"name": "app", "image": "reg.example/app:1"}]}
    named = {**pod_spec, "serviceAccountName": "builder"}
    assert service_account_name("Pod", {"spec": named}) == "builder"
    assert service_account_name("Deployment", {"spec": {"template": {"spec": named}}}) == "builder"
    cron = {"spec": {"jobTemplate": {"spec": {"template": {"spec": named}}}}}
    assert service_account_name("CronJob", cron) == "builder"
    # Unset (or empty) means the namespace's "default" account, as the API server defaults it.
    assert service_account_name("Pod", {"spec": pod_spec}) == "default"
    assert (
        service_account_name("Pod", {"spec": {**pod_spec, "serviceAccountName": ""}}) == "default"
    )
    # The deprecated field counts only without serviceAccountName.
    legacy = {**pod_spec, "serviceAccount": "legacy"}
    assert service_account_name("Pod", {"spec": legacy}) == "legacy"
    assert service_account_name("Pod", {"spec": {**legacy, "serviceAccountName": "new"}}) == "new"
    assert service_account_name("Pod", {"spec": {**pod_spec, "serviceAccountName": 7}}) == "default"
    # No pod spec, no account to read.
    assert service_account_name("Deployment", {"spec": {}}) is None
    assert service_account_name("ConfigMap", {"spec": named}) is None


def test_the_opt_in_role_grants_only_get_on_secrets_and_service_accounts() -> None:
    manifest = Path(__file__).parents[3] / "k8s" / "pull-secrets" / "rbac-pull-secrets.yaml"
    (role,) = [
        doc for doc in yaml.safe_load_all(manifest.read_text()) if doc["kind"] == "ClusterRole"
    ]
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["secrets", "serviceaccounts"], "verbs": ["get"]}
    ]
