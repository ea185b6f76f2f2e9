"""Configuration loading: both layouts, every error with its key path and line, fixtures."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import trustme
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from kenner.config.load import ConfigError, default_config, load_config, load_config_file
from kenner.config.model import (
    Auth,
    CacheConfig,
    Config,
    Deadlines,
    Features,
    LogConfig,
    NotaryV1ValidatorConfig,
    NotationValidatorConfig,
    Rule,
    RuleOptions,
    ServerConfig,
    StaticValidatorConfig,
    TlsConfig,
    TrustRoot,
)
from tests.shared import connaisseur_fixtures
from tests.support.config_dump import dump_config

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _pem(key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


P256 = _pem(ec.generate_private_key(ec.SECP256R1()).public_key())
P384 = _pem(ec.generate_private_key(ec.SECP384R1()).public_key())
RSA = _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key())
ED25519 = _pem(ed25519.Ed25519PrivateKey.generate().public_key())


def _block(text: str, indent: int) -> str:
    """``text`` as a YAML literal block body indented by ``indent`` spaces."""
    return textwrap.indent(text, " " * indent)


def notary_yaml(*, key: str = P256, root: str = "default", extra: str = "") -> str:
    """A kenner-layout config with one notaryv1 validator (line 7 is ``key: |``)."""
    return (
        "validators:\n"  # 1
        "  - name: hub\n"  # 2
        "    type: notaryv1\n"  # 3
        "    host: notary.example:4443\n"  # 4
        "    trustRoots:\n"  # 5
        f"      - name: {root}\n"  # 6
        "        key: |\n"  # 7
        f"{_block(key, 10)}"
        f"{extra}"
        "policy:\n"
        "  - pattern: '*:*'\n"
        "    validator: hub\n"
    )


def problems(text: str) -> list[tuple[str, int | None, str]]:
    with pytest.raises(ConfigError) as info:
        load_config(textwrap.dedent(text), "test.yaml")
    assert info.value.source == "test.yaml"
    return [(p.path, p.line, p.message) for p in info.value.problems]


STATIC = """\
validators:
  - name: allow
    type: static
    approve: true
policy:
  - pattern: "*:*"
    validator: allow
"""


# --- kenner's layout -----------------------------------------------------------------------


def test_minimal_static_config_gets_every_default() -> None:
    config = load_config(STATIC)
    assert config == Config(
        validators=(StaticValidatorConfig(name="allow", approve=True),),
        policy=(Rule(pattern="*:*", validator="allow"),),
    )
    assert config.server == ServerConfig()
    assert config.deadlines == Deadlines(request_s=8.0, fetch_s=3.0)


def test_full_kenner_layout_loads_normalised_and_round_trips() -> None:
    cert = trustme.CA().cert_pem.bytes().decode()
    text = f"""\
validators:
  - name: default
    type: notaryv1
    host: https://notary.example:4443/
    cert: |
{_block(cert, 6)}
    auth:
      username: robot
      password: s3cret
    trustRoots:
      - name: default
        key: |
{_block(P256, 10)}
      - name: rsa
        key: |
{_block(RSA, 10)}
      - name: ed
        key: |
{_block(ED25519, 10)}
  - name: private
    type: notaryv1
    host: notary.internal
    auth:
      secretName: notary-creds
    trustRoots:
      - name: default
        key: |
{_block(P256, 10)}
policy:
  - pattern: "*:*"
  - pattern: "docker.io/org/*:*"
    validator: private
    with:
      trustRoot: "*"
      mode: insecureValidateOnly
      delegations: [alice, targets/bob, team/carol]
      enforce: warn
  - pattern: "docker.io/org/thresh:*"
    validator: default
    with: {{trustRoot: rsa, threshold: 2, required: [rsa, ed]}}
features:
  detectionMode: true
  automaticUnchangedApproval: true
  automaticChildApproval: false
  resourceValidationMode: podsOnly
server:
  listen: "[::1]:8443"
  tls: {{certFile: /tls/crt, keyFile: /tls/key}}
  maxBodyBytes: 1024
