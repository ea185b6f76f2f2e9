"""Build kenner's container image without a container engine (``make image``).

The steps, each a function below:

1. ``debian_root``: mmdebstrap extracts Debian's ``python3.11``, ``ca-certificates`` and
   ``base-files`` with what they depend on into an empty directory. The ``extract`` variant
   runs no maintainer script, so no shell runs in the tree and none is put in it.
2. ``install_kenner``: kenner's wheel and its dependencies go into ``/opt/kenner``, a
   virtualenv on Debian's python3.11. The dependencies are pinned to the versions of the
   virtualenv running this build (``pip freeze``): the image carries what ``make test`` tested.
3. ``finish_root``: what the skipped maintainer scripts would have made and the image needs
   (the CA bundle, ``/etc/passwd`` and ``/etc/group`` with the user kenner, UID 65532), the
   bytecode compiled by the image's own python in ``unchecked-hash`` mode (no source mtime in
   it, never rewritten at run time: the root file system is read-only), and without what is
   not needed at run time (documentation but the copyright files, locales, apt state, the
   host's ``resolv.conf``). The dpkg database lists the packages for image scanners
   (``image/dpkg_status.py``, run by mmdebstrap).
4. ``kenner_image``: the tree as a one-layer OCI image layout (``image.oci``, reproducible).

Reproducible: all times are ``SOURCE_DATE_EPOCH`` (from the environment, else the time of the
commit at HEAD). Two builds from the same commit and the same Debian packages give the same
image digest; the Debian mirror's packages change with security updates, and so does the
image. Needs root (mmdebstrap's root mode and ``chroot`` for the bytecode) and the network to
a Debian mirror and the Python package index.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from image.oci import ImageConfig, write_layout
from kenner import __version__

ROOT = Path(__file__).resolve().parents[1]
SUITE = "bookworm"
PYTHON = "python3.11"  # kenner's wheels (cryptography, pynacl, orjson) are built for it
PACKAGES = (PYTHON, "ca-certificates", "base-files")
MIRROR = "http://deb.debian.org/debian"
SECURITY_MIRROR = "http://deb.debian.org/debian-security"
# A numeric user and group, so Kubernetes can check runAsNonRoot without reading /etc/passwd;
# the same numbers as k8s/deployment.yaml's securityContext.
UID = GID = 65532
VENV = "/opt/kenner"
ENTRYPOINT = (f"{VENV}/bin/kenner",)
CMD = ("serve", "--config", "/etc/kenner/config/config.yaml")
LICENSE = "Apache-2.0"
# Downloaded packages are kept here for the next build (and the tests' second build).
APT_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kenner/image-apt"
# Not needed at run time; removed from the tree (paths relative to its root).
PRUNED = (
    "dev",  # the runtime mounts its own
    "etc/apt",
    "etc/hostname",  # mmdebstrap's copies of the build host's
    "etc/resolv.conf",
    "usr/share/info",
    "usr/share/lintian",
    "usr/share/locale",
    "usr/share/man",
    "var/cache",
    "var/lib/apt",
    "var/log",
)
# Where the runtime and k8s/deployment.yaml mount: present even under a read-only root.
MOUNT_POINTS = ("proc", "sys", "etc/kenner/config", "etc/kenner/tls", "etc/kenner/proof")
PRUNED_GLOBS = (f"usr/lib/{PYTHON}/lib-dynload/_test*", f"usr/lib/{PYTHON}/lib-dynload/xx*")


class BuildError(Exception):
    """A build step failed; the message says which and why."""


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m image.build``: see ``--help``."""
    args = _parser().parse_args(argv)
    try:
        epoch = source_date_epoch()
        source = args.source or _git_origin()
        if not source:
            raise BuildError(
                "no git remote 'origin' to name the image's source: give --source URL "
                "(make image IMAGE_SOURCE=URL)"
            )
        digest = kenner_image(
            Path(args.out),
            tag=args.tag,
            source=source,
            epoch=epoch,
            mirror=args.mirror,
            security_mirror=args.security_mirror,
            apt_cache=Path(args.apt_cache) if args.apt_cache else None,
        )
    except BuildError as error:
        print(f"image: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    print(f"{args.out}: oci layout, tag {args.tag}, {digest}")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m image.build", description=__doc__)
    parser.add_argument("--out", default="dist/image", help="the OCI layout (made; must be new)")
    parser.add_argument("--tag", default=__version__, help="tag in the layout (default: version)")
    parser.add_argument("--source", help="org.opencontainers.image.source (default: git origin)")
    parser.add_argument("--mirror", default=MIRROR, help=f"Debian mirror (default: {MIRROR})")
    parser.add_argument("--security-mirror", default=SECURITY_MIRROR, help="Debian security")
    parser.add_argument(
        "--apt-cache",
        default=str(APT_CACHE),
        help=f"the .deb files kept between builds (default: {APT_CACHE}; '' for none)",
    )
    return parser


