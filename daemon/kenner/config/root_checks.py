"""Checks every validator kind with named trust roots shares (notaryv1, cosign, notation).

A validator needs at least one trust root, and a name names one root only: a rule selects
roots by name, so a name used twice would make ``trustRoot`` and ``required`` ambiguous. A
rule's threshold is checked with the verifier's own ``requirement``, so a configuration that
loads is one the validator can answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Protocol, TypeVar

from kenner.config.model import RuleOptions
from kenner.config.source import KeyPath
from kenner.cosign.threshold import RequirementError, requirement

Report = Callable[[KeyPath, str], None]


class _Named(Protocol):
    @property
    def name(self) -> str: ...


RootT = TypeVar("RootT", bound=_Named)


def named_roots(
    kind: str, roots: Sequence[RootT], path: KeyPath, report: Report
) -> Iterator[tuple[KeyPath, RootT]]:
    """Each trust root of a ``kind`` validator at ``path`` with its key path, once the list's
    emptiness and the root's name used twice are reported."""
    if not roots:
        report((*path, "trustRoots"), f"a {kind} validator needs at least one trust root")
    seen: set[str] = set()
    for index, root in enumerate(roots):
        root_path = (*path, "trustRoots", index)
        if root.name in seen:
            report((*root_path, "name"), f"trust root name '{root.name}' is used twice")
        seen.add(root.name)
        yield root_path, root


def check_threshold(
    names: Sequence[str], options: RuleOptions, with_path: KeyPath, report: Report
) -> None:
    """Report a rule's threshold that the validator's root ``names`` cannot reach.

    A root the rule names that is not configured is reported where rules are matched to roots
    (not here), so only the threshold's own error counts.
    """
    try:
        requirement(names, options.trust_root, options.threshold, options.required)
    except RequirementError as error:
        if "threshold" in str(error):
            report((*with_path, "threshold"), str(error))