deadlines: {{requestSeconds: 5, fetchSeconds: 2.5}}
cache: {{ttlSeconds: 60, failureTtlSeconds: 0}}
log: {{level: debug, format: text}}
secretsDir: /run/secrets
"""
    config = load_config(text)
    assert config == Config(
        validators=(
            NotaryV1ValidatorConfig(
                name="default",
                host="https://notary.example:4443",
                trust_roots=(
                    TrustRoot("default", P256),
                    TrustRoot("rsa", RSA),
                    TrustRoot("ed", ED25519),
                ),
                cert=cert,
                auth=Auth(username="robot", password="s3cret"),
            ),
            NotaryV1ValidatorConfig(
                name="private",
                host="https://notary.internal",
                trust_roots=(TrustRoot("default", P256),),
                auth=Auth(secret_name="notary-creds"),
            ),
        ),
        policy=(
            Rule(pattern="*:*", validator="default"),
            Rule(
                pattern="docker.io/org/*:*",
                validator="private",
                options=RuleOptions(
                    trust_root="*",
                    mode="insecureValidateOnly",
                    delegations=("targets/alice", "targets/bob", "targets/team/carol"),
                    enforce="warn",
                ),
            ),
            Rule(
                pattern="docker.io/org/thresh:*",
                validator="default",
                options=RuleOptions(trust_root="rsa", threshold=2, required=("rsa", "ed")),
            ),
        ),
        features=Features(
            detection_mode=True,
            automatic_unchanged_approval=True,
            automatic_child_approval=False,
            resource_validation_mode="podsOnly",
        ),
        server=ServerConfig(
            listen="[::1]:8443", tls=TlsConfig("/tls/crt", "/tls/key"), max_body_bytes=1024
        ),
        deadlines=Deadlines(request_s=5.0, fetch_s=2.5),
        cache=CacheConfig(ttl_s=60.0, failure_ttl_s=0.0),
        log=LogConfig(level="debug", format="text"),
        secrets_dir="/run/secrets",
    )
    assert load_config(dump_config(config)) == config


def test_notaryv1_host_defaults_to_docker_hub_like_connaisseur() -> None:
    text = notary_yaml().replace("    host: notary.example:4443\n", "")
    validator = load_config(text).validators[0]
    assert isinstance(validator, NotaryV1ValidatorConfig)
    assert validator.host == "https://notary.docker.io"


# --- structural errors: key path and line ---------------------------------------------------


def test_unknown_keys_are_errors_with_a_suggestion() -> None:
    assert problems(
        """\
        validators:
          - name: allow
            type: static
            approve: true
        polcy: []
        """
    ) == [
        ("", 1, "missing required key 'policy'"),
        ("polcy", 5, "unknown key 'polcy' (did you mean 'policy'?)"),
    ]
    assert problems(STATIC + "    with:\n      trustroot: x\n") == [
        ("policy[0].with.trustroot", 9, "unknown key 'trustroot' (did you mean 'trustRoot'?)")
    ]
    assert problems(STATIC + "features:\n  colour: blue\n") == [
        (
            "features.colour",
            9,
            "unknown key 'colour' (expected one of detectionMode, automaticUnchangedApproval,"
            " automaticChildApproval, resourceValidationMode)",
        )
    ]


@pytest.mark.parametrize(
    ("line", "path", "message"),
    [
        ("    with: {mode: mutat}", "policy[0].with.mode", "mutate, insecureValidateOnly"),
        ("    with: {enforce: block}", "policy[0].with.enforce", "deny, warn"),
    ],
)
def test_rule_option_choices(line: str, path: str, message: str) -> None:
    [(got_path, got_line, got)] = problems(STATIC + line + "\n")
    assert (got_path, got_line) == (path, 8)
    assert got.startswith(f"must be one of {message}, got ")


def test_settings_choices_and_types() -> None:
    assert problems(STATIC + "features: {resourceValidationMode: pods}\n") == [
        ("features.resourceValidationMode", 8, "must be one of all, podsOnly, got 'pods'")
    ]
    assert problems(STATIC + "log:\n  level: verbose\n  format: yaml\n") == [
        ("log.level", 9, "must be one of debug, info, warning, error, got 'verbose'"),
        ("log.format", 10, "must be one of json, text, got 'yaml'"),
    ]
    assert problems(STATIC.replace("approve: true", 'approve: "false"')) == [
        ("validators[0].approve", 4, "must be true or false, got a string")
    ]
    assert problems(STATIC + "    with: {threshold: '2'}\n") == [
        ("policy[0].with.threshold", 8, "must be a whole number, got a string")
    ]
    assert problems(STATIC + "server: [1]\n") == [("server", 8, "must be a mapping, got a list")]
    assert problems(STATIC + "    with: {delegations: alice}\n") == [
        ("policy[0].with.delegations", 8, "must be a list, got a string")
    ]


def test_missing_required_keys_name_the_key_at_the_enclosing_line() -> None:
    assert problems(STATIC + "  - validator: allow\n") == [
        ("policy[1]", 8, "missing required key 'pattern'")
    ]
    assert problems(STATIC.replace("    approve: true\n", "")) == [
        ("validators[0]", 2, "missing required key 'approve'")
    ]
    assert problems("validators: []\n") == [("", 1, "missing required key 'policy'")]


def test_validator_types() -> None:
    assert problems(STATIC.replace("type: static", "type: notaryv2")) == [
        ("validators[0].type", 3, "validator type 'notaryv2' is not supported yet")
    ]
    assert problems(STATIC.replace("type: static", "type: magic")) == [
        ("validators[0].type", 3, "must be one of static, notaryv1, cosign, notation, got 'magic'")
    ]
    assert problems(STATIC.replace("    type: static\n", "")) == [
        (
            "validators[0]",
            2,
            "missing required key 'type' (one of static, notaryv1, cosign, notation)",
        )
    ]


def test_yaml_level_errors() -> None:
    assert problems(STATIC + "validators: []\n") == [
        ("validators", 8, "duplicate key (first given at line 1)")
    ]
    [(path, line, message)] = problems("policy: []\nvalidators: x: y\n")
    assert (path, line) == ("", 2)
    assert message.startswith("not valid YAML: ")
    assert problems("") == [("", 1, "the configuration is empty")]
    assert problems("- a\n") == [("", 1, "the top level must be a mapping")]


def test_message_lists_every_problem_with_source_line_and_path() -> None:
    text = STATIC.replace("approve: true", "approve: 1") + "log: {level: loud}\n"
    with pytest.raises(ConfigError) as info:
        load_config(text, "cfg.yaml")
    assert str(info.value) == (
        "cfg.yaml:4: validators[0].approve: must be true or false, got a number\n"
        "cfg.yaml:8: log.level: must be one of debug, info, warning, error, got 'loud'"
    )


def test_a_file_that_cannot_be_read_is_a_config_error(tmp_path: Path) -> None:
    missing = tmp_path / "absent.yaml"
    with pytest.raises(ConfigError, match=r"absent\.yaml: cannot be read: "):
        load_config_file(missing)


# --- cross-reference and value checks --------------------------------------------------------


def test_every_referenced_validator_must_exist() -> None:
    assert problems(STATIC.replace("validator: allow", "validator: dockerhub")) == [
        ("policy[0].validator", 7, "validator 'dockerhub' used by policy[0] is not defined")
    ]
    assert problems(STATIC + "  - pattern: 'a/*'\n") == [
        (
            "policy[1].validator",
            8,
            "validator 'default' used by policy[1] is not defined"
            " (a rule without 'validator' uses it)",
        )
    ]


def test_names_and_patterns_are_unique() -> None:
    twice = STATIC.replace(
        "policy:", "  - name: allow\n    type: static\n    approve: false\npolicy:"
    )
    assert problems(twice) == [
        ("validators[1].name", 5, "validator name 'allow' is already used by validators[0]")
    ]
    assert problems(STATIC + "  - pattern: '*:*'\n    validator: allow\n") == [
        ("policy[1].pattern", 8, "pattern '*:*' is already used by policy[0]")
    ]
    extra = "      - name: default\n        key: |\n" + _block(P256, 10)
    assert problems(notary_yaml(extra=extra)) == [
        ("validators[0].trustRoots[1].name", 12, "trust root name 'default' is used twice")
    ]


def test_trust_root_references() -> None:
    rule = "    with: {trustRoot: %s}\n"
    assert problems(notary_yaml() + rule % "other") == [
        ("policy[0].with.trustRoot", 15, "trust root 'other' is not defined by validator 'hub'")
    ]
    config = load_config(notary_yaml() + rule % "'*'")
    assert config.policy[0].options.trust_root == "*"
    # Without with.trustRoot, Connaisseur uses the root named "default".
    assert problems(notary_yaml(root="sse")) == [
        (
            "policy[0].with.trustRoot",
            13,
            "validator 'hub' has no trust root named 'default', which is used when"
            " with.trustRoot is not set",
        )
    ]
    assert load_config(notary_yaml(root="sse") + rule % "sse").policy[0].options.trust_root == "sse"
    assert problems(STATIC + rule % "x") == [
        ("policy[0].with.trustRoot", 8, "validator 'allow' is static and has no trust roots")
    ]
    assert problems(notary_yaml() + "    with: {required: [default, nope]}\n") == [
        ("policy[0].with.required[1]", 15, "trust root 'nope' is not defined by validator 'hub'")
    ]


def test_rule_options_values() -> None:
    assert problems(STATIC + "    with: {threshold: 0}\n") == [
        ("policy[0].with.threshold", 8, "must be a positive whole number, got 0")
    ]
    assert problems(STATIC + "    with: {delegations: [a], required: [b]}\n") == [
        ("policy[0].with", 8, "'delegations' and 'required' cannot be used together")
    ]
    assert problems(STATIC + "    with: {delegations: ['targets/', '../x']}\n") == [
        (
            "policy[0].with.delegations[0]",
            8,
            "'targets/' is not a delegation role name (letters, digits, . _ - and /)",
        ),
        (
            "policy[0].with.delegations[1]",
            8,
            "'../x' is not a delegation role name (letters, digits, . _ - and /)",
        ),
    ]


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("notary.example", "https://notary.example"),
        ("https://Notary.Example:4443/", "https://notary.example:4443"),
        ("localhost:4443", "https://localhost:4443"),
    ],
)
def test_notary_host_is_normalised_to_https(host: str, expected: str) -> None:
    validator = load_config(notary_yaml().replace("notary.example:4443", host)).validators[0]
    assert isinstance(validator, NotaryV1ValidatorConfig)
    assert validator.host == expected


@pytest.mark.parametrize(
    ("host", "message"),
    [
        ("http://notary.example", "http:// is refused: trust data must be fetched over https"),
        ("ftp://notary.example", "scheme 'ftp' is not supported; use https://HOST[:PORT]"),
        ("notary.example/v2", "must be HOST[:PORT] or https://HOST[:PORT], without a path"),
        ("user:pw@notary.example", "must not contain credentials; use 'auth'"),
        (
            "notary.example:http",
            "not a valid host: Port could not be cast to integer value as 'http'",
        ),
    ],
)
def test_bad_notary_hosts(host: str, message: str) -> None:
    text = notary_yaml().replace("notary.example:4443", host)
    assert problems(text) == [("validators[0].host", 4, message)]


def test_trust_root_keys_must_be_supported_pem_public_keys() -> None:
    for key in (RSA, ED25519, P256 + "   \n"):
        assert load_config(notary_yaml(key=key)).validators[0].name == "hub"
    [(path, line, message)] = problems(notary_yaml(key=P384))
    assert (path, line) == ("validators[0].trustRoots[0].key", 7)
    assert (
        message
        == "trust root 'default': ECDSA key on curve secp384r1 is not supported (only P-256)"
    )
    [(_, _, message)] = problems(notary_yaml(key=P256 + "and some more\n"))
    assert message.startswith("trust root 'default': key must be exactly one PEM public key")
    [(_, _, message)] = problems(notary_yaml(key="not a key\n"))
    assert message.startswith("trust root 'default': key must be exactly one PEM public key")
    garbage = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"
    [(_, _, message)] = problems(notary_yaml(key=garbage))
    assert message.startswith("trust root 'default': key cannot be loaded as a public key (")


def test_notary_cert_and_auth() -> None:
    bad_cert = (
        "    cert: |\n      -----BEGIN CERTIFICATE-----\n      AAAA\n"
        "      -----END CERTIFICATE-----\n"
    )
    [(path, line, message)] = problems(notary_yaml(extra=bad_cert))
    assert (path, line) == ("validators[0].cert", 12)
    assert message.startswith("validator 'hub': cert is not a PEM certificate bundle (")
    both = "    auth: {secretName: s, username: u, password: p}\n"
    assert problems(notary_yaml(extra=both)) == [
        ("validators[0].auth", 12, "give either secretName or username/password, not both")
    ]
    half = "    auth: {username: u}\n"
    assert problems(notary_yaml(extra=half)) == [
        ("validators[0].auth", 12, "needs secretName, or both username and password")
    ]
    escape = "    auth: {secretName: ../etc}\n"
    assert problems(notary_yaml(extra=escape)) == [
        (
            "validators[0].auth.secretName",
            12,
            "must be a plain name (letters, digits, '.', '_', '-'), not a path",
        )
    ]


def test_a_notaryv1_validator_needs_a_trust_root() -> None:
    text = """\
