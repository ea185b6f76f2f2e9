"""The configuration as frozen values.

Every class here is an immutable attrs value built once by ``kenner.config.load`` from YAML.
Field names are Python names; the YAML keys are Connaisseur's camelCase spellings, mapped in
``kenner.config.load``. Units are part of the field names (``request_s``, ``max_body_bytes``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import attrs

from kenner.attest.policy import AttestationRule

MIB = 1024 * 1024


@attrs.frozen
class TrustRoot:
    """A named trust anchor of a validator: a PEM public key (Notary root key, Cosign key)."""

    name: str
    key: str


@attrs.frozen
class Auth:
    """Credentials for a Notary server or registry.

    Either ``username``/``password`` inline, or ``secret_name``: the name of a mounted secret
    directory (see ``Config.secrets_dir``) holding ``username``/``password`` files or a
    ``.dockerconfigjson``. Cosign only: ``k8s_keychain`` also uses the ``imagePullSecrets`` of
    the admitted object, read through the Kubernetes API (before the other credentials).
    Cosign only: ``registry`` is the registry host[:port] a plain login (username/password,
    inline or from the secret's files) is for, normalised by the loader (Docker Hub's aliases
    to ``docker.io``); unset, the literal registry hosts of the validator's rules are its scope.
    """

    username: str | None = None
    password: str | None = attrs.field(default=None, repr=False)
    secret_name: str | None = None
    k8s_keychain: bool = False
    registry: str | None = None


@attrs.frozen
class StaticValidatorConfig:
    """``type: static``: admit (``approve: true``) or deny every image, without checking."""

    name: str
    approve: bool
    type: Literal["static"] = "static"


@attrs.frozen
class NotaryV1ValidatorConfig:
    """``type: notaryv1``: Docker Content Trust data from a Notary v1 server."""

    name: str
    host: str  # normalised to "https://host[:port]" by the loader
    trust_roots: tuple[TrustRoot, ...]
    cert: str | None = None  # PEM CA bundle for the Notary's TLS certificate
    auth: Auth | None = None
    type: Literal["notaryv1"] = "notaryv1"


@attrs.frozen
class KeylessIdentity:
    """A Fulcio-certified signer: OIDC issuer and subject, exact or as a searched regex."""

    issuer: str | None = None
    issuer_regex: str | None = None
    subject: str | None = None
    subject_regex: str | None = None


@attrs.frozen
class CosignTrustRoot:
    """A Cosign trust root: a PEM public ``key`` or a ``keyless`` identity (exactly one)."""

    name: str
    key: str | None = None
    keyless: KeylessIdentity | None = None


@attrs.frozen
class SigstoreHost:
    """The Sigstore anchors a Cosign validator verifies offline against (``host:``)."""

    rekor_pubkey: str | None = None  # PEM key of the Rekor log whose bundles are accepted
    fulcio_cert: str | None = None  # PEM Fulcio root (and intermediate) certificates
    # PEM key of the CT log whose embedded SCT every Fulcio certificate must carry; unset, SCTs
    # are not checked (kenner.cosign.sct).
    ct_log_pubkey: str | None = None


@attrs.frozen
class CosignValidatorConfig:
    """``type: cosign``: Sigstore Cosign signatures stored next to the image in its registry."""

    name: str
    trust_roots: tuple[CosignTrustRoot, ...]
    host: SigstoreHost = SigstoreHost()
    # A Sigstore trusted_root.json (a file path, or the JSON inline) that bundles verify against.
    trusted_root: str | None = None
    cert: str | None = None  # PEM CA bundle for the registries' TLS certificates
    auth: Auth | None = None
    # Registry host[:port] -> PEM CA bundle that replaces ``cert`` for that registry.
    registry_certs: dict[str, str] = attrs.field(factory=dict, hash=False)
    type: Literal["cosign"] = "cosign"


@attrs.frozen
class NotationTrustRoot:
    """A Notation trust root (docs/notation.md): the ``ca`` or ``signingAuthority`` store, the
    ``tsa`` store, the trusted identities and CRLs, all PEM text as in the configuration."""

    name: str
    cert: str  # PEM root/CA certificate(s) or a self-signed signing certificate
    # The spec's store type of ``cert``: it decides which signing scheme the root verifies.
    trust_store_type: Literal["ca", "signingAuthority"] = "ca"
    ts_cert: str | None = None  # PEM TSA root certificate(s) for RFC 3161 timestamps
    trusted_identities: tuple[str, ...] = ()  # "x509.subject: ..." or "*"; empty: any
    crl: str | None = None  # PEM CRL(s), checked without network


@attrs.frozen
class NotationValidatorConfig:
    """``type: notation``: Notary Project signatures found through the OCI referrers."""

    name: str
    trust_roots: tuple[NotationTrustRoot, ...]
    cert: str | None = None  # PEM CA bundle for the registries' TLS certificates
    auth: Auth | None = None
    type: Literal["notation"] = "notation"


ValidatorConfig = (
    StaticValidatorConfig
    | NotaryV1ValidatorConfig
    | CosignValidatorConfig
    | NotationValidatorConfig
)


@attrs.frozen
class RuleOptions:
    """The ``with:`` block of a policy rule."""

    trust_root: str | None = None  # a trust root name, "*" for any, None for "default"
    mode: Literal["mutate", "insecureValidateOnly"] = "mutate"
    delegations: tuple[str, ...] = ()  # normalised with the "targets/" prefix
    threshold: int | None = None
    required: tuple[str, ...] = ()
    enforce: Literal["deny", "warn"] = "deny"
    # Cosign only: require an offline-verified Rekor bundle per signature (Connaisseur's key).
    verify_in_transparency_log: bool = True
    # Cosign only: accept a platform manifest when the index its tag names is signed.
    platform_from_index: bool = False
    # Cosign only: how the signed docker-reference must match the image (see docs/cosign.md).
    signed_reference: Literal["repository", "path", "any"] = "repository"
    # Cosign only: in-toto attestations the image must carry (docs/attestations.md).
    attestations: tuple[AttestationRule, ...] = ()
    # Notation only (docs/notation.md); "skip" is refused by the checks.
    verification_level: Literal["strict", "permissive", "audit", "skip"] = "strict"
    verify_timestamp: Literal["always", "afterCertExpiry"] = "always"
    # Cosign only: where signatures are looked for, in this order (docs/cosign.md, bundles).
    signature_formats: tuple[Literal["bundle", "legacy"], ...] = ("bundle", "legacy")
    # Cosign only: Fulcio certificate extensions keyless signers must carry (name -> value).
    certificate_extensions: dict[str, str] = attrs.field(factory=dict, hash=False)


@attrs.frozen
class Rule:
    """One image policy rule: images matching ``pattern`` go to ``validator``."""

    pattern: str
    validator: str = "default"
    options: RuleOptions = RuleOptions()


@attrs.frozen
class Features:
    """Connaisseur's optional behaviours (``features:``)."""

    detection_mode: bool = False
    automatic_unchanged_approval: bool = False
    automatic_child_approval: bool = True
    resource_validation_mode: Literal["all", "podsOnly"] = "all"


