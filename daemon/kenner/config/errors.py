"""The error a configuration that cannot be used raises, and the problems it lists."""

from __future__ import annotations

import attrs

from kenner.errors import KennerError


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


class ConfigError(KennerError, ValueError):
    """A configuration cannot be used.

    The loader raises it through ``from_problems``: ``problems`` then lists every reason found
    and the message holds one line per problem (source, line, key path, reason). Code that
    checks settings later (a TLS file that does not load) raises it with a plain message.
    """

    def __init__(
        self, message: str, *, source: str | None = None, problems: tuple[Problem, ...] = ()
    ) -> None:
        self.source = source
        self.problems = problems
        super().__init__(message)

    @classmethod
    def from_problems(cls, source: str, problems: tuple[Problem, ...]) -> ConfigError:
        """The error for ``problems`` found in ``source``."""
        message = "\n".join(problem.describe(source) for problem in problems)
        return cls(message, source=source, problems=problems)
