"""The error a configuration that cannot be used raises, and the problems it lists."""

from __future__ import annotations

import attrs


@attrs.frozen
class Problem:
    """One thing wrong with a configuration, located in its source.

    Attributes:
        path: Where the problem is, in the source's own key spelling
            (``application.policy[3].with.mode``); empty for the document as a whole.
        line: The 1-based line of that key in the source, or None when unknown.
        message: What is wrong, in words an operator can act on.
    """

    path: str
    line: int | None
    message: str

    def describe(self, source: str) -> str:
        """``source:line: path: message``, the form an editor can jump to."""
        where = source if self.line is None else f"{source}:{self.line}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigError(ValueError):
    """A configuration could not be loaded; ``problems`` lists every reason found.

    The message holds one line per problem, each naming the source, the line, the key path
    and the problem.
    """

    def __init__(self, source: str, problems: tuple[Problem, ...]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(problem.describe(source) for problem in problems))
