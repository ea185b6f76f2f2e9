"""Access to the real-world data in ``../shared/fixtures/connaisseur`` (never copied into the repo).

Tests that read it call ``connaisseur_fixtures()``, which skips the test with a clear reason when
the folder is absent (for example in a clone outside the development workplace).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_DEFAULT = Path(__file__).resolve().parent.parent.parent / "shared" / "fixtures" / "connaisseur"


def connaisseur_fixtures() -> Path:
    """The fixture folder (``$KENNER_SHARED_FIXTURES`` or ``../shared/fixtures/connaisseur``)."""
    path = Path(os.environ.get("KENNER_SHARED_FIXTURES", _DEFAULT))
    if not (path / "MANIFEST.md").is_file():
        pytest.skip(f"Connaisseur fixtures not found at {path} (../shared is absent)")
    return path
