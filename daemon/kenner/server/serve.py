"""The daemon: one trio.run, a root nursery with the HTTPS server and the signal handler.

- hypercorn's trio worker serves the ASGI app over TLS 1.2+.
- SIGHUP reloads the configuration and the certificate together: both are loaded and checked
  first, then swapped at once. A bad new configuration or certificate is refused with a log
  line and the old one keeps serving. Requests in flight keep the snapshot they started with.
- Connections are accepted by ``kenner.server.connections`` (one connection's failure is its
  own; at most ``server.maxConnections`` at once). At start the soft file-descriptor limit is
  raised (up to the hard limit) to fit that cap plus ``SPARE_FDS``; a limit that cannot fit is
  logged as a warning.
- SIGTERM / SIGINT stop accepting connections, close idle ones and let requests in flight
  finish for at most ``server.shutdownGraceSeconds``.
- The watchdog (``kenner.watchdog``) records readiness before the server starts; under systemd
  the daemon sends READY=1 once serving, RELOADING=1/READY=1 around a reload, STOPPING=1 on
  shutdown and WATCHDOG=1 pings from the trio loop (``kenner.sdnotify``).
"""

from __future__ import annotations

import logging
import os
import resource
import signal
import socket
import ssl
import tempfile
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

import attrs
import httpx
import trio
from hypercorn.config import Config as HypercornConfig

from kenner.alerting.sender import AlertDispatcher, open_alert_sender
from kenner.app.state import DaemonState, Snapshot
from kenner.certs import self_signed_certificate
from kenner.config.errors import ConfigError
from kenner.config.load import default_config, load_config_file
from kenner.config.model import Config
from kenner.errors import KennerError
from kenner.kube.access import KubeAccessError, resolve_access
from kenner.kube.client import KubeClient
from kenner.metrics import Metrics
from kenner.offload import in_worker_thread
from kenner.sdnotify import Notifier, ping_watchdog, watchdog_period_s
from kenner.server.app import MetricsApp, WebhookApp
from kenner.server.connections import ServeLimits, serve
from kenner.server.memory import settle_after_start
from kenner.validators.build import BuiltValidators, Runtime, build_validators, open_runtime
from kenner.validators.driver import Driven
from kenner.watchdog import Probes, readiness_summary, run_watchdog

log = logging.getLogger(__name__)

# Descriptors beyond the connection cap: listeners, outgoing fetches, files, the event loop.
SPARE_FDS = 256


@attrs.frozen
class ServeOptions:
    """Command-line choices; the flags override the configuration file, also on reload."""

    config_path: str | None = None
    listen: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    kubeconfig: str | None = None


@attrs.frozen
class TlsFiles:
    cert: str
    key: str


class ReloadableTlsConfig(HypercornConfig):
    """A hypercorn config that keeps the SSL context it creates, so SIGHUP can reload it.

    hypercorn builds its context once; loading a new chain into that same context makes every
    later handshake use the new certificate.
    """

    ssl_context: ssl.SSLContext | None = None

    def create_ssl_context(self) -> ssl.SSLContext | None:
        self.ssl_context = super().create_ssl_context()
        return self.ssl_context


def load_settings(options: ServeOptions) -> Config:
    """The configuration file (or the embedded default) with the flags applied."""
    config = load_config_file(options.config_path) if options.config_path else default_config()
    server = config.server
    if options.listen:
        server = attrs.evolve(server, listen=options.listen)
    if options.tls_cert or options.tls_key:
        tls = attrs.evolve(
            server.tls,
            cert_file=options.tls_cert or server.tls.cert_file,
            key_file=options.tls_key or server.tls.key_file,
        )
        server = attrs.evolve(server, tls=tls)
    kubernetes = config.kubernetes
    if options.kubeconfig:
        kubernetes = attrs.evolve(kubernetes, kubeconfig=options.kubeconfig)
    return attrs.evolve(config, server=server, kubernetes=kubernetes)


@attrs.frozen
class Prepared:
    """A loaded configuration made ready to serve: its certificate files and its validators."""

    config: Config
    files: TlsFiles
    validators: BuiltValidators


def prepare(
    config: Config, runtime: Runtime, scratch: Path, previous: Mapping[str, Driven] | None = None
) -> Prepared:
    """What a reload and ``kenner check-config`` do with a loaded configuration before serving
    it: load the certificate pair, build the validators (keys, CA bundles, secrets).

    Raises:
        KennerError: the configuration cannot be served (a ``ConfigError`` naming the key).
        OSError: a self-signed certificate cannot be written to ``scratch``.
    """
    files = tls_files(config, scratch)
    check_tls_files(files)
    return Prepared(config, files, build_validators(config, runtime, previous=previous))


