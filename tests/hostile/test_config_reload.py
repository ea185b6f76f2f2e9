"""Issue 11 point 12: config checks are the runtime's checks; a reload never ends the daemon.

Each test names the hole it closes; every one failed on the base commit (69dca0b). What
check-config accepted there and the runtime then refused:

* a Notary root that is an RSA key under 2048 bits (SIGHUP: the process exited);
* a CA bundle OpenSSL refuses: a non-ASCII comment (TypeError at build), indented PEM lines
  (cosign ``registryCerts``: every request to that registry failed);
* an alert header value with a non-ASCII character (the first alert ended the daemon);
* ``.nan`` / ``.inf`` seconds (trio refuses a NaN deadline at the first request);
* what only serve read: a missing secret, unusable TLS files, an unusable kubeconfig.

And: a reload whose build raised anything but ConfigError/OSError ended the daemon; a bug in a
validator's load was remembered as its outcome. Most configurations are written as JSON (JSON
is YAML).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import trio
import trustme
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

import kenner.server.serve
from kenner.admission.decision import ImageCheck
from kenner.admission.image import parse_image
from kenner.admission.verdict import Untrusted
from kenner.cli import main
from kenner.config.model import Config, Rule, RuleOptions
from kenner.net.cache import TtlCache
from kenner.net.loader import CachedLoader, Loaded
from kenner.oci.dockerconfig import RegistryLogins
from kenner.server.serve import ServeOptions, run_daemon
from kenner.validators.build import BuiltValidators, Runtime
from kenner.validators.run import validate_checks
from tests.loopback.daemon import RunningDaemon, client_context, issue_certificate, start_daemon
from tests.support.reviews import pod_review

ALLOW = {"name": "allow", "type": "static", "approve": True}
ALLOW_PAUSE = {"pattern": "registry.k8s.io/*:*", "validator": "allow"}
ALLOW_NGINX = {"pattern": "docker.io/library/nginx:*", "validator": "allow"}


def _pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return public.decode()


def rsa_1024_pem() -> str:
    return _pem(rsa.generate_private_key(public_exponent=65537, key_size=1024))


def p256_pem() -> str:
    return _pem(ec.generate_private_key(ec.SECP256R1()))


def notary(key_pem: str, **extra: object) -> dict[str, object]:
    return {
        "name": "notary",
        "type": "notaryv1",
        "host": "notary.example",
        "trustRoots": [{"name": "default", "key": key_pem}],
        **extra,
    }


def write(path: Path, validators: list[dict[str, object]], **settings: object) -> Path:
    """A configuration admitting registry.k8s.io, and docker.io by Notary if it has one."""
    policy: list[dict[str, str]] = [ALLOW_PAUSE]
    if any(validator["name"] == "notary" for validator in validators):
        policy.append({"pattern": "docker.io/*:*", "validator": "notary"})
    path.write_text(json.dumps({"validators": validators, "policy": policy, **settings}))
    return path


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """``main`` points the root logger at the (captured) stderr: undo that after each test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def check_config(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exited:
        main(["check-config", *args])
    code = exited.value.code
    assert isinstance(code, int)
    return code, capsys.readouterr().err


def test_rsa_1024_notary_root_fails_check_config_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 11 point 12: an RSA-1024 Notary root passed check-config (and killed the daemon on
    SIGHUP); check-config now reads it with the validator's reader and names key and line."""
    config = write(tmp_path / "kenner.yaml", [ALLOW, notary(rsa_1024_pem())])
    code, err = check_config(capsys, str(config))
    assert code == 2
    assert "kenner.yaml:1: validators[1].trustRoots[0].key:" in err
    assert "RSA key of 1024 bits (< 2048)" in err
    assert "Traceback" not in err


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def daemon(tmp_path: Path, ca: trustme.CA) -> Iterator[RunningDaemon]:
    config = write(tmp_path / "kenner.yaml", [ALLOW, notary(p256_pem())])
    running = start_daemon(tmp_path, config, ca)
    yield running
    running.stop()


async def _allowed(url: str, context: ssl.SSLContext, image: str) -> bool:
    async with httpx.AsyncClient(verify=context) as client:
        review = pod_review(image, uid="u", container_name="c")
        response = await client.post(f"{url}/mutate", json=review)
    assert response.status_code == 200
    return bool(response.json()["response"]["allowed"])


async def test_sighup_with_an_rsa_1024_root_keeps_the_daemon_serving_the_old_config(
    daemon: RunningDaemon, ca: trustme.CA, tmp_path: Path
) -> None:
    """Issue 11 point 12: SIGHUP with an RSA-1024 Notary root ended ``kenner serve`` (the
    KeyFormatError escaped the signal handler); now the reload is refused with one error line
    naming the key and the old configuration keeps serving."""
    context = client_context(ca)
    assert await _allowed(daemon.url, context, "registry.k8s.io/pause:3.9")
    write(tmp_path / "kenner.yaml", [ALLOW, notary(rsa_1024_pem())])
    daemon.process.send_signal(signal.SIGHUP)
    daemon.wait_for_log("reload refused")
    [refused] = [line for line in daemon.log_lines() if "reload refused" in str(line["message"])]
    assert refused["level"] == "error"
    assert "validators[1].trustRoots[0].key" in str(refused["message"])
    assert daemon.process.poll() is None
    assert await _allowed(daemon.url, context, "registry.k8s.io/pause:3.9")
    assert not await _allowed(daemon.url, context, "docker.io/library/nginx:1.27")

    # and a good configuration is still taken afterwards: the signal handler lives on
    config = json.loads((tmp_path / "kenner.yaml").read_text())
    config["validators"] = [ALLOW]
    config["policy"] = [ALLOW_PAUSE, ALLOW_NGINX]
    (tmp_path / "kenner.yaml").write_text(json.dumps(config))
    daemon.process.send_signal(signal.SIGHUP)
    daemon.wait_for_log("configuration and certificate reloaded")
    assert await _allowed(daemon.url, context, "docker.io/library/nginx:1.27")


class _Refusals(logging.Handler):
    """Collects the "reload refused/failed" records and wakes the test at the first one."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []
        self.seen = trio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if "previous configuration keeps serving" in record.getMessage():
            self.records.append(record)
            self.seen.set()


@pytest.fixture
async def in_process(tmp_path: Path, ca: trustme.CA) -> AsyncIterator[tuple[str, Path]]:
    """``run_daemon`` in this process (real sockets, real signal handler), its URL."""
    config = write(tmp_path / "kenner.yaml", [ALLOW])
    cert, key = issue_certificate(ca, tmp_path)
    options = ServeOptions(str(config), "127.0.0.1:0", str(cert), str(key))
    async with trio.open_nursery() as nursery:
        # Cancelled from outside at the end: the daemon must still close its sockets.
        binds = await nursery.start(run_daemon, options)
        yield binds[0], config
        nursery.cancel_scope.cancel()


async def test_a_reload_whose_build_raises_a_bug_keeps_serving(
    in_process: tuple[str, Path], ca: trustme.CA, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 11 point 12: a reload that failed with anything but ConfigError/OSError ended the
    daemon; now any failure is logged (a bug with its traceback) and the old config serves."""
    url, config = in_process
    context = client_context(ca)

    def broken_build(
        config: Config, runtime: Runtime, previous: object = None, **options: object
    ) -> BuiltValidators:
        raise ZeroDivisionError("a bug in building the validators")

    config.write_text(config.read_text().replace("registry.k8s.io/*:*", "*:*"))
    monkeypatch.setattr(kenner.server.serve, "build_validators", broken_build)
    refusals = _Refusals()
    logger = logging.getLogger("kenner.server.serve")
    logger.addHandler(refusals)
    try:
        os.kill(os.getpid(), signal.SIGHUP)  # the daemon's own signal handler takes it
        with trio.fail_after(10):
            await refusals.seen.wait()
    finally:
        logger.removeHandler(refusals)
    [record] = refusals.records
    assert record.exc_info is not None
    assert record.exc_info[0] is ZeroDivisionError
    assert await _allowed(url, context, "registry.k8s.io/pause:3.9")
    assert not await _allowed(url, context, "docker.io/library/nginx:1.27")  # old policy


NON_ASCII_COMMENT = "# Zertifizierungsstelle für die Registry\n"


def test_a_ca_bundle_openssl_refuses_fails_check_config(
    tmp_path: Path, ca: trustme.CA, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 11 point 12: a notaryv1 ``cert`` with a non-ASCII comment passed check-config;
    building the validator then raised TypeError from OpenSSL's loader (SIGHUP: the daemon
    exited; at start: a traceback). The loader now refuses it, naming the key."""
    bundle = NON_ASCII_COMMENT + ca.cert_pem.bytes().decode()
    config = write(tmp_path / "kenner.yaml", [ALLOW, notary(p256_pem(), cert=bundle)])
    code, err = check_config(capsys, str(config))
    assert code == 2
    assert "validators[1].cert" in err
    assert "ASCII" in err


def test_indented_pem_lines_in_a_cosign_registry_cert_fail_check_config(
    tmp_path: Path, ca: trustme.CA, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 11 point 12: indented PEM lines parse with ``cryptography`` but OpenSSL finds no
    certificate in them; a cosign ``registryCerts`` entry like that passed check-config and
    failed every admission request to that registry (an "internal error", cached)."""
    indented = "".join(f"  {line}\n" for line in ca.cert_pem.bytes().decode().splitlines())
    cosign = {
        "name": "cosign",
        "type": "cosign",
        "trustRoots": [{"name": "default", "key": p256_pem()}],
        "registryCerts": {"registry.example:5000": indented},
    }
    rule = {
        "pattern": "registry.example:5000/*",
        "validator": "cosign",
        "with": {"verifyInTransparencyLog": False},
    }
    config = tmp_path / "kenner.yaml"
    config.write_text(json.dumps({"validators": [ALLOW, cosign], "policy": [ALLOW_PAUSE, rule]}))
    code, err = check_config(capsys, str(config))
    assert code == 2
    assert "registryCerts.registry.example:5000" in err
    assert "indented" in err


def test_a_missing_secret_fails_check_config_as_it_fails_serve(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 11 point 12: check-config did not read ``secretsDir``; a validator whose secret is
    missing passed it and then stopped ``kenner serve`` at start."""
    validator = notary(p256_pem(), auth={"secretName": "notary-login"})
    config = write(tmp_path / "kenner.yaml", [ALLOW, validator], secretsDir=str(tmp_path))
    code, err = check_config(capsys, str(config))
    assert code == 2
    assert "validators[1] ('notary'): secret 'notary-login'" in err
    assert check_config(capsys, str(config), "--content-only")[0] == 0  # what --content-only skips


def test_unusable_tls_files_fail_check_config_as_they_fail_serve(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 11 point 12: check-config did not load ``server.tls``; a certificate file that
    is not one passed it and then stopped ``kenner serve`` at start."""
    (tmp_path / "tls.crt").write_text("not a certificate\n")
    (tmp_path / "tls.key").write_text("not a key\n")
    tls = {"certFile": str(tmp_path / "tls.crt"), "keyFile": str(tmp_path / "tls.key")}
    config = write(tmp_path / "kenner.yaml", [ALLOW], server={"tls": tls})
    code, err = check_config(capsys, str(config))
    assert code == 2
    assert "server.tls: cannot load" in err


def test_an_unusable_kubeconfig_fails_check_config_as_it_fails_serve(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 11 point 12: check-config did not resolve the Kubernetes API access; a kubeconfig
    kenner refuses (here an exec credential plugin) passed it and then stopped serve."""
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "current-context": "c",
                "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
                "clusters": [{"name": "k", "cluster": {"server": "https://127.0.0.1:6443"}}],
                "users": [{"name": "u", "user": {"exec": {"command": "get-token"}}}],
            }
        )
    )
    kubernetes = {
        "enabled": True,
        "kubeconfig": str(kubeconfig),
        "webhook": {"url": "https://kenner.example:8443/mutate"},
    }
    config = write(tmp_path / "kenner.yaml", [ALLOW], kubernetes=kubernetes)
    code, err = check_config(capsys, str(config))
    assert code == 2
    assert "kubernetes:" in err
    assert "exec credential plugins are not supported" in err


def test_a_non_ascii_alert_header_value_fails_check_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 11 point 12: an alert receiver's ``customHeaders`` value with a non-ASCII
    character passed check-config; the first alert then raised UnicodeEncodeError in the HTTP
    client, which ended ``kenner serve`` (the process exited after the first denied request).
    The loader now refuses it, naming the header, not its value."""
    receiver = {
        "template": "slack",
        "receiverUrl": "https://127.0.0.1:9/hook",
        "customHeaders": ["X-Team: Z\u00fcrich"],
    }
    alerting = {"rejectRequest": {"receivers": [receiver]}}
    config = write(tmp_path / "kenner.yaml", [ALLOW], alerting=alerting)
    code, err = check_config(capsys, str(config))
    assert code == 2
    assert "alerting.rejectRequest.receivers[0].customHeaders[0]" in err
    assert "must be ASCII only" in err
    assert "rich" not in err  # header values may be tokens: never quoted


@pytest.mark.parametrize(
    ("setting", "key"),
    [
        ("deadlines: {requestSeconds: .nan}", "deadlines.requestSeconds"),
        ("deadlines: {requestSeconds: .inf, fetchSeconds: .inf}", "deadlines.requestSeconds"),
        ("cache: {ttlSeconds: .nan}", "cache.ttlSeconds"),
        ("alerting: {sendTimeoutSeconds: .nan}", "alerting.sendTimeoutSeconds"),
    ],
)
def test_a_number_that_is_not_finite_fails_check_config(
    setting: str, key: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 11 point 12: YAML's ``.nan`` passed every "must be greater than 0" check; with
    ``deadlines.requestSeconds: .nan`` every request that reached a Notary or cosign validator
    raised trio's "deadline must not be NaN" (no answer); ``.inf`` seconds is a hang."""
    config = tmp_path / "kenner.yaml"
    config.write_text(
        "validators: [{name: allow, type: static, approve: true}]\n"
        "policy: [{pattern: '*:*', validator: allow}]\n" + setting + "\n"
    )
    code, err = check_config(capsys, str(config))
    assert code == 2
    assert f"kenner.yaml:3: {key}: must be a finite number" in err


class _BrokenLoad:
    """A validator whose load has a bug (a KeyError), counting its loads."""

    name = "broken"

    def __init__(self, nursery: trio.Nursery) -> None:
        cache: TtlCache[str, str] = TtlCache(ttl_s=60, failure_ttl_s=60, max_entries=8)
        self.loader: CachedLoader[str, str] = CachedLoader(cache, nursery, work_deadline_s=5)
        self.loads = 0

    def answer_now(
        self, image: object, options: object, pull_logins: RegistryLogins | None = None
    ) -> None:
        return None

    async def answer(
        self, image: object, options: object, pull_logins: RegistryLogins | None = None
    ) -> Untrusted:
        async def load() -> Loaded[str]:
            self.loads += 1
            known: dict[str, str] = {}
            return Loaded(known["missing"])  # the bug: a KeyError

        return Untrusted(await self.loader.get("key", load))


async def test_a_bug_in_a_validator_denies_with_internal_error_and_is_not_cached(
    nursery: trio.Nursery, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 11 point 12: a bug inside a load was remembered as the load's outcome for
    ``cache.failureTtlSeconds``; it now denies that image ("internal error", traceback logged)
    and is not cached, so the next request tries again."""
    validator = _BrokenLoad(nursery)
    check = ImageCheck(parse_image("nginx:1.27"), Rule("*", "broken", RuleOptions()), ())
    for _ in range(2):
        verdicts = await validate_checks([check], {"broken": validator}, trio.current_time() + 5)
        verdict = verdicts[check.key]
        assert isinstance(verdict, Untrusted)
        assert verdict.reason == "internal error in validator 'broken'"
    assert validator.loads == 2
    assert any(r.exc_info and r.exc_info[0] is KeyError for r in caplog.records)
