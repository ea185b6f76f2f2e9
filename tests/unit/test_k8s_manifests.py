"""The k8s/ manifests: valid against the Kubernetes schemas, least privilege, and consistent.

Every manifest is checked offline with kubernetes-validate (the OpenAPI-derived JSON schemas
of each Kubernetes release, strict: unknown fields are errors). The structural tests then
check what a schema cannot: that the pieces agree with each other and with kenner (ports,
names, the request deadline, the workload kinds kenner validates) and that the security
settings the deployment promises are there.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from image import build as image_build
from kenner import __version__
from kenner.admission.workload import WORKLOAD_KINDS
from kenner.config.load import load_config
from kenner.config.model import Config

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
# The oldest Kubernetes release kenner supports and the newest the validator knows.
KUBERNETES_VERSIONS = ("1.28", kubernetes_validate.latest_version())

Manifest = dict[str, Any]


def _manifest_files() -> list[Path]:
    return sorted(p for p in K8S.rglob("*.yaml") if p.name != "kustomization.yaml")


def _documents(path: Path) -> Iterator[Manifest]:
    for document in yaml.safe_load_all(path.read_text()):
        assert isinstance(document, dict), f"{path}: every document is a mapping"
        yield document


def _all() -> list[Manifest]:
    return [doc for path in _manifest_files() for doc in _documents(path)]


def _one(kind: str, name: str | None = None) -> Manifest:
    found = [
        doc
        for doc in _all()
        if doc["kind"] == kind and (name is None or doc["metadata"]["name"] == name)
    ]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def _kustomization(folder: Path) -> Manifest:
    document = yaml.safe_load((folder / "kustomization.yaml").read_text())
    assert isinstance(document, dict)
    return document


def _config() -> Config:
    configmap = _one("ConfigMap", "kenner-config")
    return load_config(configmap["data"]["config.yaml"], "k8s/configmap.yaml")


def _webhook() -> Manifest:
    return _one("MutatingWebhookConfiguration", "kenner")


def _validate_only_webhook() -> Manifest:
    """The webhook as k8s/webhook-validate-only/ patches it (its JSON6902 ``replace`` ops)."""
    webhook = copy.deepcopy(_webhook())
    for patch in _kustomization(K8S / "webhook-validate-only")["patches"]:
        assert patch["target"]["kind"] == "MutatingWebhookConfiguration"
        for operation in yaml.safe_load(patch["patch"]):
            assert operation["op"] == "replace"
            *parents, last = operation["path"].strip("/").split("/")
            node: Any = webhook
            for key in parents:
                node = node[int(key)] if isinstance(node, list) else node[key]
            assert last in node, f"replace of a missing {operation['path']}"
            node[last] = operation["value"]
    return webhook


def _pod_spec() -> Manifest:
    spec = _one("Deployment", "kenner")["spec"]["template"]["spec"]
    assert isinstance(spec, dict)
    return spec


def _container() -> Manifest:
    (container,) = _pod_spec()["containers"]
    assert isinstance(container, dict)
    return container


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("path", _manifest_files(), ids=lambda p: str(p.relative_to(K8S)))
def test_every_manifest_is_valid_against_the_kubernetes_schema(path: Path, version: str) -> None:
    documents = list(_documents(path))
    assert documents, f"{path} is empty"
    for document in documents:
        kubernetes_validate.validate(document, version, strict=True)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_the_validate_only_webhook_is_valid_against_the_kubernetes_schema(version: str) -> None:
    kubernetes_validate.validate(_validate_only_webhook(), version, strict=True)


def test_the_schema_validator_rejects_what_kubernetes_would() -> None:
    webhook = _webhook()
    webhook["webhooks"][0]["sideEffect"] = "None"  # a misspelt key
    with pytest.raises(kubernetes_validate.ValidationError, match="sideEffect"):
        kubernetes_validate.validate(webhook, KUBERNETES_VERSIONS[-1], strict=True)


def test_kustomizations_list_exactly_the_manifests_of_their_folder() -> None:
    for folder in (K8S, K8S / "webhook", K8S / "pull-secrets", K8S / "components" / "redis"):
        listed = set(_kustomization(folder)["resources"])
        present = {p.name for p in folder.glob("*.yaml") if p.name != "kustomization.yaml"}
        assert listed == present, folder


def test_everything_but_the_webhook_lives_in_the_kenner_namespace() -> None:
    cluster_scoped = {"Namespace", "ClusterRole", "ClusterRoleBinding"}
    cluster_scoped.add("MutatingWebhookConfiguration")
    for document in _all():
        if document["kind"] in cluster_scoped:
            assert "namespace" not in document["metadata"]
        else:
            assert document["metadata"]["namespace"] == "kenner", document["metadata"]["name"]


def test_the_shipped_config_loads_and_serves_the_mounted_certificate() -> None:
    config = _config()
    mounts = {m["name"]: m["mountPath"] for m in _container()["volumeMounts"]}
    assert config.server.tls.cert_file == f"{mounts['tls']}/tls.crt"
    assert config.server.tls.key_file == f"{mounts['tls']}/tls.key"
    assert _container()["args"] == ["serve", "--config", f"{mounts['config']}/config.yaml"]
    volumes = {v["name"]: v for v in _pod_spec()["volumes"]}
    assert volumes["config"]["configMap"]["name"] == "kenner-config"
    assert (
        volumes["tls"]["secret"]["secretName"] == _one("Secret", "kenner-tls")["metadata"]["name"]
    )
    assert config.features.automatic_child_approval is True


def test_the_proof_key_secret_is_optional_and_mounted_where_the_config_would_read_it() -> None:
    volumes = {v["name"]: v for v in _pod_spec()["volumes"]}
    assert volumes["proof-key"]["secret"] == {
        "secretName": "kenner-proof-key",
        "optional": True,  # without it kenner runs with a random key (docs/deploy.md)
        "defaultMode": 0o440,
    }
    mounts = {m["name"]: m for m in _container()["volumeMounts"]}
    assert mounts["proof-key"]["readOnly"] is True
    text = _one("ConfigMap", "kenner-config")["data"]["config.yaml"]
    assert f"#   keyFile: {mounts['proof-key']['mountPath']}/proof.key\n" in text
    assert _config().proof.key_file is None  # commented out until the Secret exists


def test_the_watchdog_looks_for_the_shipped_webhook_service_and_sentinel() -> None:
    kubernetes = _config().kubernetes
    assert kubernetes.enabled is True
    assert kubernetes.kubeconfig is None  # in-cluster: the service account
    assert kubernetes.webhook.name == _webhook()["metadata"]["name"]
    service = _one("Service", "kenner")["metadata"]
    assert (kubernetes.webhook.service, kubernetes.namespace) == (
        service["name"],
        service["namespace"],
    )
    assert kubernetes.webhook.url is None
    sentinel = _one("Pod")["metadata"]
    assert (kubernetes.sentinel.name, kubernetes.namespace) == (
        sentinel["name"],
        sentinel["namespace"],
    )
    key, _, value = kubernetes.sentinel.label.partition("=")
    assert sentinel["labels"][key] == value
    # The sentinel ends itself after the window in which kenner would honour it at all.
    assert _one("Pod")["spec"]["activeDeadlineSeconds"] >= kubernetes.sentinel.window_s


def test_deployment_runs_two_spread_replicas() -> None:
    deployment = _one("Deployment", "kenner")
    assert deployment["spec"]["replicas"] == 2
    # A rollout starts the new pod before stopping an old one: two keep answering.
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    (term,) = _pod_spec()["affinity"]["podAntiAffinity"][
        "preferredDuringSchedulingIgnoredDuringExecution"
    ]
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert term["podAffinityTerm"]["labelSelector"]["matchLabels"].items() <= pod_labels.items()
    (spread,) = _pod_spec()["topologySpreadConstraints"]
    assert spread["topologyKey"] == "topology.kubernetes.io/zone"
    assert spread["labelSelector"]["matchLabels"].items() <= pod_labels.items()
    grace = _pod_spec()["terminationGracePeriodSeconds"]
    assert grace > _config().deadlines.request_s + 1  # hypercorn's drain fits in the grace


def test_deployment_is_locked_down() -> None:
    pod_security = _pod_spec()["securityContext"]
    assert pod_security["runAsNonRoot"] is True
    assert pod_security["runAsUser"] != 0
    assert pod_security["seccompProfile"] == {"type": "RuntimeDefault"}
    container = _container()
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["privileged"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    for kind in ("requests", "limits"):
        assert set(container["resources"][kind]) == {"cpu", "memory"}
    # The only writable place is a small in-memory /tmp (kenner's scratch directory).
    writable = [m for m in container["volumeMounts"] if not m.get("readOnly")]
    assert all(
        v.get("secret", {}).get("defaultMode", 0o440) == 0o440 for v in _pod_spec()["volumes"]
    )
    assert [m["mountPath"] for m in writable] == ["/tmp"]
    # The key is mode 0440 and readable through the pod's fsGroup, not by everyone.
    tls = next(v for v in _pod_spec()["volumes"] if v["name"] == "tls")
    assert tls["secret"]["defaultMode"] == 0o440
    assert pod_security["fsGroup"] == pod_security["runAsGroup"]


def test_probes_ask_health_and_ready_on_the_served_port() -> None:
    container = _container()
    (port,) = container["ports"]
    listen_port = int(_config().server.listen.rpartition(":")[2])
    assert port["containerPort"] == listen_port
    probes = {"livenessProbe": "/health", "readinessProbe": "/ready"}
    for probe, path in probes.items():
        get = container[probe]["httpGet"]
        assert (get["path"], get["port"], get["scheme"]) == (path, port["name"], "HTTPS")


def test_service_pdb_and_network_policy_select_the_kenner_pods() -> None:
    pod_labels = _one("Deployment")["spec"]["template"]["metadata"]["labels"]
    service = _one("Service", "kenner")
    assert service["spec"]["selector"].items() <= pod_labels.items()
    (service_port,) = service["spec"]["ports"]
    assert service_port["targetPort"] == _container()["ports"][0]["name"]
    pdb = _one("PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert pdb["spec"]["maxUnavailable"] == 1
    policy = _one("NetworkPolicy", "kenner")
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= pod_labels.items()
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    (ingress,) = policy["spec"]["ingress"]
    assert ingress["ports"] == [
        {"protocol": "TCP", "port": _container()["ports"][0]["containerPort"]}
    ]


def test_webhook_calls_the_service_and_fails_closed() -> None:
    webhook = _webhook()
    assert webhook["apiVersion"] == "admissionregistration.k8s.io/v1"
    (hook,) = webhook["webhooks"]
    service = _one("Service", "kenner")
    assert hook["clientConfig"]["service"] == {
        "name": service["metadata"]["name"],
        "namespace": service["metadata"]["namespace"],
        "path": "/mutate",
        "port": service["spec"]["ports"][0]["port"],
    }
    assert hook["sideEffects"] == "None"
    assert hook["failurePolicy"] == "Fail"
    assert "v1" in hook["admissionReviewVersions"]
    assert hook["timeoutSeconds"] > _config().deadlines.request_s
    assert hook["timeoutSeconds"] <= 30  # the API server's maximum


def test_webhook_rules_cover_exactly_the_kinds_kenner_validates() -> None:
    resources: set[str] = set()
    for rule in _webhook()["webhooks"][0]["rules"]:
        assert rule["operations"] == ["CREATE", "UPDATE"]
        assert rule["scope"] == "Namespaced"
        resources |= set(rule["resources"])
    expected = {f"{kind.lower()}s" for kind in WORKLOAD_KINDS} | {"pods/ephemeralcontainers"}
    assert resources == expected


def _selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """A Kubernetes label selector's matchLabels and matchExpressions, evaluated."""
    if any(labels.get(key) != value for key, value in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator = expression["key"], expression["operator"]
        values = expression.get("values", [])
        holds = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[operator]
        if not holds:
            return False
    return True


def _namespace_labels(name: str, **labels: str) -> dict[str, str]:
    # The API server sets kubernetes.io/metadata.name on every namespace; it cannot be changed.
    return {"kubernetes.io/metadata.name": name, **labels}


def test_namespaced_validation_ignore_mode_is_the_default() -> None:
    selector = _webhook()["webhooks"][0]["namespaceSelector"]
    assert _selects(selector, _namespace_labels("default"))
    assert _selects(selector, _namespace_labels("apps", **{"kenner.dev/webhook": "validate"}))
    assert not _selects(selector, _namespace_labels("dev", **{"kenner.dev/webhook": "ignore"}))
    kenner_labels = _one("Namespace")["metadata"]["labels"]
    assert not _selects(selector, _namespace_labels("kenner", **kenner_labels))
    # Excluded by name too: taking the ignore label off kenner's namespace changes nothing.
    assert not _selects(selector, _namespace_labels("kenner"))


def test_namespaced_validation_validate_mode_overlay() -> None:
    selector = _validate_only_webhook()["webhooks"][0]["namespaceSelector"]
    assert not _selects(selector, _namespace_labels("default"))
    assert _selects(selector, _namespace_labels("apps", **{"kenner.dev/webhook": "validate"}))
    assert not _selects(selector, _namespace_labels("dev", **{"kenner.dev/webhook": "ignore"}))
    assert not _selects(selector, _namespace_labels("kenner", **{"kenner.dev/webhook": "validate"}))


def _rules_of(role_kind: str, name: str) -> list[Manifest]:
    rules = _one(role_kind, name)["rules"]
    assert isinstance(rules, list)
    return rules


def test_rbac_grants_only_get_on_named_objects_and_owner_kinds() -> None:
    for role in [doc for doc in _all() if doc["kind"] in ("Role", "ClusterRole")]:
        for rule in role["rules"]:
            assert rule["verbs"] == ["get"], role["metadata"]["name"]
    (webhook_rule,) = _rules_of("ClusterRole", "kenner-webhook-reader")
    assert webhook_rule["resources"] == ["mutatingwebhookconfigurations"]
    assert webhook_rule["resourceNames"] == [_webhook()["metadata"]["name"]]
    (pod_rule,) = _rules_of("Role", "kenner-sentinel-reader")
    assert _one("Role", "kenner-sentinel-reader")["metadata"]["namespace"] == "kenner"
    assert pod_rule["resources"] == ["pods"]
    assert pod_rule["resourceNames"] == [_one("Pod")["metadata"]["name"]]
    owners = {
        (group, resource)
        for rule in _rules_of("ClusterRole", "kenner-owner-reader")
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }
    owner_kinds = {
        ("", "replicationcontrollers"),
        ("apps", "deployments"),
        ("apps", "replicasets"),
        ("apps", "daemonsets"),
        ("apps", "statefulsets"),
        ("batch", "jobs"),
        ("batch", "cronjobs"),
    }
    assert owners == owner_kinds
    assert not any("resourceNames" in r for r in _rules_of("ClusterRole", "kenner-owner-reader"))


def test_every_role_is_bound_to_the_kenner_service_account_only() -> None:
    account = _one("ServiceAccount")["metadata"]
    bindings = [doc for doc in _all() if doc["kind"] in ("RoleBinding", "ClusterRoleBinding")]
    roles = {doc["metadata"]["name"] for doc in _all() if doc["kind"] in ("Role", "ClusterRole")}
    assert {b["roleRef"]["name"] for b in bindings} == roles
    for binding in bindings:
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": account["name"], "namespace": account["namespace"]}
        ]
    assert _pod_spec()["serviceAccountName"] == account["name"]