validators:
  - name: hub
    type: notaryv1
    trustRoots: []
policy:
  - pattern: "*:*"
    validator: hub
"""
    assert problems(text) == [
        ("validators[0].trustRoots", 4, "a notaryv1 validator needs at least one trust root")
    ]


def test_server_deadline_and_cache_limits() -> None:
    settings = """\
server:
  listen: "localhost"
  maxBodyBytes: 0
  tls: {certFile: /a}
deadlines: {requestSeconds: 2, fetchSeconds: 3}
cache: {ttlSeconds: -1, failureTtlSeconds: -1}
secretsDir: ""
"""
    assert problems(STATIC + settings) == [
        ("server.listen", 9, "must be HOST:PORT (port 0-65535), got 'localhost'"),
        ("server.maxBodyBytes", 10, "must be greater than 0"),
        ("server.tls", 11, "give both certFile and keyFile, or neither"),
        ("deadlines.fetchSeconds", 12, "must not exceed deadlines.requestSeconds (2)"),
        ("cache.failureTtlSeconds", 13, "must not be negative"),
        ("cache.ttlSeconds", 13, "must not be negative"),
        ("secretsDir", 14, "must not be empty"),
    ]
    assert problems(STATIC + "deadlines: {requestSeconds: 0, fetchSeconds: 0}\n") == [
        ("deadlines.fetchSeconds", 8, "must be greater than 0"),
        ("deadlines.requestSeconds", 8, "must be greater than 0"),
    ]
    assert problems(STATIC + "server: {listen: 'host:70000'}\n") == [
        ("server.listen", 8, "must be HOST:PORT (port 0-65535), got 'host:70000'")
    ]


# --- Connaisseur's layouts -------------------------------------------------------------------

CONNAISSEUR_V3 = """\
kubernetes:
  deployment: {replicasCount: 3}
