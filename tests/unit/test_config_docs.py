"""docs/configuration.md against the loader, so the key reference cannot drift.

The accepted keys are derived, never listed here: kenner's layout from the attrs model classes
spelled by ``kenner.config.structure.yaml_key`` (the loader's own renaming), Connaisseur's
layouts and the snake_case aliases by asking ``load_config`` (an unknown key is answered with
the keys expected there; an alias is accepted where its key is). The reference is the doc's
tables: the first header cell names the key prefix(es) in backticks, the first cell of a row
the key(s). Every ```yaml block in the doc must load.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
import yaml

from kenner.config.errors import ConfigError, Problem
from kenner.config.layouts import translate
from kenner.config.load import load_config
from kenner.config.model import Config
from kenner.config.structure import SUPPORTED_VALIDATORS, yaml_key

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
KENNER = "kenner's layout"
V3 = "Connaisseur's Helm values (v3)"
V2 = "Connaisseur's Helm values (v2)"
ALIASES = "Connaisseur's snake_case spellings"
JUNK = "zzzzzz"  # a key no loader accepts and no accepted key resembles
V3_BASE: dict[str, Any] = {"application": {}}
V2_BASE: dict[str, Any] = {"deployment": {}}  # a chart key: marks the v2 layout


# --- the doc -------------------------------------------------------------------------------

_CODE = re.compile(r"`([^`]+)`")
_HEADING = re.compile(r"(#+) (.+)")


@attrs.frozen
class Table:
    """One markdown table: the headings it is under, its key prefixes, each row's code spans."""

    headings: tuple[str, ...]
    prefixes: tuple[str, ...]
    rows: tuple[tuple[tuple[str, ...], ...], ...]  # row -> cell -> `code` spans

    def keys(self) -> set[str]:
        return {prefix + key for prefix in self.prefixes for row in self.rows for key in row[0]}


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def doc_tables(text: str) -> list[Table]:
    tables: list[Table] = []
    headings: list[tuple[int, str]] = []
    lines = text.splitlines()
    in_fence, index = False, 0
    while index < len(lines):
        line = lines[index]
        heading = _HEADING.fullmatch(line)
        if line.startswith("```"):
            in_fence = not in_fence
        elif not in_fence and heading:
            level = len(heading[1])
            headings = [*(h for h in headings if h[0] < level), (level, heading[2])]
        elif not in_fence and line.startswith("|") and lines[index + 1].startswith("|---"):
            prefixes = tuple(_CODE.findall(_cells(line)[0])) or ("",)
            index += 2
            rows = []
            while index < len(lines) and lines[index].startswith("|"):
                rows.append(tuple(tuple(_CODE.findall(cell)) for cell in _cells(lines[index])))
                index += 1
            tables.append(Table(tuple(h for _, h in headings), prefixes, tuple(rows)))
            continue
        index += 1
    return tables


def documented(heading: str) -> set[str]:
    """The key paths of every table under ``heading`` (at any depth)."""
    tables = doc_tables(DOC.read_text(encoding="utf-8"))
    return set().union(*(table.keys() for table in tables if heading in table.headings))


def yaml_blocks() -> list[str]:
    return re.findall(r"^```yaml\n(.*?)^```$", DOC.read_text(encoding="utf-8"), re.M | re.S)


# --- the loader ----------------------------------------------------------------------------


@attrs.frozen
class Key:
    """A key path of kenner's layout (``validators[].trustRoots[].name``) and its validator."""

    path: str
    validator_type: str | None  # the ``type`` a validator needs for the loader to reach it


def _nested_classes(annotation: Any) -> tuple[list[type], bool]:
    """The attrs classes a field holds (one per union member) and whether it holds a list."""

    def members(tp: Any) -> list[Any]:
        is_union = typing.get_origin(tp) in (typing.Union, types.UnionType)
        return [arg for arg in typing.get_args(tp) if arg is not type(None)] if is_union else [tp]

    found, is_list = members(annotation), False
    if len(found) == 1 and typing.get_origin(found[0]) is tuple:
        found, is_list = members(typing.get_args(found[0])[0]), True
    return [tp for tp in found if attrs.has(tp)], is_list


def model_keys(cl: type, prefix: str = "", validator_type: str | None = None) -> Iterator[Key]:
    """Every YAML key path the attrs class ``cl`` accepts, nested classes included."""
    if cl in SUPPORTED_VALIDATORS.values():
        validator_type = attrs.fields_dict(cl)["type"].default
    hints = typing.get_type_hints(cl)
    for field in attrs.fields(cl):
        path = prefix + yaml_key(field.name)
        yield Key(path, validator_type)
        classes, is_list = _nested_classes(hints[field.name])
        for nested in classes:
            yield from model_keys(nested, path + ("[]." if is_list else "."), validator_type)


def nest(path: str, leaf: Any, validator_type: str | None = None) -> dict[str, Any]:
    """``a.b[].c`` -> ``{a: {b: [{c: leaf}]}}``; validators get their ``type``."""
    parts = path.split(".")
    root: dict[str, Any] = {}
    node = root
    for position, part in enumerate(parts):
        name = part.removesuffix("[]")
        if position == len(parts) - 1:
            node[name] = leaf
            break
        child: dict[str, Any] = {"type": validator_type} if name == "validators" else {}
        node[name] = [child] if part.endswith("[]") else child
        node = child
    return root


def problems(doc: dict[str, Any]) -> tuple[Problem, ...]:
    try:
        load_config(yaml.safe_dump(doc))
    except ConfigError as error:
        return error.problems
    return ()


