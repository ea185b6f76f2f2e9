"""Checks that need the whole structured config, and the normalisations that go with them.

Problems are reported at kenner-layout key paths; the loader maps them back to the source.

The checks of one validator kind (cosign, notation, the Notary key reader) are imported when a
validator of that kind is checked, not with this module: they load that kind's verifier and its
libraries (asn1crypto, cbor2, pynacl), memory a policy without that kind never uses
(docs/architecture.md, "Memory").
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Collection, Mapping
from typing import cast
from urllib.parse import urlsplit

import attrs
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from kenner.config.alert_checks import check_alerting
from kenner.config.attestation_checks import check_attestations
from kenner.config.login_scope import NO_SCOPE, check_login_registry, plain_login_scope
from kenner.config.model import (
    Auth,
    Config,
    CosignValidatorConfig,
    NotaryV1ValidatorConfig,
    NotationValidatorConfig,
    Rule,
    ValidatorConfig,
)
from kenner.config.redis_checks import check_redis
from kenner.config.root_checks import named_roots
from kenner.config.source import KeyPath
from kenner.config.structure import yaml_key
from kenner.config.tls_bundles import tls_bundle_problem

Report = Callable[[KeyPath, str], None]

log = logging.getLogger(__name__)

ANY_TRUST_ROOT = "*"
DEFAULT_NAME = "default"
_DELEGATION_PREFIX = "targets/"
_PEM_KEY = re.compile(
    r"-----BEGIN PUBLIC KEY-----\n[A-Za-z0-9+/=\s]+-----END PUBLIC KEY-----", re.ASCII
)
_PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_DELEGATION_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*")


def check_config(config: Config) -> tuple[Config, list[tuple[KeyPath, str]]]:
    """Validate references and values across the config; return it normalised, or problems."""
    problems: list[tuple[KeyPath, str]] = []

    def report(path: KeyPath, message: str) -> None:
        problems.append((path, message))

    validators = tuple(
        _check_validator(validator, ("validators", index), report)
        for index, validator in enumerate(config.validators)
    )
    by_name = _unique_validators(validators, report)
    _check_keychain(validators, config, report)
    rules = tuple(
        _check_rule(rule, ("policy", index), by_name, report)
        for index, rule in enumerate(config.policy)
    )
    _unique_patterns(rules, report)
    _check_login_scopes(validators, rules, report)
    _check_settings(config, report)
    _check_finite(config, (), report)
    return attrs.evolve(config, validators=validators, policy=rules), problems


def _check_finite(value: object, path: KeyPath, report: Report) -> None:
    """Every number of the configuration is finite: YAML's ``.nan`` passes every ``> 0``
    check and trio refuses a NaN deadline at the first request; ``.inf`` seconds is a hang."""
    if isinstance(value, float) and not math.isfinite(value):
        report(path, f"must be a finite number, got {value}")
    elif attrs.has(type(value)):
        for field in attrs.fields(cast("type[attrs.AttrsInstance]", type(value))):
            _check_finite(getattr(value, field.name), (*path, yaml_key(field.name)), report)
    elif isinstance(value, tuple | list):
        for index, item in enumerate(value):
            _check_finite(item, (*path, index), report)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _check_finite(item, (*path, str(key)), report)


def check_child_approval(
    config: Config, explicit: Collection[str]
) -> tuple[Config, list[tuple[KeyPath, str]]]:
    """``resourceValidationMode: podsOnly`` admits controllers unchecked, so no owner can
    vouch for its pods: automatic child approval must not apply (issue 11).

    ``explicit``: the ``features`` keys the operator wrote. Both written is a contradiction and
    refused; child approval on by default (a Connaisseur user who only set ``podsOnly``) is
    turned off with a warning.
    """
    features = config.features
    if features.resource_validation_mode != "podsOnly" or not features.automatic_child_approval:
        return config, []
    if "automaticChildApproval" in explicit:
        message = (
            "automaticChildApproval: true cannot be combined with resourceValidationMode: "
            "podsOnly (controllers are then admitted unchecked, so their pods must be "
            "validated); set automaticChildApproval: false or resourceValidationMode: all"
        )
        return config, [(("features", "automaticChildApproval"), message)]
    log.warning(
        "resourceValidationMode: podsOnly: automatic child approval is off (controllers are "
        "admitted unchecked, so every pod is validated)"
    )
    features = attrs.evolve(features, automatic_child_approval=False)
    return attrs.evolve(config, features=features), []


def _unique_validators(
    validators: tuple[ValidatorConfig, ...], report: Report
) -> dict[str, ValidatorConfig]:
    if not validators:
        report(("validators",), "at least one validator is required")
    by_name: dict[str, ValidatorConfig] = {}
    first_index: dict[str, int] = {}
    for index, validator in enumerate(validators):
        if validator.name in by_name:
            used_by = f"validators[{first_index[validator.name]}]"
            message = f"validator name '{validator.name}' is already used by {used_by}"
            report(("validators", index, "name"), message)
            continue
        by_name[validator.name] = validator
        first_index[validator.name] = index
    return by_name


def _check_validator(validator: ValidatorConfig, path: KeyPath, report: Report) -> ValidatorConfig:
    if not validator.name:
        report((*path, "name"), "must not be empty")
    if isinstance(validator, CosignValidatorConfig):
        from kenner.config.cosign_checks import check_cosign_validator

        _check_auth(validator.auth, path, report)
        check_cosign_validator(validator, path, report)
        if validator.auth is not None:
            auth = check_login_registry(validator.auth, (*path, "auth", "registry"), report)
            validator = attrs.evolve(validator, auth=auth)
        return validator
    if isinstance(validator, NotationValidatorConfig):
        from kenner.config.notation_checks import check_notation_validator

        _check_auth(validator.auth, path, report)
        check_notation_validator(validator, path, report)
        if validator.auth is not None and validator.auth.registry is not None:
            auth = check_login_registry(validator.auth, (*path, "auth", "registry"), report)
            validator = attrs.evolve(validator, auth=auth)
        return validator
    if not isinstance(validator, NotaryV1ValidatorConfig):
        return validator
    host = _normalise_host(validator.host, (*path, "host"), report)
    for root_path, root in named_roots("notaryv1", validator.trust_roots, path, report):
        problem = public_key_problem(root.key)
        if problem:
            report((*root_path, "key"), f"trust root '{root.name}': {problem}")
    if validator.cert is not None:
        problem = certificate_problem(validator.cert)
        if problem:
            report((*path, "cert"), f"validator '{validator.name}': {problem}")
    _check_auth(validator.auth, path, report)
    if validator.auth is not None and validator.auth.registry is not None:
        message = "a Notary login belongs to the Notary server in 'host'; only cosign takes this"
        report((*path, "auth", "registry"), message)
    return attrs.evolve(validator, host=host)


def _check_auth(auth: Auth | None, path: KeyPath, report: Report) -> None:
    if auth is None:
        return
    has_login = auth.username is not None or auth.password is not None
    if auth.k8s_keychain and auth.secret_name is None and not has_login:
        return  # the pod's imagePullSecrets only
    if auth.secret_name is not None and has_login:
        report((*path, "auth"), "give either secretName or username/password, not both")
    elif auth.secret_name is None and (auth.username is None or auth.password is None):
        report((*path, "auth"), "needs secretName, or both username and password")
    elif auth.secret_name is not None and not _PLAIN_NAME.fullmatch(auth.secret_name):
        message = "must be a plain name (letters, digits, '.', '_', '-'), not a path"
        report((*path, "auth", "secretName"), message)


def _check_keychain(
    validators: tuple[ValidatorConfig, ...], config: Config, report: Report
) -> None:
    for index, validator in enumerate(validators):
        auth = getattr(validator, "auth", None)
        if not isinstance(auth, Auth) or not auth.k8s_keychain:
            continue
        path = ("validators", index, "auth", "k8sKeychain")
        if not isinstance(validator, CosignValidatorConfig):
            report(path, "imagePullSecrets are used by cosign validators only")
        elif not config.kubernetes.enabled:
            report(path, "needs kubernetes.enabled: true (imagePullSecrets are read from the API)")


def _check_login_scopes(
    validators: tuple[ValidatorConfig, ...], rules: tuple[Rule, ...], report: Report
) -> None:
    """An inline plain login must have a registry to go to (``kenner.config.login_scope``)."""
    for index, validator in enumerate(validators):
        if not isinstance(validator, CosignValidatorConfig | NotationValidatorConfig):
            continue
        if validator.auth is None:
            continue
        if validator.auth.username is not None and not plain_login_scope(validator, rules):
            report(("validators", index, "auth", "username"), NO_SCOPE)


def _normalise_host(host: str, path: KeyPath, report: Report) -> str:
    """``notary.example`` -> ``https://notary.example``; only https is accepted."""
    if "://" not in host:
        host = f"https://{host}"
    try:
        parts = urlsplit(host)
        port = parts.port  # raises ValueError for a malformed port
    except ValueError as error:
        report(path, f"not a valid host: {error}")
        return host
    if parts.scheme == "http":
        report(path, "http:// is refused: trust data must be fetched over https")
    elif parts.scheme != "https":
        report(path, f"scheme '{parts.scheme}' is not supported; use https://HOST[:PORT]")
    elif not parts.hostname or parts.path.strip("/") or parts.query or parts.fragment:
        report(path, "must be HOST[:PORT] or https://HOST[:PORT], without a path")
    elif parts.username or parts.password:
        report(path, "must not contain credentials; use 'auth'")
    suffix = "" if port is None else f":{port}"
    return f"https://{parts.hostname}{suffix}" if parts.hostname else host