@attrs.frozen
class TlsConfig:
    """Certificate and key (PEM files) the webhook serves."""

    cert_file: str | None = None
    key_file: str | None = None


@attrs.frozen
class ServerConfig:
    """How the webhook is served."""

    listen: str = "0.0.0.0:5000"
    tls: TlsConfig = TlsConfig()
    max_body_bytes: int = 4 * MIB
    # More image fields than this in one object is denied before any reference is parsed.
    max_images_per_request: int = 1000
    # A second, plain-HTTP listener serving only GET /metrics (e.g. "0.0.0.0:9090"); None: none.
    # /metrics is always served on the webhook's own port as well.
    metrics_listen: str | None = None
    # One client must not hurt the others (docs/serving.md): a request body (and a TLS
    # handshake) must arrive within body_read_s; all unfinished bodies together hold at most
    # max_buffered_body_bytes; at most max_connections are open at once; SIGTERM drains for at
    # most shutdown_grace_s.
    body_read_s: float = 5.0
    max_buffered_body_bytes: int = 32 * MIB
    max_connections: int = 1000
    shutdown_grace_s: float = 10.0


@attrs.frozen
class Deadlines:
    """Time budgets in seconds."""

    request_s: float = 8.0  # the whole admission request; below the webhook's timeoutSeconds
    fetch_s: float = 3.0  # one trust-data fetch, inside the request deadline


@attrs.frozen
class RedisConfig:
    """The Redis that replicas share verdicts and rollback memory through (``cache.redis``).

    ``url`` may hold a user and password (never shown: not in the repr); ``password_file``
    is the alternative for a password kept in a mounted secret, read when validators are
    built. ``hmac_key`` authenticates every value kenner writes; it must be the same file on
    every replica.
    """

    url: str = attrs.field(repr=False)
    hmac_key_file: KeyFile
    password_file: str | None = None
    ca_file: str | None = None  # PEM bundle for rediss://; the system CAs without it
    prefix: str = "kenner:"
    ttl_s: float = 300.0  # how long a shared verdict lives in Redis
    timeout_s: float = 0.25  # every Redis call, inside the request's deadline
    max_repositories: int = 100_000  # rollback memory in Redis: least recently seen go first


