"""Every exception class kenner defines derives from ``KennerError`` (issue 11 point 12)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import kenner
from kenner.errors import KennerError


def _kenner_exception_classes() -> list[type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for module_info in pkgutil.walk_packages(kenner.__path__, "kenner."):
        if module_info.name == "kenner.__main__":
            continue  # runs the command when imported
        module = importlib.import_module(module_info.name)
        for value in vars(module).values():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == module.__name__
            ):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return list(found.values())


def test_every_exception_class_of_the_package_derives_from_kenner_error() -> None:
    classes = _kenner_exception_classes()
    assert len(classes) > 30  # the walk found the package's modules
    strays = [f"{cls.__module__}.{cls.__qualname__}" for cls in classes]
    strays = [
        name
        for name, cls in zip(strays, classes, strict=True)
        if cls is not KennerError and not issubclass(cls, KennerError)
    ]
    assert strays == []


def test_former_value_errors_are_still_value_errors() -> None:
    # Callers that catch ValueError (e.g. around parsing) keep working.
    from kenner.config.errors import ConfigError
    from kenner.tuf.keys import KeyFormatError

    assert issubclass(ConfigError, ValueError)
    assert issubclass(KeyFormatError, ValueError)
