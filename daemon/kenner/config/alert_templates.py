"""Alert payload templates: Connaisseur's ``{{ name }}`` JSON templates, rendered safely.

A template is JSON text with ``{{ variable }}`` placeholders. Every value is JSON-escaped
before it is put in, so a hostile image name or namespace can end a string no earlier than
the template does: it cannot add keys or change the document's shape. The rendered text must
parse as a JSON object; ``payloadFields`` are then merged into its top level (replacing keys of
the same name) and the result is written compactly with sorted keys, as Connaisseur's Go
version does. An empty template renders to nothing: no alert is sent.

A template is part of the configuration: ``receivers[].template`` names it, and the loader
(``alert_checks``) loads and renders each with sample values, so a broken one is refused with
the rest of the config. It lives in ``kenner.config`` for that reason; ``kenner.alerting``
renders the configured templates and imports this module, never the other way round. The
shipped templates are the ``templates/`` folder next to this module.

Pure: no I/O beyond reading a template file by name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path

import attrs

from kenner.errors import KennerError
from kenner.quoting import clip

# Images listed in an alert's ``images`` variable; the rest are counted.
MAX_ALERT_IMAGES = 50

VARIABLES = (
    "alert_message",
    "priority",
    "connaisseur_pod_id",
    "cluster",
    "namespace",
    "timestamp",
    "request_id",
    "images",
)
# Connaisseur's Go version finds "{{" ... "}}" without braces inside; anything else is text,
# so a single "{ priority }" stays literal.
_PLACEHOLDER = re.compile(r"\{\{([^{}]*)\}\}")
_TEMPLATE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class TemplateError(KennerError, ValueError):
    """A template cannot be found, read or rendered; the message names it and says why."""


@attrs.frozen
class AlertValues:
    """The values a template may use (Connaisseur's variable names)."""

    alert_message: str
    priority: int
    connaisseur_pod_id: str
    cluster: str
    namespace: str
    timestamp: str
    request_id: str
    images: str

    def as_text(self) -> dict[str, str]:
        """Each variable's value as the text that goes into the template."""
        return {name: str(getattr(self, name)) for name in VARIABLES}


def images_text(images: Sequence[str]) -> str:
    """The ``images`` variable: a list in Connaisseur's (Python) spelling, ``['a', 'b']``.

    Bounded like every message quoting input: at most ``MAX_ALERT_IMAGES`` entries (then one
    entry counting the rest), each clipped to 200 characters.
    """
    listed = [clip(image) for image in images[:MAX_ALERT_IMAGES]]
    if len(images) > MAX_ALERT_IMAGES:
        listed.append(f"... and {len(images) - MAX_ALERT_IMAGES} more")
    return repr(listed)


@attrs.frozen
class Template:
    """A loaded template: its name (for messages) and its text."""

    name: str
    text: str

    @property
    def variables(self) -> tuple[str, ...]:
        """The placeholder names used, in order of first use."""
        names = (match.group(1).strip() for match in _PLACEHOLDER.finditer(self.text))
        return tuple(dict.fromkeys(names))

    def check(self) -> None:
        """Render with sample values so that a broken template is refused when configured.

        Raises:
            TemplateError: an unknown variable, or the result is not a JSON object.
        """
        sample = AlertValues(
            alert_message='sample "message"',
            priority=3,
            connaisseur_pod_id="kenner-0",
            cluster="cluster",
            namespace="default",
            timestamp="1970-01-01T00:00:00.000Z",
            request_id="00000000-0000-0000-0000-000000000000",
            images=images_text(["docker.io/library/sample:1"]),
        )
        render_payload(self, sample, {})


def render_payload(
    template: Template, values: AlertValues, payload_fields: Mapping[str, object]
) -> bytes | None:
    """The request body for one receiver, or None when the template is empty.

    Raises:
        TemplateError: the template uses an unknown variable, or does not render to a JSON
            object.
    """
    unknown = [name for name in template.variables if name not in VARIABLES]
    if unknown:
        raise TemplateError(
            f"template {template.name!r} uses unknown variable {unknown[0]!r} "
            f"(known: {', '.join(VARIABLES)})"
        )
    if not template.text.strip():
        return None
    escaped = {name: _json_escape(text) for name, text in values.as_text().items()}
    rendered = _PLACEHOLDER.sub(lambda match: escaped[match.group(1).strip()], template.text)
    try:
        document = json.loads(rendered)
    except json.JSONDecodeError as error:
        raise TemplateError(
            f"template {template.name!r} does not render to JSON: {error.msg} "
            f"(line {error.lineno}, column {error.colno})"
        ) from None
    if not isinstance(document, dict):
        raise TemplateError(f"template {template.name!r} must render to a JSON object")
    document.update(payload_fields)
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _json_escape(text: str) -> str:
    """``text`` as the inside of a JSON string literal (quotes and controls escaped)."""
    return json.dumps(text)[1:-1]


def is_template_name(name: str) -> bool:
    """A plain file stem (``slack``, ``ecs-1-12-0``), never a path."""
    return bool(_TEMPLATE_NAME.fullmatch(name)) and ".." not in name


def shipped_template_names() -> tuple[str, ...]:
    """The templates that come with kenner."""
    files = _shipped().iterdir()
    return tuple(sorted(f.name.removesuffix(".json") for f in files if f.name.endswith(".json")))


def load_template(name: str, template_dir: str | None) -> Template:
    """``<name>.json`` from ``template_dir`` if it is there, else the shipped one.

    Raises:
        TemplateError: the name is not a plain name, or no such template can be read.
    """
    if not is_template_name(name):
        raise TemplateError(f"template name {name!r} must be a plain name such as 'slack'")
    file_name = f"{name}.json"
    if template_dir is not None:
        path = Path(template_dir) / file_name
        if path.is_file():
            try:
                return Template(name, path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError) as error:
                raise TemplateError(f"template {name!r}: cannot read {path}: {error}") from None
    shipped = _shipped().joinpath(file_name)
    if shipped.is_file():
        return Template(name, shipped.read_text(encoding="utf-8"))
    where = f"in {template_dir} or " if template_dir is not None else ""
    raise TemplateError(
        f"no alert template {name!r} {where}among the shipped ones "
        f"({', '.join(shipped_template_names())})"
    )


def _shipped() -> resources.abc.Traversable:
    return resources.files("kenner.config").joinpath("templates")
