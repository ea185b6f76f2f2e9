"""``Config`` -> YAML in kenner's own layout (what ``load_config`` reads back to an equal value).

The tests use it to check that loading is lossless (``load_config(dump_config(c)) == c``) and
that a Connaisseur-layout config means the same as its kenner-layout twin. It is not part of
the daemon: no command prints a config. The output contains inline credentials
(``auth.password``) when the config has them.
"""

from __future__ import annotations

import functools
from typing import Any

import attrs
import cattrs
import yaml
from cattrs.gen import make_dict_unstructure_fn, override

from kenner.config.model import Config
from kenner.config.structure import yaml_key


def dump_config(config: Config) -> str:
    """The YAML text of ``config`` in kenner's layout; values equal to a default are left out."""
    data = _converter().unstructure(config)
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False)


class _Dumper(yaml.SafeDumper):
    """Writes multi-line strings (PEM keys and certificates) as readable ``|`` blocks."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


@functools.cache
def _converter() -> cattrs.Converter:
    converter = cattrs.Converter()

    def factory(cl: Any) -> Any:
        # Typed Any: see kenner.config.structure._class_factory.
        # The validator "type" is the union's tag: always written although it has a default.
        renames: dict[str, Any] = {
            f.name: override(rename=yaml_key(f.name), omit_if_default=f.name != "type")
            for f in attrs.fields(cl)
        }
        return make_dict_unstructure_fn(cl, converter, **renames)

    converter.register_unstructure_hook_factory(attrs.has, factory)
    return converter
