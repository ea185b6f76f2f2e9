"""mmdebstrap extract hook: write the dpkg database of the packages extracted into ROOT.

``mmdebstrap --variant=extract`` installs nothing, so ``/var/lib/dpkg/status`` stays empty
and image scanners (trivy, grype, syft) would see no package to match against security
advisories. This hook asks the same apt that mmdebstrap used (``MMDEBSTRAP_APT_CONFIG``)
which packages and versions it resolved for ``MMDEBSTRAP_INCLUDE`` and writes their
package records, marked installed, in that order.

Run by mmdebstrap as ``python3 image/dpkg_status.py ROOT`` (a plain script: the standard
library only, nothing from the ``image`` package).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

# The fields of a package record that a status file keeps (the rest describe the download).
FIELDS = (
    "Package",
    "Status",
    "Priority",
    "Section",
    "Installed-Size",
    "Maintainer",
    "Architecture",
    "Multi-Arch",
    "Source",
    "Version",
    "Replaces",
    "Provides",
    "Depends",
    "Pre-Depends",
    "Recommends",
    "Suggests",
    "Breaks",
    "Conflicts",
    "Description",
    "Homepage",
)
_INSTALL = re.compile(r"^Inst (\S+) \((\S+) ", re.MULTILINE)


def main(argv: Sequence[str]) -> None:
    (root,) = argv
    packages = os.environ["MMDEBSTRAP_INCLUDE"].split(",")
    env = {**os.environ, "APT_CONFIG": os.environ["MMDEBSTRAP_APT_CONFIG"]}
    plan = _apt(["apt-get", "install", "--simulate", "-qq", *packages], env)
    resolved = _INSTALL.findall(plan)
    if not resolved:
        raise SystemExit(f"dpkg_status: apt resolved no package for {packages}")
    shown = _apt(["apt-cache", "show", *(f"{name}={version}" for name, version in resolved)], env)
    records: dict[tuple[str, str], dict[str, str]] = {}
    for record in _records(shown):
        records.setdefault((record["Package"], record["Version"]), record)
    status = []
    for name, version in resolved:
        record = {**records[(name, version)], "Status": "install ok installed"}
        status.append("".join(f"{key}: {record[key]}\n" for key in FIELDS if key in record))
    Path(root, "var/lib/dpkg/status").write_text("\n".join(status))


def _records(text: str) -> Iterator[dict[str, str]]:
    """The records of ``apt-cache show`` output; a continuation line stays in its field."""
    for block in text.strip().split("\n\n"):
        record: dict[str, str] = {}
        key = ""
        for line in block.splitlines():
            if line.startswith((" ", "\t")) and key:
                record[key] += "\n" + line
            else:
                key, _, value = line.partition(":")
                record[key] = value.strip()
        yield record


def _apt(command: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"dpkg_status: {' '.join(command[:3])} failed: {done.stderr[-2000:]}")
    return done.stdout


if __name__ == "__main__":
    main(sys.argv[1:])