async def check_settings(options: ServeOptions, *, content_only: bool = False) -> Config:
    """``kenner check-config``: the steps ``serve`` takes with a configuration before serving
    it (``load_settings``, ``prepare``, the Kubernetes API access), with the network closed.

    ``content_only`` leaves out what exists only where kenner runs: the TLS files, the
    secrets of ``secretsDir`` and the Kubernetes API access.

    Raises:
        KennerError: what ``serve`` would fail with (a ``ConfigError`` naming the key).
    """
    config = load_settings(options)
    async with open_runtime(transport=_NO_NETWORK) as runtime:
        if content_only:
            build_validators(config, runtime, read_secrets=False)
            return config
        with tempfile.TemporaryDirectory(prefix="kenner-check-") as scratch:
            prepare(config, runtime, Path(scratch))
        async with _kube_client(config):
            pass  # resolving the access and making the client is the check; no request
    return config


def _refuse_requests(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("check-config opens no connections", request=request)


_NO_NETWORK = httpx.MockTransport(_refuse_requests)


def tls_files(config: Config, scratch: Path) -> TlsFiles:
    """The certificate to serve; a fresh self-signed one when none is configured."""
    tls = config.server.tls
    if tls.cert_file and tls.key_file:
        return TlsFiles(tls.cert_file, tls.key_file)
    if tls.cert_file or tls.key_file:
        raise ConfigError("server.tls: certFile and keyFile must be given together")
    cert, key = scratch / "self-signed.crt", scratch / "self-signed.key"
    if cert.exists():  # a reload keeps the certificate made at start
        return TlsFiles(str(cert), str(key))
    cert_pem, key_pem = self_signed_certificate(["localhost", "127.0.0.1"])
    cert.write_bytes(cert_pem)
    key.touch(mode=0o600)
    key.write_bytes(key_pem)
    log.warning(
        "no TLS certificate configured: serving a self-signed certificate",
        extra={"fields": {"certificate": str(cert)}},
    )
    return TlsFiles(str(cert), str(key))


def check_tls_files(files: TlsFiles) -> None:
    """Load the pair into a scratch context so a bad file is refused before it is used."""
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(files.cert, files.key)
    except (OSError, ssl.SSLError) as error:
        raise ConfigError(f"server.tls: cannot load {files.cert} / {files.key}: {error}") from None


async def run_daemon(
    options: ServeOptions,
    shutdown: trio.Event | None = None,
    *,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve until SIGTERM/SIGINT (or ``shutdown`` is set); then drain and return.

    ``task_status.started`` receives the bound URLs, so ``nursery.start`` learns the port
    when listening on port 0.
    """
    shutdown = shutdown if shutdown is not None else trio.Event()  # Events refuse bool()
    config = load_settings(options)
    if config.proof.key_file is None:
        log.warning(
            "no proof.keyFile configured: validation proofs use a random key of this process; "
            "they do not survive a restart or span replicas, so children of owners admitted "
            "elsewhere are validated in full"
        )
    with tempfile.TemporaryDirectory(prefix="kenner-") as scratch_dir:
        scratch = Path(scratch_dir)
        files = tls_files(config, scratch)
        check_tls_files(files)
        hypercorn_config = _hypercorn_config(config, files)
        _fit_file_limit(config.server.max_connections + SPARE_FDS)
        notifier = Notifier.from_environment()
        metrics = Metrics()
        async with (
            open_runtime() as runtime,
            _kube_client(config) as kube,
            open_alert_sender(metrics) as alert_sender,
            trio.open_nursery() as nursery,
        ):
            state = DaemonState(
                Snapshot(config, build_validators(config, runtime), kube=kube),
                metrics=metrics,
                alerts=AlertDispatcher(alert_sender, pod_id=_pod_id()),
            )
            metrics.watch_redis(
                lambda: (
                    None if runtime.redis.current is None else runtime.redis.current.statistics()
                )
            )
            app = WebhookApp(state)
            reloader = Reloader(options, state, hypercorn_config, scratch, runtime, notifier)
            nursery.start_soon(_handle_signals, reloader, shutdown)
            period_s = watchdog_period_s()
            if period_s is not None:
                nursery.start_soon(ping_watchdog, notifier, period_s)
            probes = Probes(kube, ServingCertificate(state, scratch), runtime.fetchers)
            await nursery.start(run_watchdog, state, probes, notifier)
            settle_after_start()
            async with trio.open_nursery() as server_nursery:
                limits = ServeLimits(config.server.max_connections, config.server.shutdown_grace_s)
                binds = await server_nursery.start(serve, app, hypercorn_config, limits, shutdown)
                if config.server.metrics_listen is not None:
                    metrics_config = _metrics_config(config.server.metrics_listen)
                    metrics_binds = await server_nursery.start(
                        serve, MetricsApp(state), metrics_config, limits, shutdown
                    )
                    log.info("metrics are served", extra={"fields": {"binds": metrics_binds}})
                state.set_condition("serving", True, "webhook is serving", time.time())
                log.info("kenner is serving", extra={"fields": {"binds": binds}})
                notifier.send("READY=1", f"STATUS={readiness_summary(state)}")
                task_status.started(binds)
                await shutdown.wait()
                notifier.send("STOPPING=1")
                state.set_condition("serving", False, "shutting down", time.time())
            # Requests in flight are drained (or the grace is over): nothing is left to wait for.
            nursery.cancel_scope.cancel()


@asynccontextmanager
async def _kube_client(config: Config) -> AsyncIterator[KubeClient | None]:
    """The API client when ``kubernetes.enabled``, else None; access problems are ConfigErrors."""
    if not config.kubernetes.enabled:
        yield None
        return
    try:
        client = KubeClient(resolve_access(config.kubernetes.kubeconfig))
    except KubeAccessError as error:
        raise ConfigError(f"kubernetes: {error}") from None
    async with client:
        yield client


class ServingCertificate:
    """The certificate chain kenner serves now, for the watchdog's every tick.

    The file is read again only when what ``os.stat`` says of it changes (inode, size,
    modification time) or a reload names another file: a renewal replaces it (a new inode
    when Kubernetes updates a mounted Secret, a new mtime when it is rewritten), an
    unchanged file costs one ``stat`` per tick.
    """

    def __init__(self, state: DaemonState, scratch: Path) -> None:
        self._state = state
        self._scratch = scratch
        self._seen: tuple[str, int, int, int] | None = None
        self._chain = b""

    def __call__(self) -> bytes:
        path = tls_files(self._state.snapshot.config, self._scratch).cert
        status = os.stat(path)
        seen = (path, status.st_ino, status.st_size, status.st_mtime_ns)
        if seen != self._seen:
            # Read after the stat: a change in between is seen (and read) on the next call.
            self._chain = Path(path).read_bytes()
            self._seen = seen
        return self._chain


def _hypercorn_config(config: Config, files: TlsFiles) -> ReloadableTlsConfig:
    hypercorn_config = ReloadableTlsConfig()
    hypercorn_config.bind = [config.server.listen]
    hypercorn_config.certfile = files.cert
    hypercorn_config.keyfile = files.key
    # A client gets body_read_s for its TLS handshake as for its request body (docs/serving.md).
    hypercorn_config.ssl_handshake_timeout = config.server.body_read_s
    hypercorn_config.accesslog = None
    hypercorn_config.errorlog = logging.getLogger("hypercorn.error")
    return hypercorn_config


def _metrics_config(listen: str) -> HypercornConfig:
    """Plain HTTP for the separate metrics listener: scrapes carry nothing secret."""
    metrics_config = HypercornConfig()
    metrics_config.bind = [listen]
    metrics_config.accesslog = None
    metrics_config.errorlog = logging.getLogger("hypercorn.error")
    return metrics_config


def _fit_file_limit(needed: int) -> None:
    """Raise the soft RLIMIT_NOFILE to ``needed`` when it is lower (a container often starts
    with 1024); never above the hard limit, which only the runtime or systemd can raise."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (OSError, ValueError) as error:
            log.warning("cannot raise the file descriptor limit: %s", error)
    if soft != resource.RLIM_INFINITY and soft < needed:
        log.warning(
            "the file descriptor limit is below server.maxConnections plus %d spare",
            SPARE_FDS,
            extra={"fields": {"limit": soft, "needed": needed}},
        )


def _pod_id() -> str:
    """The ``connaisseur_pod_id`` of alerts: the pod's name (Downward API), else the host's."""
    return os.environ.get("POD_NAME") or socket.gethostname()


async def _handle_signals(reloader: Reloader, shutdown: trio.Event) -> None:
    with trio.open_signal_receiver(signal.SIGHUP, signal.SIGTERM, signal.SIGINT) as signals:
        async for signum in signals:
            if signum == signal.SIGHUP:
                await reloader.reload()
            else:
                log.info(
                    "stopping: draining requests in flight", extra={"fields": {"signal": signum}}
                )
                shutdown.set()
                return


@attrs.frozen
class Reloader:
    """Loads configuration and certificate anew on SIGHUP; swaps both or neither.

    The new configuration goes through the steps of a start (``load_settings``, ``prepare``),
    before anything is swapped. Those steps read files, parse YAML, keys and certificates and
    build the validators: blocking work, done in a worker thread (``kenner.offload``) while the
    event loop keeps serving. Only the swap runs on the loop, without a checkpoint: loading
    the new pair into the live TLS context (about 0.6 ms; OpenSSL's context is not changed
    from another thread while the loop's handshakes use it) and replacing the snapshot.
    A reload that fails in any way keeps the previous configuration serving and logs one
    error line: the message (key path and line) for an expected failure (``KennerError``),
    the traceback for a bug. It never raises (but for cancellation: then nothing was
    swapped), so the signal handler lives on. Validators whose build inputs did not change
    are kept with their warm caches (``build_validators``); the log line of a taken reload
    names the kept and the built ones.
    """

    options: ServeOptions
    state: DaemonState
    hypercorn_config: ReloadableTlsConfig
    scratch: Path
    runtime: Runtime
    notifier: Notifier = attrs.Factory(lambda: Notifier(None))

    async def reload(self) -> bool:
        """True when the new configuration and certificate were taken."""
        taken = False
        try:
            self.notifier.reloading()
            current = self.state.snapshot
            snapshot, files = await in_worker_thread(self._prepare, current)
            self._swap(current, snapshot, files)
            taken = True
        except KennerError as error:
            log.error("reload refused; the previous configuration keeps serving: %s", error)
        except Exception:  # a bug: the daemon must outlive it, with the old configuration
            log.exception("reload failed (a bug); the previous configuration keeps serving")
        try:
            self.state.metrics.count_reload(taken)
            self.notifier.send("READY=1", f"STATUS={readiness_summary(self.state)}")
        except Exception:  # as above: the signal handler must not die of a bug here
            log.exception("reporting the reload failed (a bug)")
        return taken

    def _prepare(self, current: Snapshot) -> tuple[Snapshot, TlsFiles]:
        """The new snapshot and its certificate files. Runs in a worker thread: it changes
        nothing the event loop uses, except that a validator with a CA bundle not seen before
        adds its connection pool to ``runtime.fetchers``."""
        try:
            config = load_settings(self.options)
            _check_unchanged(config, current.config)
            prepared = prepare(config, self.runtime, self.scratch, previous=current.validators)
        except OSError as error:  # the self-signed certificate could not be written
            raise ConfigError(f"server.tls: {error}") from error
        return Snapshot(config, prepared.validators, kube=current.kube), prepared.files

    def _swap(self, current: Snapshot, snapshot: Snapshot, files: TlsFiles) -> None:
        if self.hypercorn_config.ssl_context is not None:
            try:
                self.hypercorn_config.ssl_context.load_cert_chain(files.cert, files.key)
            except (OSError, ssl.SSLError) as error:  # the files changed since the check
                raise ConfigError(f"server.tls: cannot load the new certificate: {error}") from None
        self.state.snapshot = snapshot
        validators = snapshot.validators
        kept = [name for name, new in validators.items() if current.validators.get(name) is new]
        built = [name for name in validators if name not in kept]
        log.info(
            "configuration and certificate reloaded",
            extra={"fields": {"validators_kept": kept, "validators_built": built}},
        )


def _check_unchanged(config: Config, current: Config) -> None:
    """Refuse changes a reload cannot make (they need a restart)."""
    if config.server.listen != current.server.listen:
        raise ConfigError("server.listen cannot change on reload; restart kenner instead")
    if config.server.metrics_listen != current.server.metrics_listen:
        raise ConfigError("server.metricsListen cannot change on reload; restart kenner instead")
    access = (config.kubernetes.enabled, config.kubernetes.kubeconfig)
    if access != (current.kubernetes.enabled, current.kubernetes.kubeconfig):
        raise ConfigError(
            "kubernetes.enabled and kubernetes.kubeconfig cannot change on reload; "
            "restart kenner instead"
        )