def kenner_image(
    out: Path,
    *,
    tag: str,
    source: str,
    epoch: int,
    mirror: str = MIRROR,
    security_mirror: str = SECURITY_MIRROR,
    apt_cache: Path | None = None,
) -> str:
    """Build the image into the OCI layout ``out``; returns its manifest digest."""
    if os.geteuid() != 0:
        raise BuildError("building the image needs root (mmdebstrap's root mode and chroot)")
    # pip picks the wheels (cryptography, pynacl, orjson...) for the Python running the build.
    if sys.version_info[:2] != (3, 11) or platform.machine() != "x86_64":
        raise BuildError(
            f"the build must run on Python 3.11 on x86_64, the image's (not "
            f"{platform.python_version()} on {platform.machine()}): pip picks wheels for it"
        )
    if out.exists() and any(out.iterdir()):
        raise BuildError(f"{out} exists and is not empty; remove it first")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kenner-image-", dir=out.parent) as scratch:
        tree = Path(scratch) / "root"
        sources = (
            f"deb {mirror} {SUITE} main",
            f"deb {mirror} {SUITE}-updates main",
            f"deb {security_mirror} {SUITE}-security main",
        )
        debian_root(tree, sources, epoch, apt_cache)
        install_kenner(tree, Path(scratch), epoch)
        finish_root(tree)
        labels = {
            "org.opencontainers.image.title": "kenner",
            "org.opencontainers.image.description": "Kubernetes admission webhook that "
            "admits only signed container images",
            "org.opencontainers.image.source": source,
            "org.opencontainers.image.version": __version__,
            "org.opencontainers.image.licenses": LICENSE,
        }
        config = ImageConfig(
            user=f"{UID}:{GID}",
            entrypoint=ENTRYPOINT,
            cmd=CMD,
            env=("PATH=/opt/kenner/bin:/usr/bin:/bin", "LANG=C.UTF-8"),
            labels=labels,
            exposed_ports=("8443/tcp",),
        )
        history = f"image/build.py: Debian {SUITE} {' '.join(PACKAGES)} + kenner {__version__}"
        return write_layout(tree, out, tag=tag, config=config, epoch=epoch, history=history)


def debian_root(
    tree: Path, sources: Sequence[str], epoch: int, apt_cache: Path | None = None
) -> None:
    """Extract ``PACKAGES`` and their dependencies from ``sources`` into ``tree``.

    With ``apt_cache``, the .deb files found there are used instead of downloading them, and
    the ones downloaded are added to it.
    """
    command = ["mmdebstrap", "--variant=extract", "--mode=root", "--quiet"]
    command.append(f"--include={','.join(PACKAGES)}")
    if apt_cache is not None:
        apt_cache.mkdir(parents=True, exist_ok=True)
        archives = "/var/cache/apt/archives/"
        command += [
            f'--setup-hook=mkdir -p "$1"{archives}',
            f"--setup-hook=sync-in {apt_cache} {archives}",
            f"--extract-hook=sync-out {archives} {apt_cache}",
        ]
    # The dpkg database, for image scanners: extraction leaves it empty.
    command.append(f'--extract-hook={sys.executable} {ROOT / "image/dpkg_status.py"} "$1"')
    command += [SUITE, str(tree), *sources]
    _run(command, "mmdebstrap", env={**os.environ, "SOURCE_DATE_EPOCH": str(epoch)})


def install_kenner(tree: Path, scratch: Path, epoch: int) -> None:
    """kenner and its dependencies as the virtualenv ``VENV`` inside ``tree``."""
    venv = tree / VENV.lstrip("/")
    site = venv / "lib" / PYTHON / "site-packages"
    wheels, constraints = scratch / "wheels", scratch / "constraints.txt"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(epoch)}
    frozen = _run([*pip, "freeze", "--exclude-editable"], "pip freeze", env=env)
    constraints.write_text(frozen)
    _run([*pip, "wheel", "--quiet", "--no-deps", "-w", str(wheels), str(ROOT)], "pip wheel", env)
    (wheel,) = wheels.glob("kenner-*.whl")
    install = [*pip, "install", "--quiet", "--no-compile", "--only-binary=:all:"]
    install += ["--target", str(site), "--constraint", str(constraints), str(wheel)]
    _run(install, "pip install", env)
    shutil.rmtree(site / "bin", ignore_errors=True)  # pip's scripts, for the build's python
    for direct_url in site.glob("*.dist-info/direct_url.json"):
        _forget(direct_url)  # names the wheel's path in this build's scratch directory
    (venv / "pyvenv.cfg").write_text(
        f"home = /usr/bin\ninclude-system-site-packages = false\nversion = {PYTHON[6:]}\n"
    )
    bin_dir = venv / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(f"/usr/bin/{PYTHON}")
    (bin_dir / "python").symlink_to("python3")
    # Isolated (-I: no PYTHON* variables, no user site) and writing no bytecode (-B).
    script = bin_dir / "kenner"
    script.write_text(
        f"#!{VENV}/bin/python3 -IB\nimport sys\n\nfrom kenner.cli import main\n\nsys.exit(main())\n"
    )
    script.chmod(0o755)


