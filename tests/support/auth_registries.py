"""Registries requiring authentication for tests: started or skipped with the reason."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.harness import TestbedUnavailable
from tests.harness.auth_registry import AuthRegistry, htpasswd_auth, running_auth_registry
from tests.support.registry_storage import RegistryStorage
from tests.support.signed_images import OwnImages


@contextmanager
def auth_registry_or_skip(state_dir: Path, auth: Mapping[str, Any]) -> Iterator[AuthRegistry]:
    """``running_auth_registry``, skipping the test when docker-registry is unavailable."""
    try:
        with running_auth_registry(state_dir, auth) as registry:
            yield registry
    except TestbedUnavailable as unavailable:
        pytest.skip(f"authenticating registry unavailable: {unavailable}")


def htpasswd_or_skip(state_dir: Path, users: Mapping[str, str]) -> dict[str, Any]:
    """``htpasswd_auth``, skipping the test when htpasswd is unavailable."""
    try:
        return htpasswd_auth(state_dir, users)
    except TestbedUnavailable as unavailable:
        pytest.skip(f"htpasswd unavailable: {unavailable}")


def own_images(registry: AuthRegistry, repository: str) -> OwnImages:
    """Signed images written into the registry's storage."""
    return OwnImages(RegistryStorage(registry.storage_root), registry.host, repository)
