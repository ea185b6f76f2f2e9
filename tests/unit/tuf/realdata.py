"""Reading the real Notary fixture data (never copied into the repo) as a server serves it.

The fixture files are pretty-printed copies of compact JSON in the served key order; compact
re-serialisation in file order reproduces the served bytes (MANIFEST caveat 1).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from kenner.tuf.keys import PublicKey, parse_public_key_pem
from kenner.tuf.repository import TOP_LEVEL_ROLES
from tests.shared import connaisseur_fixtures

DEFAULT_KEY = "pinned_root_keys/default.pem"
CHARLIE_KEY = "pinned_root_keys/charlie.pem"
GO_TEST_KEY = "never-expire-keys/root.pub"

# Curator-suggested instants (cases.json "clock"): before every real expiry of the set.
ALICE_TIME = datetime(2019, 10, 20, tzinfo=UTC)
SAMPLE_TIME = datetime(2019, 11, 5, tzinfo=UTC)
CHARLIE_TIME = datetime(2020, 11, 20, tzinfo=UTC)
PHBELITZ_TIME = datetime(2020, 1, 20, tzinfo=UTC)
GO_TIME = datetime(2030, 1, 1, tzinfo=UTC)


def notary_dir() -> Path:
    return connaisseur_fixtures() / "notaryv1"


def served(path: Path) -> bytes:
    """The compact bytes a Notary server serves for a pretty-printed fixture file."""
    return json.dumps(json.loads(path.read_text()), separators=(",", ":")).encode()


def pinned(name: str) -> PublicKey:
    return parse_public_key_pem((notary_dir() / name).read_text())


def top_level(image: str) -> dict[str, bytes]:
    folder = notary_dir() / image
    return {role: served(folder / f"{role}.json") for role in TOP_LEVEL_ROLES}


def delegation_files(image: str, roles: tuple[str, ...]) -> dict[str, bytes | None]:
    """Served bytes of delegated roles, None where the fixture has no file (a 404)."""
    folder = notary_dir() / image
    files: dict[str, bytes | None] = {}
    for role in roles:
        path = folder / f"{role}.json"
        files[role] = served(path) if path.is_file() else None
    return files


def all_documents() -> Iterator[Path]:
    """Every JSON trust-data file of the fixture set."""
    yield from sorted(p for p in notary_dir().rglob("*.json") if p.name != "invalid.json")
