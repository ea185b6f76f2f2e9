"""Fixtures shared by the flow tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import trio


@pytest.fixture
async def background() -> AsyncIterator[trio.Nursery]:
    """A long-lived nursery for shared work (the daemon's role), cancelled after the test."""
    async with trio.open_nursery() as nursery:
        yield nursery
        nursery.cancel_scope.cancel()