application:
  validators:
    - name: allow
      type: static
      approve: true
  policy:
    - pattern: "*:*"
      validator: allow
  features:
    detectionMode: true
    namespacedValidation: {mode: validate}
    resourceValidationMode: podsOnly
    cache:
      expirySeconds: 30
      cacheErrors: false
  logLevel: WARN
  logFormat: json-pretty
"""


def test_connaisseur_v3_layout_maps_onto_kenner_settings() -> None:
    config = load_config(CONNAISSEUR_V3)
    assert config.validators == (StaticValidatorConfig(name="allow", approve=True),)
    # podsOnly turns the defaulted child approval off (issue 11 point 1).
    assert config.features == Features(
        detection_mode=True, automatic_child_approval=False, resource_validation_mode="podsOnly"
    )
    assert config.cache == CacheConfig(ttl_s=30.0, failure_ttl_s=0.0)
    assert config.log == LogConfig(level="warning", format="json")


def test_connaisseur_v3_errors_name_the_application_path() -> None:
    text = CONNAISSEUR_V3.replace("approve: true", "approve: maybe").replace(
        "expirySeconds: 30", "expirySeconds: soon"
    )
    assert problems(text) == [
        ("application.validators[0].approve", 7, "must be true or false, got a string"),
        ("application.features.cache.expirySeconds", 16, "must be a number, got a string"),
    ]
    assert problems(CONNAISSEUR_V3.replace("  logLevel", "  server: {}\n  logLevel")) == [
        (
            "application.server",
            18,
            "unknown key 'server' (expected one of validators, policy, features, logLevel,"
            " logFormat)",
        )
    ]
    assert problems(CONNAISSEUR_V3 + "alerting: {clusterIdentifier: ''}\n") == [
        ("alerting.clusterIdentifier", 20, "must not be empty")
    ]
    assert problems(CONNAISSEUR_V3.replace("cacheErrors: false", "cacheError: false")) == [
        (
            "application.features.cache.cacheError",
            17,
            "unknown key 'cacheError' (did you mean 'cacheErrors'?)",
        )
    ]
    assert problems(CONNAISSEUR_V3.replace("logFormat: json-pretty", "logFormat: xml")) == [
        ("application.logFormat", 19, "must be one of json, text, got 'xml'")
    ]


def test_connaisseur_v2_layout_and_snake_case_aliases() -> None:
    text = f"""\
