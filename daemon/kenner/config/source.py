"""YAML text to plain data plus the line of every key, so errors can point into the file."""

from __future__ import annotations

from typing import Any

import attrs
import yaml

from kenner.errors import KennerError

KeyPath = tuple[str | int, ...]

# PyYAML's tag for the "<<" merge key; merged entries have no line of their own in the
# document, so their paths fall back to the line of the mapping that merges them.
_MERGE_TAG = "tag:yaml.org,2002:merge"


def format_path(path: KeyPath) -> str:
    """``("application", "policy", 3, "with")`` -> ``application.policy[3].with``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


class SourceSyntaxError(KennerError, ValueError):
    """The text is not YAML kenner can read; ``line`` is 1-based or None."""

    def __init__(self, line: int | None, message: str) -> None:
        self.line = line
        super().__init__(message)


@attrs.frozen
class ParsedSource:
    """The data of a YAML document and the 1-based line of each key path in it."""

    data: Any
    lines: dict[KeyPath, int]
    duplicates: tuple[tuple[KeyPath, int, int], ...]  # repeated key, its line, first line

    def line_of(self, path: KeyPath) -> int | None:
        """The line of ``path``, or of its closest ancestor present in the document."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return None


def parse_yaml(text: str) -> ParsedSource:
    """Parse one YAML document (safe tags only) and map its key paths to lines.

    Raises:
        SourceSyntaxError: the text is not a single well-formed YAML document.
    """
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        lines: dict[KeyPath, int] = {}
        duplicates: list[tuple[KeyPath, int, int]] = []
        if node is not None:
            _walk(node, (), lines, duplicates, set())
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = None if mark is None else mark.line + 1
        raise SourceSyntaxError(line, f"not valid YAML: {error.problem or error}") from error
    except yaml.YAMLError as error:
        raise SourceSyntaxError(None, f"not valid YAML: {error}") from error
    finally:
        loader.dispose()
    return ParsedSource(data=data, lines=lines, duplicates=tuple(duplicates))


def _walk(
    node: yaml.Node,
    path: KeyPath,
    lines: dict[KeyPath, int],
    duplicates: list[tuple[KeyPath, int, int]],
    visited: set[int],
) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    # An alias reuses its anchor's node: walking it again would add no line of its own and,
    # for nested aliases ("billion laughs"), take exponential time.
    if id(node) in visited:
        return
    visited.add(id(node))
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG or not isinstance(key_node, yaml.ScalarNode):
                continue
            key = str(key_node.value)
            key_line = key_node.start_mark.line + 1
            if key in seen:
                # PyYAML keeps the last value silently; a repeated key is almost always an
                # editing mistake that would make part of the policy vanish unnoticed.
                duplicates.append(((*path, key), key_line, seen[key]))
                continue
            seen[key] = key_line
            lines[(*path, key)] = key_line
            _walk(value_node, (*path, key), lines, duplicates, visited)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), lines, duplicates, visited)
