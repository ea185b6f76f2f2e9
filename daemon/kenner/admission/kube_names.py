"""Kubernetes object names and the API paths built from them (pure: strings in, strings out).

Every name that reaches an API path is checked first, as the API server checks it when the
object is created, so a name can never steer a read to another object:

* namespaces are DNS-1123 labels: lower-case letters, digits and ``-``, starting and ending
  with a letter or digit, at most 63 characters;
* object names (Secrets, ServiceAccounts, the workload kinds kenner reads) are DNS-1123
  subdomains: such labels joined by ``.``, at most 253 characters.

Neither can hold ``/``, ``%``, ``?``, ``#`` or a ``.``/``..`` segment. The path is then built
from its segments with each one percent-escaped (``object_path``), so even a segment the checks
let through could not add a path level. Both matter: httpx resolves a literal ``..`` in a path
before sending it (``/namespaces/a/secrets/../../b`` leaves as ``/namespaces/b``), and it sends
``%2e%2e`` and ``%2F`` as they are, for the API server to decode.
"""

from __future__ import annotations

import re
from urllib.parse import quote as percent_escape

from kenner.errors import KennerError
from kenner.quoting import quote

_LABEL = r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?"
_DNS1123_LABEL = re.compile(_LABEL)
_DNS1123_SUBDOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
LABEL_MAX = 63
SUBDOMAIN_MAX = 253


class KubeNameError(KennerError, ValueError):
    """A name is not a valid Kubernetes name of its kind; the message says which and why."""


def check_namespace(namespace: str) -> str:
    """``namespace`` if it is a DNS-1123 label (at most 63 characters).

    Raises:
        KubeNameError: it is not.
    """
    return _check(namespace, "namespace", _DNS1123_LABEL, LABEL_MAX, "DNS-1123 label")


def check_name(name: str, what: str = "name") -> str:
    """``name`` if it is a DNS-1123 subdomain (at most 253 characters); ``what`` names it in
    the error (``secret name``).

    Raises:
        KubeNameError: it is not.
    """
    return _check(name, what, _DNS1123_SUBDOMAIN, SUBDOMAIN_MAX, "DNS-1123 subdomain")


def object_path(group_version: str, resource: str, name: str, namespace: str | None = None) -> str:
    """The REST path of one object, every segment checked and percent-escaped.

    ``group_version`` is ``v1`` (the core group, under ``/api``) or ``group/version`` (under
    ``/apis``); ``resource`` the lower-case plural (``secrets``). For example
    ``object_path("apps/v1", "deployments", "web", "team")`` is
    ``/apis/apps/v1/namespaces/team/deployments/web``.

    Raises:
        KubeNameError: the namespace is not a DNS-1123 label, the name not a DNS-1123
            subdomain, or the group, version or resource is not a plain name.
    """
    parts = group_version.split("/")
    if len(parts) > 2:
        raise KubeNameError(f"apiVersion {quote(group_version)} has more than one '/'")
    for part in (*parts, resource):
        check_name(part, "API group, version or resource")
    segments = ["api" if len(parts) == 1 else "apis", *parts]
    if namespace is not None:
        segments += ["namespaces", check_namespace(namespace)]
    segments += [resource, check_name(name)]
    return path_of(*segments)


def path_of(*segments: str) -> str:
    """``/seg1/seg2/...`` with every segment percent-escaped (``/`` included).

    Raises:
        KubeNameError: a segment is empty, ``.`` or ``..`` (escaping cannot make those safe).
    """
    for segment in segments:
        if segment in ("", ".", ".."):
            raise KubeNameError(f"{quote(segment)} cannot be a path segment")
    return "".join("/" + percent_escape(segment, safe="") for segment in segments)


def _check(value: str, what: str, pattern: re.Pattern[str], limit: int, kind: str) -> str:
    if not value:
        raise KubeNameError(f"the {what} is empty")
    if len(value) > limit:
        raise KubeNameError(f"the {what} {quote(value)} is longer than {limit} characters")
    if pattern.fullmatch(value) is None:
        raise KubeNameError(
            f"the {what} {quote(value)} is not a {kind} (lower-case letters, digits, '-'"
            + (", '.'" if pattern is _DNS1123_SUBDOMAIN else "")
            + ")"
        )
    return value