deployment: {{replicasCount: 3}}
service: {{port: 443}}
validators:
  - name: default
    type: notaryv1
    host: notary.docker.io
    trust_roots:
      - name: default
        key: |
{_block(P256, 10)}
    auth: {{secret_name: creds}}
policy:
  - pattern: "*:*"
    with: {{trust_root: default, delegations: [phbelitz]}}
detectionMode: true
namespacedValidation: {{enabled: false}}
automaticChildApproval: {{enabled: false}}
automaticUnchangedApproval: true
logLevel: INFO
"""
    config = load_config(text)
    validator = config.validators[0]
    assert isinstance(validator, NotaryV1ValidatorConfig)
    assert validator.trust_roots == (TrustRoot("default", P256),)
    assert validator.auth == Auth(secret_name="creds")
    assert config.policy[0].options == RuleOptions(
        trust_root="default", delegations=("targets/phbelitz",)
    )
    assert config.features == Features(
        detection_mode=True, automatic_unchanged_approval=True, automatic_child_approval=False
    )
    assert config.log.level == "info"
    broken = text.replace("trust_root: default", "trust_root: nope")
    assert problems(broken) == [
        ("policy[0].with.trust_root", 18, "trust root 'nope' is not defined by validator 'default'")
    ]
    both = text.replace("    trust_roots:", "    trustRoots: []\n    trust_roots:")
    assert problems(both) == [
        ("validators[0].trust_roots", 8, "give either 'trust_roots' or 'trustRoots', not both")
    ]


# --- Connaisseur's real files, the examples and the built-in default -------------------------


def test_connaisseur_helm_values_at_head_load() -> None:
    config = load_config_file(connaisseur_fixtures() / "config/charts_connaisseur_values_HEAD.yaml")
    assert [v.name for v in config.validators] == ["allow", "deny", "dockerhub"]
    dockerhub = config.validators[2]
    assert isinstance(dockerhub, NotaryV1ValidatorConfig)
    assert dockerhub.host == "https://notary.docker.io"
    assert [root.name for root in dockerhub.trust_roots] == ["sse"]
    assert [(rule.pattern, rule.validator) for rule in config.policy] == [
        ("*:*", "deny"),
        (
            "docker.io/library/redis@sha256:"
            "83edc2b8e9ffb1781a67bdab260a94674f802881838e20bba0f9a69d8cb40d70",
            "allow",
        ),
        ("docker.io/securesystemsengineering/*:*", "dockerhub"),
        ("registry.k8s.io/*:*", "allow"),
    ]
    assert config.policy[2].options.trust_root == "sse"
    assert config.features == Features()
    assert config.cache.ttl_s == 30.0
    assert config.log == LogConfig(level="info", format="json")


def _file_problems(path: Path) -> list[tuple[str, int | None, str]]:
    with pytest.raises(ConfigError) as info:
        load_config_file(path)
    assert str(info.value).startswith(f"{path}:")
    return [(p.path, p.line, p.message) for p in info.value.problems]


def test_connaisseur_configs_that_cannot_load_say_why() -> None:
    config_dir = connaisseur_fixtures() / "config"
    # The v2.8.1 chart ships the "default" validator with its trust roots commented out.
    assert _file_problems(config_dir / "helm_values_v2.8.1.yaml") == [
        ("validators[2].trust_roots", 100, "must be a list, got null")
    ]
    # Its cosign validator loads; two notaryv1 validators have no roots and 'dockerhub' is
    # not defined.
    sample_problems = _file_problems(config_dir / "python_sample_config_v2.8.1.yaml")
    assert [(path, line) for path, line, _ in sample_problems] == [
        ("validators[6].trust_roots", 77),
        ("validators[7].trust_roots", 81),
        ("policy[1].validator", 87),
        ("policy[4].validator", 95),
        ("policy[5].validator", 99),
        ("policy[9].validator", 109),
    ]
    # The Go handler tests route images to mock validators their config does not define.
    assert _file_problems(config_dir / "go_10_mutate_test.yaml") == [
        ("policy[0].validator", 10, "validator 'mock' used by policy[0] is not defined")
    ]
    assert _file_problems(config_dir / "go_12_mutate_test_cached.yaml") == [
        ("policy[0].validator", 7, "validator 'notImplemented' used by policy[0] is not defined")
    ]


def _with_validator(validator_file: Path) -> str:
    """A kenner config around one of Connaisseur's single-validator test files."""
    validator = yaml.safe_load(validator_file.read_text())
    rule = {"pattern": "*:*", "validator": validator["name"], "with": {"trustRoot": "*"}}
    return yaml.safe_dump({"validators": [validator], "policy": [rule]}, sort_keys=False)


