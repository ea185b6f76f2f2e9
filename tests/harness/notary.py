"""The real ``notary`` 0.7 client, driven like ``docker push`` with content trust.

Every call gets ``-c``/``-d``/``-s``/``--tlscacert`` explicitly (nothing in ``~/.notary``) and
the key passphrases through the environment. One trust dir holds every key: root keys are always
named explicitly (``init --rootkey``, ``key rotate ... -k``), so several roots can live together.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import attrs

from tests.harness import commands

#: Fixed test secrets for the encrypted keys in the trust dir.
PASSPHRASES = {
    "NOTARY_ROOT_PASSPHRASE": "kenner-test-root",
    "NOTARY_TARGETS_PASSPHRASE": "kenner-test-targets",
    "NOTARY_SNAPSHOT_PASSPHRASE": "kenner-test-snapshot",
    "NOTARY_DELEGATION_PASSPHRASE": "kenner-test-delegation",
}


@attrs.frozen
class NotaryClient:
    trust_dir: Path
    server_url: str
    ca_cert: Path
    log_file: Path

    @property
    def config_file(self) -> Path:
        return self.trust_dir / "config.json"

    def write_config(self) -> None:
        self.trust_dir.mkdir(parents=True, exist_ok=True)
        config = {
            "trust_dir": str(self.trust_dir),
            "remote_server": {"url": self.server_url, "root_ca": str(self.ca_cert)},
        }
        self.config_file.write_text(json.dumps(config, indent=2) + "\n")

    def run(self, *args: str, stdin: bytes = b"") -> str:
        """Run ``notary <args>`` against the test bed; return stdout (raises HarnessError)."""
        command = [
            "notary",
            "-c",
            str(self.config_file),
            "-d",
            str(self.trust_dir),
            "-s",
            self.server_url,
            "--tlscacert",
            str(self.ca_cert),
            *args,
        ]
        return commands.run(command, self.log_file, env={**os.environ, **PASSPHRASES}, stdin=stdin)

    def init(self, gun: str, root_key_file: Path, server_managed_snapshot: bool = True) -> None:
        """Create and publish the repo; like Docker, hand the snapshot key to the server."""
        self.run("init", "--publish", "--rootkey", str(root_key_file), gun)
        if server_managed_snapshot:
            self.run("key", "rotate", gun, "snapshot", "--server-managed")

    def add_hash(
        self,
        gun: str,
        tag: str,
        digest: str,
        size: int,
        roles: Sequence[str] = (),
        publish: bool = False,
    ) -> None:
        """Stage target ``tag`` = (sha256, length) of a manifest, as ``docker push`` does."""
        args = ["addhash", gun, tag, str(size), "--sha256", digest.removeprefix("sha256:")]
        for role in roles:
            args += ["--roles", role]
        if publish:
            args.append("--publish")
        self.run(*args)

    def publish(self, gun: str) -> None:
        self.run("publish", gun)

    def import_delegation_key(self, private_key_file: Path, role: str) -> None:
        """Import an unencrypted PKCS#8 key; notary encrypts it with the delegation passphrase."""
        self.run("key", "import", str(private_key_file), "--role", role)

    def add_delegation(self, gun: str, role: str, public_key_file: Path) -> None:
        self.run("delegation", "add", gun, role, str(public_key_file), "--all-paths")

    def rotate_root(self, gun: str, new_root_key_file: Path) -> None:
        # notary asks for confirmation on stdin even when every passphrase is in the environment.
        self.run("key", "rotate", gun, "root", "--key", str(new_root_key_file), stdin=b"yes\n")