def public_key_problem(pem: str) -> str | None:
    """Why ``pem`` is not a usable Notary trust-root public key, or None if it is.

    The key is read by the very function the notaryv1 validator reads it with
    (``kenner.tuf.parse_public_key_pem``: RSA under 2048 bits is refused there), and must in
    addition be a bare ``PUBLIC KEY`` block, and ECDSA only on P-256.
    """
    from kenner.tuf.keys import KeyFormatError, parse_public_key_pem

    text = pem.strip()
    if not _PEM_KEY.fullmatch(text):
        return (
            "key must be exactly one PEM public key ('-----BEGIN PUBLIC KEY-----' ... "
            "'-----END PUBLIC KEY-----') with nothing else around it"
        )
    try:
        key = load_pem_public_key(text.encode("ascii"))
    except (ValueError, UnsupportedAlgorithm) as error:
        return f"key cannot be loaded as a public key ({error})"
    try:
        parse_public_key_pem(text)
    except KeyFormatError as error:
        return f"key cannot be used: {error}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, ec.SECP256R1):
            return f"ECDSA key on curve {key.curve.name} is not supported (only P-256)"
        return None
    if isinstance(key, rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        return None
    return f"{type(key).__name__} keys are not supported (ECDSA P-256, RSA or Ed25519 only)"


def certificate_problem(pem: str) -> str | None:
    """Why ``pem`` is not a PEM bundle of one or more certificates TLS can trust, or None."""
    problem = tls_bundle_problem(pem)
    if problem:
        return f"cert {problem}"
    try:
        x509.load_pem_x509_certificates(pem.encode("ascii"))
    except ValueError as error:
        return f"cert is not a PEM certificate bundle ({error})"
    return None


def _check_rule(
    rule: Rule, path: KeyPath, validators: dict[str, ValidatorConfig], report: Report
) -> Rule:
    if not rule.pattern.strip():
        report((*path, "pattern"), "must not be empty")
    validator = validators.get(rule.validator)
    if validator is None:
        implied = "" if rule.validator != DEFAULT_NAME else " (a rule without 'validator' uses it)"
        message = f"validator '{rule.validator}' used by {_index_name(path)} is not defined"
        report((*path, "validator"), message + implied)
    options = rule.options
    with_path = (*path, "with")
    if options.threshold is not None and options.threshold < 1:
        report(
            (*with_path, "threshold"), f"must be a positive whole number, got {options.threshold}"
        )
    if options.delegations and options.required:
        report(with_path, "'delegations' and 'required' cannot be used together")
    delegations = tuple(
        _normalise_delegation(name, (*with_path, "delegations", index), report)
        for index, name in enumerate(options.delegations)
    )
    if isinstance(validator, NotaryV1ValidatorConfig):
        _check_trust_root_names(rule, validator, with_path, report)
    elif isinstance(validator, CosignValidatorConfig):
        from kenner.config.cosign_checks import check_cosign_rule

        _check_trust_root_names(rule, validator, with_path, report)
        check_cosign_rule(rule, validator, with_path, report)
    elif isinstance(validator, NotationValidatorConfig):
        from kenner.config.notation_checks import check_notation_rule

        _check_trust_root_names(rule, validator, with_path, report)
        check_notation_rule(rule, validator, with_path, report)
    elif validator is not None and options.trust_root not in (None, ANY_TRUST_ROOT):
        message = f"validator '{validator.name}' is static and has no trust roots"
        report((*with_path, "trustRoot"), message)
    check_attestations(rule, validator, with_path, report)
    if validator is not None and not isinstance(validator, CosignValidatorConfig):
        for key, default in (
            ("signatureFormats", options.signature_formats == ("bundle", "legacy")),
            ("certificateExtensions", not options.certificate_extensions),
        ):
            if not default:
                report((*with_path, key), f"a cosign option; validator '{validator.name}' is not")
    return attrs.evolve(rule, options=attrs.evolve(options, delegations=delegations))


def _index_name(path: KeyPath) -> str:
    return f"{path[0]}[{path[1]}]"


def _check_trust_root_names(
    rule: Rule,
    validator: NotaryV1ValidatorConfig | CosignValidatorConfig | NotationValidatorConfig,
    with_path: KeyPath,
    report: Report,
) -> None:
    names = {root.name for root in validator.trust_roots}
    trust_root = rule.options.trust_root
    if trust_root is None and DEFAULT_NAME not in names and validator.trust_roots:
        # Connaisseur falls back to the root named "default" at admission time and denies
        # every image if it is missing; kenner says so when the config is loaded.
        message = (
            f"validator '{validator.name}' has no trust root named 'default', which is used "
            "when with.trustRoot is not set"
        )
        report((*with_path, "trustRoot"), message)
    elif trust_root not in (None, ANY_TRUST_ROOT) and trust_root not in names:
        message = f"trust root '{trust_root}' is not defined by validator '{validator.name}'"
        report((*with_path, "trustRoot"), message)
    for index, name in enumerate(rule.options.required):
        if name not in names:
            message = f"trust root '{name}' is not defined by validator '{validator.name}'"
            report((*with_path, "required", index), message)


def _normalise_delegation(name: str, path: KeyPath, report: Report) -> str:
    role = name if name.startswith(_DELEGATION_PREFIX) else _DELEGATION_PREFIX + name
    if not _DELEGATION_NAME.fullmatch(role.removeprefix(_DELEGATION_PREFIX)):
        report(path, f"'{name}' is not a delegation role name (letters, digits, . _ - and /)")
    return role


def _unique_patterns(rules: tuple[Rule, ...], report: Report) -> None:
    if not rules:
        report(("policy",), "at least one policy rule is required")
    first: dict[str, int] = {}
    for index, rule in enumerate(rules):
        if rule.pattern in first:
            # Two rules with one pattern are equally specific: which one wins is arbitrary.
            message = f"pattern '{rule.pattern}' is already used by policy[{first[rule.pattern]}]"
            report(("policy", index, "pattern"), message)
        first.setdefault(rule.pattern, index)


def _check_server_limits(config: Config, report: Report) -> None:
    server = config.server
    if server.max_body_bytes <= 0:
        report(("server", "maxBodyBytes"), "must be greater than 0")
    elif server.max_buffered_body_bytes < server.max_body_bytes:
        message = f"must be at least server.maxBodyBytes ({server.max_body_bytes})"
        report(("server", "maxBufferedBodyBytes"), message)
    if server.max_connections <= 0:
        report(("server", "maxConnections"), "must be greater than 0")
    if server.body_read_s <= 0:
        report(("server", "bodyReadSeconds"), "must be greater than 0")
    if server.shutdown_grace_s <= 0:
        report(("server", "shutdownGraceSeconds"), "must be greater than 0")


def _check_settings(config: Config, report: Report) -> None:
    _check_listen(config.server.listen, report)
    if config.server.metrics_listen is not None:
        _check_listen(config.server.metrics_listen, report, ("server", "metricsListen"))
    _check_server_limits(config, report)
    if config.server.max_images_per_request <= 0:
        report(("server", "maxImagesPerRequest"), "must be greater than 0")
    tls = config.server.tls
    if (tls.cert_file is None) != (tls.key_file is None):
        report(("server", "tls"), "give both certFile and keyFile, or neither")
    deadlines = config.deadlines
    if deadlines.request_s <= 0:
        report(("deadlines", "requestSeconds"), "must be greater than 0")
    if deadlines.fetch_s <= 0:
        report(("deadlines", "fetchSeconds"), "must be greater than 0")
    elif deadlines.fetch_s > deadlines.request_s:
        message = f"must not exceed deadlines.requestSeconds ({deadlines.request_s:g})"
        report(("deadlines", "fetchSeconds"), message)
    if config.cache.ttl_s < 0:
        report(("cache", "ttlSeconds"), "must not be negative")
    if config.cache.failure_ttl_s < 0:
        report(("cache", "failureTtlSeconds"), "must not be negative")
    check_redis(config, report)
    if not config.secrets_dir:
        report(("secretsDir",), "must not be empty")
    _check_kubernetes(config, report)
    check_alerting(config.alerting, report)


def _check_kubernetes(config: Config, report: Report) -> None:
    kubernetes, path = config.kubernetes, ("kubernetes",)
    if kubernetes.api_s <= 0:
        report((*path, "apiSeconds"), "must be greater than 0")
    if not kubernetes.namespace:
        report((*path, "namespace"), "must not be empty")
    webhook = kubernetes.webhook
    if not webhook.name:
        report((*path, "webhook", "name"), "must not be empty")
    if webhook.service is None and webhook.url is None:
        report((*path, "webhook"), "needs service (in-cluster) or url (off-cluster)")
    elif webhook.url is not None and not webhook.url.startswith("https://"):
        report((*path, "webhook", "url"), "must be an https:// URL")
    sentinel = kubernetes.sentinel
    key, equals, _ = sentinel.label.partition("=")
    if not key or not equals:
        report((*path, "sentinel", "label"), f"must be KEY=VALUE, got {sentinel.label!r}")
    if sentinel.window_s < 0:
        report((*path, "sentinel", "windowSeconds"), "must not be negative")
    if config.watchdog.interval_s <= 0:
        report(("watchdog", "intervalSeconds"), "must be greater than 0")


def _check_listen(listen: str, report: Report, path: KeyPath = ("server", "listen")) -> None:
    host, _, port = listen.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]  # an IPv6 address such as [::1]
    if not host or not port.isdigit() or int(port) > 65535:
        report(path, f"must be HOST:PORT (port 0-65535), got {listen!r}")