def _validator_problems(relative: str) -> list[tuple[str, str]]:
    text = _with_validator(connaisseur_fixtures() / relative)
    return [(path, message) for path, _, message in problems(text)]


def test_connaisseur_notaryv1_validator_configs() -> None:
    def load(name: str) -> NotaryV1ValidatorConfig:
        path = connaisseur_fixtures() / "notaryv1/validator_configs" / name
        validator = load_config(_with_validator(path)).validators[0]
        assert isinstance(validator, NotaryV1ValidatorConfig)
        return validator

    hub = load("01_notaryv1.yaml")
    assert (hub.host, [r.name for r in hub.trust_roots]) == (
        "https://notary.docker.io",
        ["default", "sse"],
    )
    assert [r.name for r in load("06_rsa_key.yaml").trust_roots] == ["rsa"]
    assert load("08_never_expire_notary.yaml").name == "default"
    assert _validator_problems("notaryv1/validator_configs/09_extra_chars.yaml") == [
        (
            "validators[0].trustRoots[0].key",
            "trust root 'moreLines': key must be exactly one PEM public key"
            " ('-----BEGIN PUBLIC KEY-----' ... '-----END PUBLIC KEY-----')"
            " with nothing else around it",
        )
    ]
    [(path, message)] = _validator_problems("notaryv1/validator_configs/10_unknown_keys.yaml")
    assert path == "validators[0].trustRoots[0].key"
    assert message.startswith("trust root 'dilithium': key cannot be loaded as a public key")