def expected_keys(doc: dict[str, Any]) -> set[str]:
    """The keys the loader lists when ``doc`` holds the key JUNK."""
    for problem in problems(doc):
        found = re.fullmatch(rf"unknown key '{JUNK}' \(expected one of (.*)\)", problem.message)
        if found:
            return set(found[1].split(", "))
    raise AssertionError(f"no unknown-key problem for {JUNK!r} in {doc}")


def accepts(path: str, base: dict[str, Any], validator_type: str | None = None) -> bool:
    """Whether the loader takes the last key of ``path`` there (not 'unknown key')."""
    head, _, key = path.rpartition(".")
    where = f"{head}." if head else ""
    control = problems({**base, **nest(where + JUNK, None, validator_type)})
    # The control proves the probe reaches the phase and place where unknown keys are found.
    assert any(p.message.startswith(f"unknown key '{JUNK}'") for p in control), path
    probed = problems({**base, **nest(path, None, validator_type)})
    return not any(p.message.startswith(f"unknown key '{key}'") for p in probed)


def snake(key: str) -> str:
    return re.sub(r"[A-Z]", lambda upper: "_" + upper[0].lower(), key)


KENNER_KEYS = list(model_keys(Config))
VALIDATOR_TYPE = {key.path: key.validator_type for key in KENNER_KEYS}


# --- the tests -----------------------------------------------------------------------------


def test_kenner_layout_documents_exactly_the_model_keys() -> None:
    model = {key.path for key in KENNER_KEYS}
    assert {"validators[].trustRoots[].keyless.subjectRegex", "log.accessLog"} <= model
    doc = documented(KENNER)
    assert sorted(model - doc) == [], "accepted by the loader, missing from the doc"
    assert sorted(doc - model) == [], "in the doc, not accepted by the loader"


@pytest.mark.parametrize("validator", SUPPORTED_VALIDATORS.values(), ids=SUPPORTED_VALIDATORS)
def test_each_validator_type_documents_its_own_keys(validator: type) -> None:
    def paths(cl: type) -> set[str]:
        return {key.path for key in model_keys(cl, "validators[].")}

    common = set.intersection(*(paths(cl) for cl in SUPPORTED_VALIDATORS.values()))
    own = paths(validator) - common
    doc = documented(f"`type: {attrs.fields_dict(validator)['type'].default}`")
    assert sorted(own - doc) == [], "accepted for this type, missing from its table"
    assert sorted(doc - own) == [], "documented for this type, not accepted by it"


def test_loader_accepts_every_model_key_where_derived() -> None:
    refused = [key.path for key in KENNER_KEYS if not accepts(key.path, {}, key.validator_type)]
    assert refused == []


def test_connaisseur_v3_keys() -> None:
    loader = {"application", *expected_keys({**V3_BASE, JUNK: None})}
    for mapping in ("application", "application.features", "application.features.cache"):
        inner = expected_keys(nest(f"{mapping}.{JUNK}", None))
        loader |= {f"{mapping}.{key}" for key in inner}
    doc = documented(V3)
    assert sorted(loader - doc) == [], "accepted by the loader, missing from the doc"
    assert [path for path in sorted(doc) if not accepts(path, V3_BASE)] == []


def test_connaisseur_v2_keys() -> None:
    loader = expected_keys({**V2_BASE, JUNK: None})
    inner = expected_keys({**V2_BASE, "automaticChildApproval": {JUNK: None}})
    loader |= {f"automaticChildApproval.{key}" for key in inner}
    doc = documented(V2)
    assert sorted(loader - doc) == [], "accepted by the loader, missing from the doc"
    assert [path for path in sorted(doc) if not accepts(path, V2_BASE)] == []


def _alias_pairs_in_doc() -> set[tuple[str, str]]:
    tables = doc_tables(DOC.read_text(encoding="utf-8"))
    rows = [row for table in tables if ALIASES in table.headings for row in table.rows]
    return {(alias, path) for row in rows for alias in row[0] for path in row[1]}


def test_every_snake_case_alias_is_documented() -> None:
    loader = set()
    for key in KENNER_KEYS:
        head, _, name = key.path.rpartition(".")
        alias = snake(name)
        if alias != name:
            probe = f"{head}.{alias}" if head else alias
            if accepts(probe, {}, key.validator_type):
                loader.add((alias, key.path))
    assert ("trust_roots", "validators[].trustRoots") in loader
    assert sorted(loader - _alias_pairs_in_doc()) == []


def test_every_documented_alias_is_accepted_for_its_key() -> None:
    pairs = _alias_pairs_in_doc()
    assert pairs
    for alias, path in sorted(pairs):
        assert path in VALIDATOR_TYPE, f"{path} is not a key of kenner's layout"
        head, _, _ = path.rpartition(".")
        probe = f"{head}.{alias}" if head else alias
        assert accepts(probe, {}, VALIDATOR_TYPE[path]), f"{alias} for {path}"


def test_every_yaml_example_loads_and_each_layout_has_one() -> None:
    blocks = yaml_blocks()
    layouts = set()
    for block in blocks:
        load_config(block, "docs/configuration.md example")
        data = yaml.safe_load(block)
        layouts.add(translate(data).layout)
        if translate(data).layout == "kenner":
            # The kenner-layout example is announced as complete: every section appears.
            assert set(data) == {yaml_key(field.name) for field in attrs.fields(Config)}
    assert layouts == {"kenner", "connaisseur-v3", "connaisseur-v2"}


def _slug(heading: str) -> str:
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def test_links_point_at_existing_files_and_headings() -> None:
    text = DOC.read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    assert links
    for link in links:
        target, _, anchor = link.partition("#")
        path = (DOC.parent / target).resolve() if target else DOC
        assert path.exists(), link
        if anchor:
            headings = _HEADING.findall(path.read_text(encoding="utf-8"))
            assert anchor in {_slug(title) for _, title in headings}, link
