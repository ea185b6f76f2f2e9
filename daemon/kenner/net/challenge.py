"""Parsing ``WWW-Authenticate`` headers (RFC 9110 section 11.6.1).

A header holds one or more challenges, each a scheme followed by comma-separated
``name=value`` parameters whose values are tokens or quoted strings; quoted strings may hold
commas and backslash escapes, which is why splitting on commas is not enough::

    Bearer realm="https://auth.example/token",service="registry",scope="repository:a/b:pull,push"
"""

from __future__ import annotations

import re

import attrs

from kenner.errors import KennerError

# RFC 9110 "token" characters.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# token68 (a bare credential-like blob after the scheme, e.g. "Negotiate abc==").
_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_WHITESPACE = re.compile(r"[ \t]*")


class ChallengeError(KennerError, ValueError):
    """A ``WWW-Authenticate`` header is malformed."""


@attrs.frozen
class Challenge:
    """One authentication challenge: ``scheme`` lower-cased, parameter names lower-cased."""

    scheme: str
    params: tuple[tuple[str, str], ...] = ()

    def param(self, name: str) -> str | None:
        """The value of parameter ``name`` (any case), or None."""
        wanted = name.lower()
        return next((value for key, value in self.params if key == wanted), None)


def parse_challenges(header: str) -> tuple[Challenge, ...]:
    """Every challenge in ``header``, in order.

    Raises:
        ChallengeError: the header does not follow the challenge grammar.
    """
    return _Parser(header).challenges()


class _Parser:
    def __init__(self, text: str) -> None:
        self._text = text
        self._pos = 0

    def challenges(self) -> tuple[Challenge, ...]:
        found: list[Challenge] = []
        while True:
            self._skip_separators()
            if self._at_end():
                return tuple(found)
            scheme = self._token("an authentication scheme")
            found.append(Challenge(scheme.lower(), self._params()))

    def _params(self) -> tuple[tuple[str, str], ...]:
        params: list[tuple[str, str]] = []
        self._skip(_WHITESPACE)
        if self._token68_follows():
            self._skip(_TOKEN68)  # carries no parameters kenner uses
            return ()
        while True:
            start = self._pos
            self._skip_separators()
            name_match = _TOKEN.match(self._text, self._pos)
            if name_match is None:
                self._pos = start
                return tuple(params)
            self._pos = name_match.end()
            self._skip(_WHITESPACE)
            if not self._text.startswith("=", self._pos):
                # A token without "=" starts the next challenge.
                self._pos = start
                return tuple(params)
            self._pos += 1
            self._skip(_WHITESPACE)
            params.append((name_match.group().lower(), self._value()))

    def _token68_follows(self) -> bool:
        match = _TOKEN68.match(self._text, self._pos)
        if match is None:
            return False
        rest = self._text[match.end() :].lstrip(" \t")
        # "name=value" also matches token68 up to the "=", so only a blob ending the challenge
        # (end of text or a comma) that isn't followed by a value is a token68.
        return (rest == "" or rest.startswith(",")) and "=" not in match.group().rstrip("=")

    def _value(self) -> str:
        if self._text.startswith('"', self._pos):
            return self._quoted()
        return self._token("a parameter value")

    def _quoted(self) -> str:
        chars: list[str] = []
        pos = self._pos + 1
        while pos < len(self._text):
            char = self._text[pos]
            if char == "\\" and pos + 1 < len(self._text):
                chars.append(self._text[pos + 1])
                pos += 2
            elif char == '"':
                self._pos = pos + 1
                return "".join(chars)
            else:
                chars.append(char)
                pos += 1
        raise ChallengeError(f"unterminated quoted string at offset {self._pos}")

    def _token(self, what: str) -> str:
        match = _TOKEN.match(self._text, self._pos)
        if match is None:
            raise ChallengeError(f"expected {what} at offset {self._pos}")
        self._pos = match.end()
        return match.group()

    def _skip_separators(self) -> None:
        while not self._at_end() and self._text[self._pos] in " \t,":
            self._pos += 1

    def _skip(self, pattern: re.Pattern[str]) -> None:
        match = pattern.match(self._text, self._pos)
        if match is not None:
            self._pos = match.end()

    def _at_end(self) -> bool:
        return self._pos >= len(self._text)