def test_sentinel_carries_the_label_and_ends_itself() -> None:
    sentinel = _one("Pod")
    assert sentinel["metadata"]["namespace"] == "kenner"
    spec = sentinel["spec"]
    assert 0 < spec["activeDeadlineSeconds"] <= 900
    assert spec["automountServiceAccountToken"] is False
    assert spec["securityContext"]["runAsNonRoot"] is True
    (container,) = spec["containers"]
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}


def test_the_tls_secret_is_a_placeholder_until_kenner_cert_replaces_it() -> None:
    secret = _one("Secret", "kenner-tls")
    assert secret["type"] == "kubernetes.io/tls"
    assert set(secret["data"]) == {"tls.crt", "tls.key", "ca.crt"}
    hook = _webhook()["webhooks"][0]
    assert hook["clientConfig"]["caBundle"] == secret["data"]["ca.crt"]


def test_the_image_matches_the_deployment() -> None:
    """``make image`` (image/build.py) builds what the Deployment runs: user, arguments, tag."""
    pod_security = _pod_spec()["securityContext"]
    assert f"{image_build.UID}:{image_build.GID}" == (
        f"{pod_security['runAsUser']}:{pod_security['runAsGroup']}"
    )
    assert list(image_build.CMD) == _container()["args"]
    image = _container()["image"]
    (rewrite,) = _kustomization(K8S)["images"]
    assert image == f"{rewrite['name']}:{rewrite['newTag']}"
    assert rewrite["newTag"] == __version__  # the tag make image gives it


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (kustomize) not installed")
@pytest.mark.parametrize("folder", ["", "webhook", "webhook-validate-only", "pull-secrets"])
def test_kustomize_builds_each_folder(folder: str) -> None:
    built = subprocess.run(
        ["kubectl", "kustomize", str(K8S / folder)], capture_output=True, text=True, check=True
    ).stdout
    documents = list(yaml.safe_load_all(built))
    for document in documents:
        kubernetes_validate.validate(document, KUBERNETES_VERSIONS[-1], strict=True)
    if folder == "webhook-validate-only":
        assert documents == [_validate_only_webhook()]
    elif folder == "webhook":
        assert documents == [_webhook()]
    elif folder == "pull-secrets":
        assert documents == list(_documents(K8S / folder / "rbac-pull-secrets.yaml"))
    else:  # the manifests at the top of k8s/: everything but the webhook and the opt-ins
        top_level = [p for p in _manifest_files() if p.parent == K8S]
        assert len(documents) == sum(1 for path in top_level for _ in _documents(path))


