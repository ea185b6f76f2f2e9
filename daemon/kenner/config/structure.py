"""Plain data in kenner's layout -> frozen ``Config`` values, via cattrs, with located problems.

The converter is strict on purpose: unknown keys are errors, YAML scalars are never coerced
(``approve: "false"`` is not a boolean), and every failure is reported at its key path instead
of as a cattrs exception tree.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Literal, get_args, get_origin

import attrs
import cattrs
from cattrs.errors import (
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
)
from cattrs.gen import make_dict_structure_fn, override

from kenner.attest.errors import PolicyError
from kenner.attest.policy import Condition, parse_condition
from kenner.config.layouts import unknown_key_message
from kenner.config.model import (
    Config,
    CosignValidatorConfig,
    KeyFile,
    NotaryV1ValidatorConfig,
    NotationValidatorConfig,
    StaticValidatorConfig,
    ValidatorConfig,
)
from kenner.config.source import KeyPath
from kenner.errors import KennerError

SUPPORTED_VALIDATORS: dict[str, type[ValidatorConfig]] = {
    "static": StaticValidatorConfig,
    "notaryv1": NotaryV1ValidatorConfig,
    "cosign": CosignValidatorConfig,
    "notation": NotationValidatorConfig,
}
# Connaisseur validator types kenner knows of but does not verify yet.
_PLANNED_VALIDATORS = ("notaryv2",)
# Connaisseur's default Notary when a notaryv1 validator names no host.
DEFAULT_NOTARY_HOST = "notary.docker.io"
# A proof key shorter than this is refused; a file larger than this is not a key.
MIN_KEY_FILE_BYTES = 32
MAX_KEY_FILE_BYTES = 4096
# Field names whose YAML key is not their plain camelCase spelling.
_SPECIAL_KEYS = {"options": "with"}


class InvalidValue(KennerError, ValueError):
    """Raised by structuring hooks; ``key`` optionally narrows the location below the value."""

    def __init__(self, message: str, key: str | None = None) -> None:
        self.key = key
        super().__init__(message)


def yaml_key(field_name: str) -> str:
    """The YAML spelling of a model field: camelCase, with ``_s`` written as ``Seconds``."""
    if field_name in _SPECIAL_KEYS:
        return _SPECIAL_KEYS[field_name]
    if field_name.endswith("_s"):
        field_name = field_name[:-2] + "_seconds"
    head, *rest = field_name.split("_")
    return head + "".join(word.capitalize() for word in rest)


def yaml_keys(cl: type) -> list[str]:
    """The YAML keys an attrs class accepts, in field order."""
    return [yaml_key(field.name) for field in attrs.fields(cl)]


def structure_config(doc: Any) -> tuple[Config | None, list[tuple[KeyPath, str]]]:
    """Structure a kenner-layout document; returns the config or the problems (never both)."""
    try:
        return _converter().structure(doc, Config), []
    except (ClassValidationError, IterableValidationError, InvalidValue) as error:
        return None, list(_problems(error, ()))


@functools.cache
def _converter() -> cattrs.Converter:
    converter = cattrs.Converter(forbid_extra_keys=True)
    converter.register_structure_hook(str, _strict(str, "a string"))
    converter.register_structure_hook(bool, _strict(bool, "true or false"))
    converter.register_structure_hook(int, _structure_int)
    converter.register_structure_hook(float, _structure_float)
    converter.register_structure_hook(KeyFile, _structure_key_file)
    converter.register_structure_hook(Condition, _structure_condition)
    converter.register_structure_hook_func(_is_literal, _structure_literal)
    converter.register_structure_hook_func(_is_validator_union, _validator_hook(converter))
    converter.register_structure_hook_factory(_is_tuple, _tuple_factory(converter))
    converter.register_structure_hook_factory(_is_dict, _dict_factory(converter))
    converter.register_structure_hook_factory(attrs.has, _class_factory(converter))
    return converter


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}
    names |= {list: "a list", dict: "a mapping"}
    return names.get(type(value), type(value).__name__)


def _strict(kind: type, wanted: str) -> Callable[[Any, type], Any]:
    def structure(value: Any, _: type) -> Any:
        if type(value) is not kind:
            raise InvalidValue(f"must be {wanted}, got {_type_name(value)}")
        return value

    return structure


def _structure_int(value: Any, _: type) -> int:
    if type(value) is not int:
        raise InvalidValue(f"must be a whole number, got {_type_name(value)}")
    return value


def _structure_float(value: Any, _: type) -> float:
    if type(value) not in (int, float):
        raise InvalidValue(f"must be a number, got {_type_name(value)}")
    return float(value)


def _structure_key_file(value: Any, _: type) -> KeyFile:
    """A key file path: the file is read now, so a bad one is reported at its key and line."""
    if type(value) is not str or not value:
        raise InvalidValue(f"must be the path of a key file, got {_type_name(value)}")
    try:
        with open(value, "rb") as file:
            secret = file.read(MAX_KEY_FILE_BYTES + 1)
    except OSError as error:
        raise InvalidValue(f"cannot read the key file: {error.strerror or error}") from None
    if len(secret) < MIN_KEY_FILE_BYTES:
        message = f"holds {len(secret)} bytes; a key needs at least {MIN_KEY_FILE_BYTES}"
        raise InvalidValue(f"{value}: {message}")
    if len(secret) > MAX_KEY_FILE_BYTES:
        raise InvalidValue(f"{value}: more than {MAX_KEY_FILE_BYTES} bytes; not a key file")
    return KeyFile(value, secret)


def _structure_condition(value: Any, _: type) -> Condition:
    try:
        return parse_condition(value)
    except PolicyError as error:
        raise InvalidValue(str(error), key=error.key) from None


def _is_literal(tp: Any) -> bool:
    return get_origin(tp) is Literal


def _structure_literal(value: Any, tp: Any) -> Any:
    allowed = get_args(tp)
    if not isinstance(value, str) or value not in allowed:
        raise InvalidValue(f"must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _is_validator_union(tp: Any) -> bool:
    return bool(tp == ValidatorConfig)


def _validator_hook(converter: cattrs.Converter) -> Callable[[Any, Any], ValidatorConfig]:
    def structure(value: Any, _: Any) -> ValidatorConfig:
        if not isinstance(value, Mapping):
            raise InvalidValue(f"must be a mapping, got {_type_name(value)}")
        kind = value.get("type")
        supported = ", ".join(SUPPORTED_VALIDATORS)
        if kind is None:
            raise InvalidValue(f"missing required key 'type' (one of {supported})")
        if kind in _PLANNED_VALIDATORS:
            raise InvalidValue(f"validator type '{kind}' is not supported yet", key="type")
        if kind not in SUPPORTED_VALIDATORS:
            raise InvalidValue(f"must be one of {supported}, got {kind!r}", key="type")
        if kind == "notaryv1" and "host" not in value:
            value = {**value, "host": DEFAULT_NOTARY_HOST}
        result: ValidatorConfig = converter.structure(value, SUPPORTED_VALIDATORS[kind])
        return result

    return structure


def _is_tuple(tp: Any) -> bool:
    return get_origin(tp) is tuple


def _tuple_factory(converter: cattrs.Converter) -> Callable[[Any], Callable[[Any, Any], Any]]:
    # A string is iterable too; without the check "a" would become ("a",).
    return _shape_checked(converter, cattrs.cols.homogenous_tuple_structure_factory, list, "list")


def _is_dict(tp: Any) -> bool:
    return get_origin(tp) is dict


def _dict_factory(converter: cattrs.Converter) -> Callable[[Any], Callable[[Any, Any], Any]]:
    # Without the check a list or string fails inside cattrs with an AttributeError.
    return _shape_checked(converter, cattrs.cols.mapping_structure_factory, Mapping, "mapping")


def _shape_checked(
    converter: cattrs.Converter,
    cattrs_factory: Callable[[Any, cattrs.Converter], Callable[[Any, Any], Any]],
    shape: type,
    shape_name: str,
) -> Callable[[Any], Callable[[Any, Any], Any]]:
    """A structure-hook factory that refuses values of the wrong shape with a clear message
    before handing them to cattrs' own ``cattrs_factory``."""

    def factory(tp: Any) -> Callable[[Any, Any], Any]:
        structure_items = cattrs_factory(tp, converter)

        def structure(value: Any, _: Any) -> Any:
            if not isinstance(value, shape):
                raise InvalidValue(f"must be a {shape_name}, got {_type_name(value)}")
            return structure_items(value, tp)

        return structure

    return factory