def test_connaisseur_notation_validator_configs() -> None:
    def load(name: str) -> NotationValidatorConfig:
        path = connaisseur_fixtures() / "notation/validator_configs" / name
        validator = load_config(_with_validator(path)).validators[0]
        assert isinstance(validator, NotationValidatorConfig)
        return validator

    first = load("01_notation.yaml")
    assert (first.name, first.type) == ("ghcr-notation", "notation")
    assert [root.name for root in first.trust_roots] == ["default", "different-cert"]
    assert load("07_selfsigned_cert.yaml").cert is not None  # the mock registry's TLS CA
    [tsa] = load("08_tsa_cert.yaml").trust_roots
    assert tsa.ts_cert is not None
    assert "DigiCert Trusted Root G4" in str(
        [c.subject.rfc4514_string() for c in x509.load_pem_x509_certificates(tsa.ts_cert.encode())]
    )


@pytest.mark.parametrize("name", ["static.yaml", "notaryv1.yaml", "connaisseur-values.yaml"])
def test_examples_load_and_round_trip(name: str) -> None:
    config = load_config_file(EXAMPLES / name)
    assert any(rule.pattern == "*:*" for rule in config.policy)
    assert load_config(dump_config(config)) == config


def test_default_config_allows_only_kubernetes_images() -> None:
    config = default_config()
    assert config.validators == (
        StaticValidatorConfig(name="allow", approve=True),
        StaticValidatorConfig(name="deny", approve=False),
    )
    assert [(rule.pattern, rule.validator) for rule in config.policy] == [
        ("*:*", "deny"),
        ("registry.k8s.io/*:*", "allow"),
    ]


def test_anchors_and_aliases_are_read_once() -> None:
    nested = "".join(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]\n" for i in range(1, 30))
    text = "l0: &l0 [x]\n" + nested + STATIC
    found = problems(text)
    assert [(path, line) for path, line, _ in found] == [(f"l{i}", i + 1) for i in range(30)]
    assert found[0][2].startswith("unknown key 'l0'")


def test_serving_limits_are_checked() -> None:
    settings = """\
server:
  maxBodyBytes: 2048
  maxBufferedBodyBytes: 1024
  bodyReadSeconds: 0
  maxConnections: 0
  shutdownGraceSeconds: -1
"""
    assert problems(STATIC + settings) == [
        ("server.maxBufferedBodyBytes", 10, "must be at least server.maxBodyBytes (2048)"),
        ("server.bodyReadSeconds", 11, "must be greater than 0"),
        ("server.maxConnections", 12, "must be greater than 0"),
        ("server.shutdownGraceSeconds", 13, "must be greater than 0"),
    ]
