"""Which trust roots must sign, and whether the ones that did are enough.

Counting is by DISTINCT trust roots, never by signatures: one key that signed twice is one
signer (Connaisseur's Go validator counts signatures, so a single key signing twice passes
``threshold: 2`` there).

``trustRoot: "*"`` follows Connaisseur 3 (``cosign_validator.go``, ``ValidateImage``):

* neither ``threshold`` nor ``required``: every configured root must sign;
* ``threshold`` alone: that many of the configured roots;
* ``required`` alone: exactly the required roots must sign; the others are not checked
  (threshold 0 beyond them);
* both: the required roots and, in all, ``threshold`` roots. When the threshold does not
  exceed the required roots, only those are checked (all of them must sign anyway).

``trustRoot: <name>`` (or unset, meaning ``default``): that root must sign; the threshold
defaults to 1. ``required`` roots are added to the roots considered and must sign as well
(kenner's extension; Connaisseur checks only the named root there): the named root is never
replaced by a required one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs

from kenner.errors import KennerError

ANY_ROOT = "*"
DEFAULT_ROOT = "default"


class RequirementError(KennerError, ValueError):
    """The rule asks for something the validator's trust roots cannot give."""


@attrs.frozen
class Requirement:
    """The roots whose signatures are checked, how many must sign, and who must."""

    roots: tuple[str, ...]
    threshold: int
    required: tuple[str, ...]


def requirement(
    configured: Sequence[str],
    trust_root: str | None,
    threshold: int | None,
    required: Sequence[str],
) -> Requirement:
    """The requirement of one rule for a validator with the ``configured`` root names.

    Raises:
        RequirementError: a named root is not configured, or the threshold exceeds the roots.
    """
    required = tuple(dict.fromkeys(required))  # a name listed twice is one root
    if trust_root == ANY_ROOT:
        only_required = bool(required) and (threshold is None or threshold <= len(required))
        chosen = list(required) if only_required else list(configured)
        need = threshold if threshold is not None else (0 if required else len(chosen))
    else:
        chosen = [trust_root or DEFAULT_ROOT]
        need = threshold if threshold is not None else 1
        required = tuple(dict.fromkeys((chosen[0], *required))) if required else required
    chosen += [name for name in required if name not in chosen]
    unknown = [name for name in chosen if name not in configured]
    if unknown:
        raise RequirementError(f"trust root {unknown[0]!r} is not configured")
    # Every required root signs, so they count; and never fewer than one signer (fail closed).
    need = max(need, len(required), 1)
    if need > len(chosen):
        raise RequirementError(f"threshold {need} exceeds the {len(chosen)} trust root(s) in use")
    return Requirement(tuple(chosen), need, required)


class Requirements:
    """The requirements of one validator's ``configured`` roots, memoised by what a rule asks.

    A validator's step runs on every (warm) request and the answer depends only on its roots
    and the options asked, of which there are as many as rules ever configured for it. A
    requirement the roots cannot give is memoised as its error message (a string).
    """

    def __init__(self, configured: Sequence[str]) -> None:
        self._configured = tuple(configured)
        self._memo: dict[tuple[str | None, int | None, tuple[str, ...]], Requirement | str] = {}

    def get(
        self, trust_root: str | None, threshold: int | None, required: Sequence[str]
    ) -> Requirement | str:
        """``requirement`` for these options, or why the configured roots cannot give it."""
        asked = (trust_root, threshold, tuple(required))
        need = self._memo.get(asked)
        if need is None:
            try:
                need = requirement(self._configured, *asked)
            except RequirementError as error:
                need = str(error)
            self._memo[asked] = need
        return need


def shortfall(
    requirement: Requirement, signed: frozenset[str], problems: Mapping[str, str]
) -> str | None:
    """None when ``signed`` satisfies ``requirement``, else the denial reason.

    ``problems`` maps a root that did not sign to why (its best rejection).
    """
    missing = [name for name in requirement.required if name not in signed]
    if missing:
        return "missing required signer(s): " + _explain(missing, problems)
    got = len(signed & frozenset(requirement.roots))
    if got < requirement.threshold:
        absent = [name for name in requirement.roots if name not in signed]
        signers = ", ".join(sorted(signed & frozenset(requirement.roots))) or "none"
        return (
            f"threshold not reached: {got} of {requirement.threshold} required trust roots "
            f"signed (signed: {signers}; not: {_explain(absent, problems)})"
        )
    return None


def _explain(names: Sequence[str], problems: Mapping[str, str]) -> str:
    return "; ".join(f"{name} ({problems.get(name, 'no signature')})" for name in names)
