"""The errors of ``kenner.attest``: hostile attestation data, and policy conditions that are
not usable configuration."""

from __future__ import annotations

from kenner.errors import KennerError


class AttestError(KennerError, ValueError):
    """Base of the attestation errors."""


class StatementError(AttestError):
    """A DSSE envelope or in-toto statement that cannot be read (untrusted input)."""


class PolicyError(AttestError):
    """A policy condition of the configuration that cannot be used.

    ``key`` names the condition's key at fault (``path``, an operator), None for the whole
    condition; the loader reports the problem at that key and its line.
    """

    def __init__(self, message: str, key: str | None = None) -> None:
        self.key = key
        super().__init__(message)
