"""The ``kenner`` command: serve, review, verify, check-config, cert, --version.

Exit codes: ``review`` exits 0 when the request is allowed, 1 when denied, 2 on any error
(an unreadable file, a bad configuration, a body that is not an AdmissionReview); ``verify``
exits 0 when every image would be admitted, 1 when one would be denied, 2 on any error.

Errors are translated once, in ``main``: an expected failure (``KennerError``, also inside an
exception group from trio) and an unreadable file argument print ``kenner: <message>`` and
exit 2, without a traceback; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from functools import partial
from importlib import resources
from pathlib import Path

import attrs
import trio

from kenner import __version__
from kenner.admission.decision import Decision
from kenner.admission.review import AdmissionRequest, parse_review
from kenner.app.pipeline import answer_request
from kenner.app.state import Snapshot
from kenner.app.verify import VerifyReport, render_text, verify_images, verify_notes
from kenner.config.load import default_config, load_config_file
from kenner.config.model import Config
from kenner.errors import KennerError
from kenner.logs import configure_logging
from kenner.server.serve import ServeOptions, check_settings, load_settings, run_daemon
from kenner.validators.build import build_validators, open_runtime
from kenner.webhook_certs import CertRequest, write_webhook_files

EXIT_ALLOWED, EXIT_DENIED, EXIT_ERROR = 0, 1, 2


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the console script and ``python -m kenner``."""
    args = _parser().parse_args(argv)
    raise SystemExit(_run(args))


def _run(args: argparse.Namespace) -> int:
    """The command's exit code; expected failures become a message and ``EXIT_ERROR``."""
    try:
        code: int = args.run(args)
    except KennerError as error:
        print(f"kenner: {error}", file=sys.stderr)
        return EXIT_ERROR
    except BaseExceptionGroup as group:  # raised inside the daemon's nurseries
        expected, rest = group.split(KennerError)
        if rest is not None or expected is None:
            raise  # a bug (or an interrupt) among them: keep every traceback
        for leaf in _leaves(expected):
            print(f"kenner: {leaf}", file=sys.stderr)
        return EXIT_ERROR
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kenner", description="Kubernetes admission controller for signed images."
    )
    parser.add_argument("--version", action="version", version=f"kenner {__version__}")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="serve the admission webhook over HTTPS")
    serve.add_argument("--config", metavar="FILE", help="configuration file (default: embedded)")
    serve.add_argument("--listen", metavar="HOST:PORT", help="override server.listen")
    serve.add_argument("--tls-cert", metavar="FILE", help="override server.tls.certFile")
    serve.add_argument("--tls-key", metavar="FILE", help="override server.tls.keyFile")
    serve.add_argument(
        "--kubeconfig", metavar="FILE", help="override kubernetes.kubeconfig (API access)"
    )
    serve.set_defaults(run=_serve)

    review = commands.add_parser(
        "review", help="print the response kenner would send for an AdmissionReview"
    )
    review.add_argument("--config", metavar="FILE", help="configuration file (default: embedded)")
    review.add_argument("review", nargs="?", default="-", metavar="REVIEW.json|-")
    review.set_defaults(run=_review)

    verify = commands.add_parser(
        "verify",
        help="show what an admission would decide for images: rule, validator, verdict, digest",
    )
    verify.add_argument("--config", metavar="FILE", help="configuration file (default: embedded)")
    verify.add_argument(
        "--output", choices=("text", "json"), default="text", help="report format (default: text)"
    )
    verify.add_argument("images", nargs="+", metavar="IMAGE")
    verify.set_defaults(run=_verify)

    check = commands.add_parser(
        "check-config",
        help="run the steps of serve with a configuration file (no network) and report errors",
    )
    check.add_argument("config", metavar="FILE")
    for flag, key in (("--tls-cert", "certFile"), ("--tls-key", "keyFile")):
        check.add_argument(flag, metavar="FILE", help=f"override server.tls.{key}, as serve")
    check.add_argument("--kubeconfig", metavar="FILE", help="override kubernetes.kubeconfig")
    check.add_argument(
        "--content-only",
        action="store_true",
        help="skip what exists only where kenner runs: TLS files, secrets, Kubernetes access",
    )
    check.set_defaults(run=_check_config)

    cert = commands.add_parser(
        "cert", help="make a CA, a serving certificate, the TLS Secret and the webhook caBundle"
    )
    cert.add_argument("--out", metavar="DIR", required=True, help="where the files are written")
    cert.add_argument("--service", default="kenner", help="Service name (default: kenner)")
    cert.add_argument("--namespace", default="kenner", help="namespace (default: kenner)")
    cert.add_argument("--url", help="webhook URL of a host outside the cluster (systemd)")
    cert.add_argument("--webhook", metavar="FILE", help="webhook manifest to patch in place")
    cert.add_argument("--days", type=int, default=365, help="validity (default: 365)")
    cert.set_defaults(run=_cert)
    return parser


