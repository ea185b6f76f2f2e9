"""Fixtures for tests against the real Notary v1 + registry test bed (tests/harness).

``testbed`` (session): started once into a pytest tmp dir and stopped at session end. If
``KENNER_TESTBED_DIR`` names a state dir with a healthy test bed (``python -m tests.harness up
DIR``), that one is used and left running. When the packages are missing and cannot be installed
(not root), tests using it are skipped with the reason.

``disposable_testbed`` (per test): services only, no scenarios, for tests that stop or restart
notary-server (its storage is in memory, so that would wipe the shared test bed's trust data).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import Testbed, TestbedUnavailable, load_testbed, start_testbed


@pytest.fixture(scope="session")
def testbed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Testbed]:
    reuse = os.environ.get("KENNER_TESTBED_DIR")
    if reuse:
        running = load_testbed(Path(reuse))
        if running is not None and running.cases:
            yield running
            return
    try:
        started = start_testbed(tmp_path_factory.mktemp("testbed"))
    except TestbedUnavailable as unavailable:
        pytest.skip(f"Notary test bed unavailable: {unavailable}")
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def disposable_testbed(tmp_path: Path) -> Iterator[Testbed]:
    try:
        started = start_testbed(tmp_path / "testbed", with_scenarios=False)
    except TestbedUnavailable as unavailable:
        pytest.skip(f"Notary test bed unavailable: {unavailable}")
    try:
        yield started
    finally:
        started.stop()
