"""Make sure the real Notary v1 and registry binaries are installed (Debian packages).

A developer machine usually has them already; a fresh CI machine runs as root without them, so
the harness installs them with apt-get. Without root nothing can be installed and the caller
turns :class:`TestbedUnavailable` into a skip with the reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from tests.harness.errors import HarnessError, TestbedUnavailable

#: Debian package -> binaries it provides that the harness runs.
PACKAGES: dict[str, tuple[str, ...]] = {
    "notary": ("notary", "notary-server", "notary-signer"),
    "docker-registry": ("docker-registry",),
    "skopeo": ("skopeo",),
}

# Debian's invoke-rc.d consults this script before starting a service; exit code 101 means
# "action forbidden". It keeps the docker-registry package from starting its own registry on
# 0.0.0.0:5000 while we install it.
_POLICY_RC_D = Path("/usr/sbin/policy-rc.d")
_POLICY_RC_D_SCRIPT = (
    "#!/bin/sh\n# temporary, written by kenner tests/harness during apt-get\nexit 101\n"
)


def missing_packages(packages: Mapping[str, tuple[str, ...]] = PACKAGES) -> list[str]:
    """Packages with at least one binary that is not on PATH."""
    return [pkg for pkg, binaries in packages.items() if not all(map(shutil.which, binaries))]


def ensure_packages(packages: Mapping[str, tuple[str, ...]] = PACKAGES) -> None:
    """Install the missing ``packages`` (default: the test bed's) with apt-get when root.

    Raises:
        TestbedUnavailable: packages are missing and this process cannot install them.
        HarnessError: apt-get ran and failed.
    """
    missing = missing_packages(packages)
    if not missing:
        return
    if os.geteuid() != 0:
        raise TestbedUnavailable(
            f"packages {', '.join(missing)} are not installed and installing them needs root "
            f"(apt-get install --no-install-recommends {' '.join(missing)})"
        )
    if shutil.which("apt-get") is None:
        raise TestbedUnavailable(f"packages {', '.join(missing)} are missing and apt-get is absent")
    _apt_install(missing)
    still_missing = missing_packages(packages)
    if still_missing:
        raise HarnessError(f"apt-get succeeded but {', '.join(still_missing)} still lack binaries")


def _apt_install(packages: list[str]) -> None:
    created_policy = False
    if not _POLICY_RC_D.exists():
        _POLICY_RC_D.write_text(_POLICY_RC_D_SCRIPT)
        _POLICY_RC_D.chmod(0o755)
        created_policy = True
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        for command in (
            ["apt-get", "update", "-qq"],
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
        ):
            done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise HarnessError(
                    f"{' '.join(command)} failed with exit code {done.returncode}: "
                    f"{done.stderr.strip()[-2000:]}"
                )
    finally:
        if created_policy:
            _POLICY_RC_D.unlink(missing_ok=True)