def _serve(args: argparse.Namespace) -> int:
    options = ServeOptions(args.config, args.listen, args.tls_cert, args.tls_key, args.kubeconfig)
    config = load_settings(options)
    configure_logging(config.log.level, config.log.format)
    if args.config is None:
        _print_try_it(config.server.listen)
    trio.run(run_daemon, options)
    return 0


def _print_try_it(listen: str) -> None:
    default = resources.files("kenner.config").joinpath("default.yaml")
    host, _, port = listen.rpartition(":")
    host = "127.0.0.1" if host in ("0.0.0.0", "", "[::]") else host  # noqa: S104 (a comparison)
    print(
        f"kenner: no --config given, using the embedded default config: {default}\n"
        "        (registry.k8s.io/* is allowed, every other image is denied)\n"
        f"        Try it:  curl -sk -H 'Content-Type: application/json' "
        f"--data @examples/admission-review-pod.json https://{host}:{port}/mutate\n"
        f"        Health:  curl -sk https://{host}:{port}/ready",
        file=sys.stderr,
        flush=True,
    )


def _review(args: argparse.Namespace) -> int:
    try:
        body = sys.stdin.buffer.read() if args.review == "-" else _read(args.review)
    except OSError as error:
        print(f"kenner: {error}", file=sys.stderr)
        return EXIT_ERROR
    config = load_config_file(args.config) if args.config else default_config()
    request = parse_review(body)
    configure_logging("warning", config.log.format)
    answer, decision = trio.run(_review_once, request, config)
    sys.stdout.write(answer.decode() + "\n")
    return EXIT_ALLOWED if decision.response.allowed else EXIT_DENIED


async def _review_once(request: AdmissionRequest, config: Config) -> tuple[bytes, Decision]:
    async with _offline_snapshot(config) as snapshot:
        return await answer_request(request, snapshot, started=trio.current_time())


def _verify(args: argparse.Namespace) -> int:
    config = load_config_file(args.config) if args.config else default_config()
    configure_logging("warning", "text")  # stderr: stdout carries only the report
    report = trio.run(_verify_once, args.images, config)
    if args.output == "json":
        sys.stdout.write(json.dumps(report.as_json(), indent=2) + "\n")
    else:
        sys.stdout.write(render_text(report))
    return EXIT_ALLOWED if report.admitted else EXIT_DENIED


async def _verify_once(images: Sequence[str], config: Config) -> VerifyReport:
    async with _offline_snapshot(config) as snapshot:
        return await verify_images(images, snapshot, verify_notes(config))


@asynccontextmanager
async def _offline_snapshot(config: Config) -> AsyncIterator[Snapshot]:
    """The configuration's validators as serve builds them, without the Kubernetes API and
    without Redis: ``review`` and ``verify`` validate for themselves and write nothing to the
    replicas' shared verdicts or rollback memory."""
    alone = attrs.evolve(config, cache=attrs.evolve(config.cache, redis=None))
    async with open_runtime() as runtime:
        yield Snapshot(config, build_validators(alone, runtime))


def _check_config(args: argparse.Namespace) -> int:
    configure_logging("error", "text")  # only what stops the configuration
    config = trio.run(
        partial(
            check_settings,
            ServeOptions(args.config, None, args.tls_cert, args.tls_key, args.kubeconfig),
            content_only=args.content_only,
        )
    )
    print(f"{args.config}: ok ({len(config.validators)} validators, {len(config.policy)} rules)")
    return 0


def _cert(args: argparse.Namespace) -> int:
    request = CertRequest(
        out_dir=Path(args.out),
        service=args.service,
        namespace=args.namespace,
        url=args.url,
        webhook=Path(args.webhook) if args.webhook else None,
        days=args.days,
    )
    try:
        certificates = write_webhook_files(request, datetime.datetime.now(datetime.UTC))
    except OSError as error:  # a file argument; a WebhookCertError is handled in _run
        print(f"kenner: {error}", file=sys.stderr)
        return EXIT_ERROR
    print(f"{args.out}: ca.crt tls.crt tls.key tls-secret.yaml for {', '.join(certificates.hosts)}")
    if request.webhook is None:
        print(f"caBundle: {certificates.ca_bundle}")
    else:
        print(f"{request.webhook}: caBundle set")
    return 0


def _leaves(group: BaseExceptionGroup[KennerError]) -> list[KennerError]:
    leaves: list[KennerError] = []
    for error in group.exceptions:
        if isinstance(error, BaseExceptionGroup):
            leaves += _leaves(error)
        else:
            leaves.append(error)
    return leaves


def _read(path: str) -> bytes:
    with open(path, "rb") as file:
        return file.read()