# --- the optional Redis (k8s/components/redis/) --------------------------------------------

REDIS = K8S / "components" / "redis"


def _redis_pod_spec() -> Manifest:
    spec = _one("StatefulSet", "kenner-redis")["spec"]["template"]["spec"]
    assert isinstance(spec, dict)
    return spec


def test_the_redis_component_is_a_kustomize_component_not_in_the_base() -> None:
    component = _kustomization(REDIS)
    assert component["kind"] == "Component"
    assert "components/redis" not in _kustomization(K8S).get("components", [])


def test_the_redis_pod_is_locked_down_and_keeps_its_password_off_the_command_line() -> None:
    spec = _redis_pod_spec()
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] != 0
    assert spec["automountServiceAccountToken"] is False
    (container,) = spec["containers"]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    for kind in ("requests", "limits"):
        assert set(container["resources"][kind]) == {"cpu", "memory"}
    script = container["command"][-1]
    assert "redis-server -" in script  # configuration (the password) on standard input
    assert "--requirepass" not in script
    assert "PLACEHOLDER" in script  # refuses to start with the shipped placeholder
    assert "volatile-lru" in script  # verdicts (with a TTL) go first, rollback memory stays
    (secret_volume,) = [v for v in spec["volumes"] if "secret" in v]
    assert secret_volume["secret"]["secretName"] == "kenner-redis"