def _class_factory(converter: cattrs.Converter) -> Callable[[Any], Callable[[Any, Any], Any]]:
    return _shape_checked(converter, _camel_case_fields, Mapping, "mapping")


def _camel_case_fields(cl: Any, converter: cattrs.Converter) -> Callable[[Any, Any], Any]:
    """cattrs' structuring of an attrs class, reading each field from its YAML (camelCase) key."""
    # Typed Any: mypy would otherwise match the overrides against the generator's own
    # keyword parameters.
    renames: dict[str, Any] = {f.name: override(rename=yaml_key(f.name)) for f in attrs.fields(cl)}
    return make_dict_structure_fn(cl, converter, **renames)


def _problems(error: BaseException, path: KeyPath) -> Iterator[tuple[KeyPath, str]]:
    """Flatten a cattrs error tree into (key path, message) pairs."""
    if isinstance(error, ClassValidationError):
        located, unlocated = error.group_exceptions()
        for sub_error, note in located:
            key = yaml_key(note.name)
            if isinstance(sub_error, KeyError):
                yield path, f"missing required key '{key}'"
            else:
                yield from _problems(sub_error, (*path, key))
        for sub_error in unlocated:
            yield from _problems(sub_error, path)
    elif isinstance(error, IterableValidationError):
        located_items, unlocated = error.group_exceptions()
        for sub_error, item_note in located_items:
            yield from _problems(sub_error, (*path, item_note.index))
        for sub_error in unlocated:
            yield from _problems(sub_error, path)
    elif isinstance(error, ForbiddenExtraKeysError):
        for key in sorted(error.extra_fields, key=str):
            yield (*path, key), unknown_key_message(key, yaml_keys(error.cl))
    elif isinstance(error, InvalidValue):
        yield (path if error.key is None else (*path, error.key)), str(error)
    else:
        yield path, f"invalid value ({type(error).__name__}: {error})"