def _forget(path: Path) -> None:
    """Remove an installed file and its line in its distribution's RECORD."""
    path.unlink()
    record = path.parent / "RECORD"
    entry = f"{path.parent.name}/{path.name},"
    lines = record.read_text().splitlines(keepends=True)
    record.write_text("".join(line for line in lines if not line.startswith(entry)))


def finish_root(tree: Path) -> None:
    """Do what the skipped maintainer scripts would have done, compile, prune."""
    certs = sorted((tree / "usr/share/ca-certificates").rglob("*.crt"))
    if not certs:
        raise BuildError("ca-certificates brought no certificates")
    bundle = b"".join(path.read_bytes().rstrip(b"\n") + b"\n" for path in certs)
    (tree / "etc/ssl/certs/ca-certificates.crt").write_bytes(bundle)
    (tree / "etc/passwd").write_text(
        "root:x:0:0:root:/root:/usr/sbin/nologin\n"
        f"kenner:x:{UID}:{GID}:kenner:/nonexistent:/usr/sbin/nologin\n"
    )
    (tree / "etc/group").write_text(f"root:x:0:\nkenner:x:{GID}:\n")
    for relative in PRUNED:
        path = tree / relative
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
            path.mkdir()  # keep the directory (a mount point, or expected by tools)
        else:
            path.unlink(missing_ok=True)
    _prune_docs(tree / "usr/share/doc")
    for pattern in PRUNED_GLOBS:
        for path in tree.glob(pattern):
            path.unlink()
    for mount_point in MOUNT_POINTS:
        (tree / mount_point).mkdir(parents=True, exist_ok=True)
    # Bytecode by the image's own interpreter. Hash-based (not mtime-based) pyc files are
    # the same on every build; a fixed hash seed keeps frozensets in a fixed order.
    compile_all = ["chroot", str(tree), f"/usr/bin/{PYTHON}", "-m", "compileall", "-q"]
    # Skipped: test suites, and modules a package imports only on a newer Python
    # (coredis/_py_312_typing.py uses 3.12 syntax and would fail the whole step).
    skipped = r"/(test|tests|idle_test)/|/_py_31[2-9]_[^/]*\.py$"
    compile_all += ["--invalidation-mode", "unchecked-hash", "-x", skipped]
    compile_all += [f"/usr/lib/{PYTHON}", f"{VENV}/lib/{PYTHON}/site-packages"]
    _run(compile_all, "compileall", {"PATH": "/usr/bin:/bin", "PYTHONHASHSEED": "0"})


def _prune_docs(doc: Path) -> None:
    """Remove the documentation but each package's ``copyright`` file: its licence terms go
    with its binaries. A package's doc directory may be a link to another package's."""
    for path in sorted(doc.rglob("*"), reverse=True):  # children before their directory
        keep = path.parent == doc and path.is_symlink()
        keep = keep or (path.name == "copyright" and path.parent.parent == doc)
        if keep:
            continue
        if path.is_symlink() or not path.is_dir():
            path.unlink()
        elif not any(path.iterdir()):
            path.rmdir()


def source_date_epoch() -> int:
    """``SOURCE_DATE_EPOCH``, else the commit time of HEAD."""
    value = os.environ.get("SOURCE_DATE_EPOCH") or _git("log", "-1", "--format=%ct")
    if not value.strip().isdigit():
        raise BuildError(f"SOURCE_DATE_EPOCH must be a Unix time, not {value.strip()[:40]!r}")
    return int(value)


def _git_origin() -> str:
    return _git("remote", "get-url", "origin").strip()


def _git(*args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=False
    )
    return done.stdout if done.returncode == 0 else ""


def _run(command: Sequence[str], what: str, env: dict[str, str] | None = None) -> str:
    program = shutil.which(command[0])  # on this host's PATH, whatever ``env`` says
    if program is None:
        raise BuildError(f"{command[0]} is not on PATH (mmdebstrap: apt-get install mmdebstrap)")
    done = subprocess.run(
        [program, *command[1:]], capture_output=True, text=True, env=env, check=False
    )
    if done.returncode != 0:
        said = (done.stderr.strip() or done.stdout.strip())[-3000:]  # compileall: stdout
        raise BuildError(f"{what} failed (exit {done.returncode}): {said}")
    return done.stdout


if __name__ == "__main__":
    main()
