"""Access to the real-world fixtures in ``../shared/fixtures`` (never copied into the repo).

The fixtures root holds ``connaisseur/`` (Connaisseur's own test data: admission reviews,
configs, Notary and cosign material), ``sigstore/`` and ``notation/``. It is found at
``$KENNER_FIXTURES`` when that is set, else at ``../shared/fixtures`` next to the checkout.
``KENNER_SHARED_FIXTURES``, the older name, still works: it names the ``connaisseur/`` folder
itself.

Tests that read the data call ``connaisseur_fixtures()``, which skips the test when the
folder is absent (for example in a clone outside the development workplace), with a reason
that says how to point at it. docs/testing.md gives the number of tests that need it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT_VARIABLE = "KENNER_FIXTURES"
_OLD_VARIABLE = "KENNER_SHARED_FIXTURES"  # the connaisseur/ folder itself
_DEFAULT_ROOT = Path(__file__).resolve().parent.parent.parent / "shared" / "fixtures"


def fixtures_root() -> Path:
    """The fixtures root: ``$KENNER_FIXTURES`` or ``../shared/fixtures``."""
    return Path(os.environ.get(ROOT_VARIABLE, _DEFAULT_ROOT))


def connaisseur_fixtures() -> Path:
    """The ``connaisseur/`` fixture folder; skips the calling test when it is absent."""
    old = os.environ.get(_OLD_VARIABLE)
    path = Path(old) if old else fixtures_root() / "connaisseur"
    if not (path / "MANIFEST.md").is_file():
        pytest.skip(
            f"Connaisseur fixtures not found at {path}: set {ROOT_VARIABLE} to the fixtures "
            "root (the folder holding connaisseur/, sigstore/, notation/), by default "
            "../shared/fixtures next to the checkout"
        )
    return path
