"""Typed failures of the test harness."""

from __future__ import annotations


class HarnessError(RuntimeError):
    """The test bed could not be built or operated (a command or service failed)."""


class TestbedUnavailable(HarnessError):
    """The test bed cannot run on this machine (for example packages missing and not root).

    Tests turn this into a skip with the message as the reason.
    """

    __test__ = False  # not a pytest test class despite the name