def test_only_kenner_reaches_redis_and_redis_reaches_nothing() -> None:
    redis_labels = _one("StatefulSet", "kenner-redis")["spec"]["template"]["metadata"]["labels"]
    kenner_labels = _one("Deployment")["spec"]["template"]["metadata"]["labels"]
    policy = _one("NetworkPolicy", "kenner-redis")["spec"]
    assert policy["podSelector"]["matchLabels"].items() <= redis_labels.items()
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    assert policy["egress"] == []
    (ingress,) = policy["ingress"]
    (source,) = ingress["from"]
    assert source["podSelector"]["matchLabels"] == kenner_labels
    assert ingress["ports"] == [{"protocol": "TCP", "port": 6379}]
    egress_policy = _one("NetworkPolicy", "kenner-to-redis")["spec"]
    assert egress_policy["podSelector"]["matchLabels"] == kenner_labels
    (egress,) = egress_policy["egress"]
    assert egress["to"][0]["podSelector"]["matchLabels"] == policy["podSelector"]["matchLabels"]
    # The redis pods are not kenner's: kenner's Service, PDB and policy never select them.
    for kind in ("PodDisruptionBudget", "NetworkPolicy"):
        selector = _one(kind, "kenner")["spec"]
        selector = selector.get("selector", selector.get("podSelector"))
        assert not selector["matchLabels"].items() <= redis_labels.items()
    service = _one("Service", "kenner-redis")["spec"]
    assert service["selector"].items() <= redis_labels.items()


