"""Where an image lives on the wire: the registry API endpoint for a normalised image name.

Image references are normalised with Docker's rules (``kenner.admission.image``): Docker Hub
images carry the registry ``docker.io`` and official images the ``library/`` namespace. Docker
Hub's API is not served at ``docker.io`` but at ``registry-1.docker.io``.
"""

from __future__ import annotations

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
#: Names Docker Hub goes by in references, payload identities and docker config keys.
DOCKER_HUB_ALIASES = frozenset({DOCKER_HUB, "index.docker.io", DOCKER_HUB_API})


def canonical_registry(registry: str) -> str:
    """The registry host with every Docker Hub alias folded to ``docker.io``."""
    host = registry.lower()
    return DOCKER_HUB if host in DOCKER_HUB_ALIASES else host


def api_base(registry: str) -> str:
    """The HTTPS base URL of the registry API: ``docker.io`` -> ``https://registry-1.docker.io``."""
    host = canonical_registry(registry)
    return f"https://{DOCKER_HUB_API if host == DOCKER_HUB else host}"


def same_repository(reference: str, registry: str, repository: str) -> bool:
    """Whether a name such as a signature's ``docker-reference`` (``index.docker.io/org/app``,
    maybe with a tag or digest) names ``registry/repository``."""
    name = _strip_tag_and_digest(reference)
    host, _, path = name.partition("/")
    return canonical_registry(host) == canonical_registry(registry) and path == repository


def same_path(reference: str, repository: str) -> bool:
    """Whether ``reference`` names ``repository`` on any registry (copied signatures)."""
    name = _strip_tag_and_digest(reference)
    _, _, path = name.partition("/")
    return path == repository


def _strip_tag_and_digest(reference: str) -> str:
    name = reference.split("@", 1)[0]
    last_slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > last_slash:  # a tag, not a registry port
        name = name[:colon]
    return name
