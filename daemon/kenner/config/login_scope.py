"""Where a cosign or notation validator's plain login may be sent: its scope, fixed at config load.

A plain login (``auth.username``/``auth.password``, or ``username``/``password`` files in the
``auth.secretName`` directory) carries no registry of its own, unlike a ``.dockerconfigjson``
entry whose key names one. Its scope is ``auth.registry`` when given, else the literal registry
hosts of the policy rules that use the validator (``registry.example/*``, ``nginx`` for Docker
Hub); a rule that globs the host (``*:*``, ``*.example/*``) adds nothing, since an image naming
any registry could match it. A plain login is sent only for images on a host of its scope; an
empty scope is refused (``checks`` for an inline login, the validator builder for files).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

import attrs

from kenner.admission.policy import literal_registry
from kenner.config.model import Auth, CosignValidatorConfig, NotationValidatorConfig, Rule
from kenner.config.source import KeyPath
from kenner.oci.naming import canonical_registry

# A host name or IPv4 address, or a bracketed IPv6 address, with an optional port.
REGISTRY_HOST = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?"
)
NO_SCOPE = (
    "a plain login needs a registry: set auth.registry or name the registry in a rule for "
    "this validator"
)


def plain_login_scope(
    validator: CosignValidatorConfig | NotationValidatorConfig, policy: Iterable[Rule]
) -> frozenset[str]:
    """The registries (``canonical_registry`` form) the validator's plain login may go to."""
    if validator.auth is not None and validator.auth.registry is not None:
        return frozenset({canonical_registry(validator.auth.registry)})
    hosts = (literal_registry(rule.pattern) for rule in policy if rule.validator == validator.name)
    return frozenset(canonical_registry(host) for host in hosts if host is not None)


def check_login_registry(auth: Auth, path: KeyPath, report: Callable[[KeyPath, str], None]) -> Auth:
    """``auth`` with ``registry`` normalised (lower case, Docker Hub's aliases as docker.io)."""
    if auth.registry is None:
        return auth
    if not REGISTRY_HOST.fullmatch(auth.registry):
        message = (
            "must be a registry host[:port] such as registry.example:5000 (no scheme, no path)"
        )
        report(path, message)
        return auth
    return attrs.evolve(auth, registry=canonical_registry(auth.registry))