def test_kenner_mounts_the_redis_secret_where_the_commented_configuration_reads_it() -> None:
    mounts = {m["name"]: m["mountPath"] for m in _container()["volumeMounts"]}
    volume = next(v for v in _pod_spec()["volumes"] if v["name"] == "redis")
    assert volume["secret"] == {
        "secretName": "kenner-redis",
        "optional": True,
        "defaultMode": 0o440,
    }
    text = _one("ConfigMap", "kenner-config")["data"]["config.yaml"]
    assert f"passwordFile: {mounts['redis']}/password" in text
    assert f"hmacKeyFile: {mounts['redis']}/hmac.key" in text
    assert "url: redis://kenner-redis.kenner.svc:6379/0" in text
    secret = _one("Secret", "kenner-redis")
    assert set(secret["data"]) == {"password", "hmac.key"}


def test_the_shipped_config_with_redis_uncommented_loads(tmp_path: Path) -> None:
    text = _one("ConfigMap", "kenner-config")["data"]["config.yaml"]
    key = tmp_path / "hmac.key"
    key.write_bytes(bytes(32))
    block = text[text.index("# cache:") :]
    enabled = "\n".join(
        line.replace("# ", "", 1).replace("/etc/kenner/redis/hmac.key", str(key))
        for line in block.splitlines()
    )
    config = load_config(text.replace(block, enabled), "k8s/configmap.yaml")
    assert config.cache.redis is not None
    assert config.cache.redis.password_file == "/etc/kenner/redis/password"
