"""Run the CLI tools (skopeo, notary) with every command and its output logged."""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from tests.harness.errors import HarnessError

# A hung tool must not hang the test session; every tool call here finishes in well under 10 s.
_COMMAND_SECONDS = 120.0


def run(
    command: Sequence[str],
    log_file: Path,
    env: Mapping[str, str] | None = None,
    stdin: bytes = b"",
) -> str:
    """Run ``command`` and return its stdout.

    Raises:
        HarnessError: the command failed or timed out (message names it, with its stderr).
    """
    printable = shlex.join(command)
    with log_file.open("a") as log:
        log.write(f"$ {printable}\n")
        try:
            done = subprocess.run(
                list(command),
                input=stdin,
                capture_output=True,
                env=dict(env) if env is not None else None,
                timeout=_COMMAND_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired as expired:
            raise HarnessError(f"{printable} timed out after {_COMMAND_SECONDS:.0f} s") from expired
        stdout = done.stdout.decode(errors="replace")
        stderr = done.stderr.decode(errors="replace")
        log.write(stdout + stderr)
    if done.returncode != 0:
        output = stderr.strip() or stdout.strip()
        raise HarnessError(f"{printable} failed with exit code {done.returncode}: {output}")
    return stdout
