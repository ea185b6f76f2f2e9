"""Load kenner's configuration from YAML: parse, rewrite the layout, structure, check.

Every failure becomes one ``ConfigError`` listing all problems found in the phase that failed,
each with the source, line, key path (in the source's own spelling) and reason.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from importlib import resources

from kenner.config.checks import check_child_approval, check_config
from kenner.config.errors import ConfigError, Problem
from kenner.config.layouts import Translation, translate
from kenner.config.model import Config
from kenner.config.source import KeyPath, ParsedSource, SourceSyntaxError, format_path, parse_yaml
from kenner.config.structure import structure_config

__all__ = ["ConfigError", "Problem", "default_config", "load_config", "load_config_file"]

DEFAULT_CONFIG_RESOURCE = "default.yaml"


def load_config(text: str, source: str = "<config>") -> Config:
    """Build a ``Config`` from YAML text in kenner's or Connaisseur's (v2 or v3) layout.

    Args:
        text: The YAML document.
        source: What to call the text in error messages (usually its file name).

    Raises:
        ConfigError: the text is not valid YAML or not a valid configuration.
    """
    try:
        parsed = parse_yaml(text)
    except SourceSyntaxError as error:
        raise _error(source, [Problem("", error.line, str(error))]) from None
    if parsed.duplicates:
        raise _error(
            source,
            [
                Problem(format_path(path), line, f"duplicate key (first given at line {first})")
                for path, line, first in parsed.duplicates
            ],
        )
    if parsed.data is None:
        raise _error(source, [Problem("", 1, "the configuration is empty")])
    if not isinstance(parsed.data, Mapping):
        raise _error(source, [Problem("", 1, "the top level must be a mapping")])
    translation = translate(parsed.data)
    if translation.problems:
        raise _error(source, _located(parsed, translation.problems))
    config, problems = structure_config(translation.doc)
    if config is None:
        raise _error(source, _located(parsed, _to_source(translation, problems)))
    config, problems = check_config(config)
    features = translation.doc.get("features")
    explicit = list(features) if isinstance(features, Mapping) else []
    config, more = check_child_approval(config, explicit)
    problems += more
    if problems:
        raise _error(source, _located(parsed, _to_source(translation, problems)))
    return config


def load_config_file(path: str | os.PathLike[str]) -> Config:
    """Read and load a configuration file (UTF-8); errors name the file.

    Raises:
        ConfigError: the file cannot be read, or its content is not a valid configuration.
    """
    source = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError.from_problems(
            source, (Problem("", None, f"cannot be read: {error}"),)
        ) from error
    return load_config(text, source)


def default_config() -> Config:
    """The built-in configuration (``kenner/config/default.yaml``): allow registry.k8s.io only."""
    text = resources.files("kenner.config").joinpath(DEFAULT_CONFIG_RESOURCE).read_text("utf-8")
    return load_config(text, f"<built-in {DEFAULT_CONFIG_RESOURCE}>")


def _error(source: str, problems: Iterable[Problem]) -> ConfigError:
    ordered = sorted(problems, key=lambda problem: (problem.line or 0, problem.path))
    return ConfigError.from_problems(source, tuple(ordered))


def _to_source(
    translation: Translation, problems: Iterable[tuple[KeyPath, str]]
) -> list[tuple[KeyPath, str]]:
    return [(translation.source_path(path), message) for path, message in problems]


def _located(parsed: ParsedSource, problems: Iterable[tuple[KeyPath, str]]) -> list[Problem]:
    return [_problem(parsed, path, message) for path, message in problems]


def _problem(parsed: ParsedSource, path: KeyPath, message: str) -> Problem:
    return Problem(path=format_path(path), line=parsed.line_of(path), message=message)