@attrs.frozen
class CacheConfig:
    """How long verified trust data and failures are remembered, and where else (Redis)."""

    ttl_s: float = 300.0
    failure_ttl_s: float = 5.0
    redis: RedisConfig | None = None


@attrs.frozen
class LogConfig:
    """Log output."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["json", "text"] = "json"
    access_log: bool = False  # one line per HTTP request; probes and /metrics only at debug


@attrs.frozen
class WebhookConfig:
    """The MutatingWebhookConfiguration that must point at this kenner.

    ``service`` names kenner's Service in ``kubernetes.namespace``; an off-cluster kenner is
    reached by ``url`` instead (when ``url`` is given, it is what the webhook must name).
    """

    name: str = "kenner"
    service: str | None = "kenner"
    url: str | None = None


@attrs.frozen
class SentinelConfig:
    """The bootstrap sentinel pod, honoured only while installing (see docs/watchdog.md)."""

    name: str = "kenner-bootstrap-sentinel"
    label: str = "kenner.dev/bootstrap-sentinel=true"  # key=value the pod must carry
    window_s: float = 300.0  # after kenner starts; never honoured later


@attrs.frozen
class KubernetesConfig:
    """Access to the Kubernetes API (watchdog checks, automatic child approval).

    Off (``enabled: false``) kenner never calls the API: no webhook or sentinel checks, and
    child objects are validated in full. Access: ``kubeconfig`` (or ``KUBECONFIG``), else the
    in-cluster service account.
    """

    enabled: bool = False
    kubeconfig: str | None = None
    namespace: str = "kenner"  # kenner's own namespace: its Service and the sentinel pod
    api_s: float = 2.0  # deadline of one API call
    webhook: WebhookConfig = WebhookConfig()
    sentinel: SentinelConfig = SentinelConfig()


@attrs.frozen
class WatchdogConfig:
    """How often readiness is checked, and whether Notary health counts."""

    interval_s: float = 5.0
    notary_health: bool = True


@attrs.frozen
class AlertReceiver:
    """One endpoint that gets a JSON POST per admission decision (Connaisseur's ``receivers``).

    ``template`` names ``<template>.json`` in ``AlertingConfig.template_dir`` or among the
    shipped templates; ``custom_headers`` are ``"Name: value"`` lines (they may hold tokens and
    are never logged); ``payload_fields`` are merged into the rendered JSON's top level. With
    ``fail_if_alert_sending_fails`` the alert is sent before the answer, within the request
    deadline, and a failure denies the request, also in detection mode.
    """

    template: str
    receiver_url: str = attrs.field(repr=False)  # webhook URLs often embed a token
    priority: int = 3
    custom_headers: tuple[str, ...] = attrs.field(default=(), repr=False)
    payload_fields: dict[str, Any] = attrs.field(factory=dict, hash=False)
    fail_if_alert_sending_fails: bool = False


@attrs.frozen
class AlertEvent:
    """The receivers of one kind of decision (``admitRequest`` or ``rejectRequest``)."""

    receivers: tuple[AlertReceiver, ...] = ()


@attrs.frozen
class AlertingConfig:
    """Alerts on admission decisions (Connaisseur's ``alerting:``); no receivers, no alerts."""

    cluster_identifier: str = "not specified"
    admit_request: AlertEvent = AlertEvent()
    reject_request: AlertEvent = AlertEvent()
    template_dir: str | None = None  # own templates, looked up before the shipped ones
    send_timeout_s: float = 5.0  # deadline of one queued send (awaited ones: the request's)


@dataclass(frozen=True)
class KeyFile:
    """A secret key read from a file when the configuration is loaded (``proof.keyFile``).

    Not an attrs class on purpose: it is one YAML value (the path), read and checked by the
    loader, not a mapping of keys.
    """

    path: str
    secret: bytes = field(repr=False)


@attrs.frozen
class ProofConfig:
    """Validation proofs (``kenner.admission.proof``): the key they are made with.

    Without ``key_file`` kenner makes a random key at start: proofs then hold only within one
    process (children of owners admitted by another replica or before a restart are
    validated in full).
    """

    key_file: KeyFile | None = None


@attrs.frozen
class Config:
    """The whole configuration of one kenner process."""

    validators: tuple[ValidatorConfig, ...]
    policy: tuple[Rule, ...]
    features: Features = Features()
    server: ServerConfig = ServerConfig()
    deadlines: Deadlines = Deadlines()
    cache: CacheConfig = CacheConfig()
    log: LogConfig = LogConfig()
    kubernetes: KubernetesConfig = KubernetesConfig()
    watchdog: WatchdogConfig = WatchdogConfig()
    alerting: AlertingConfig = AlertingConfig()
    proof: ProofConfig = ProofConfig()
    secrets_dir: str = "/etc/kenner/secrets"
