"""The configuration as frozen values.

Every class here is an immutable attrs value built once by ``kenner.config.load`` from YAML.
Field names are Python names; the YAML keys are Connaisseur's camelCase spellings, mapped in
``kenner.config.load``. Units are part of the field names (``request_s``, ``max_body_bytes``).
"""

from __future__ import annotations

from typing import Literal

import attrs

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
    ``.dockerconfigjson``.
    """

    username: str | None = None
    password: str | None = attrs.field(default=None, repr=False)
    secret_name: str | None = None


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


ValidatorConfig = StaticValidatorConfig | NotaryV1ValidatorConfig


@attrs.frozen
class RuleOptions:
    """The ``with:`` block of a policy rule."""

    trust_root: str | None = None  # a trust root name, "*" for any, None for "default"
    mode: Literal["mutate", "insecureValidateOnly"] = "mutate"
    delegations: tuple[str, ...] = ()  # normalised with the "targets/" prefix
    threshold: int | None = None
    required: tuple[str, ...] = ()
    enforce: Literal["deny", "warn"] = "deny"


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


@attrs.frozen
class Deadlines:
    """Time budgets in seconds."""

    request_s: float = 8.0  # the whole admission request; below the webhook's timeoutSeconds
    fetch_s: float = 3.0  # one trust-data fetch, inside the request deadline


@attrs.frozen
class CacheConfig:
    """How long verified trust data and failures are remembered."""

    ttl_s: float = 300.0
    failure_ttl_s: float = 5.0


@attrs.frozen
class LogConfig:
    """Log output."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["json", "text"] = "json"


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
    secrets_dir: str = "/etc/kenner/secrets"
