"""Where the Kubernetes API is and how kenner authenticates to it.

Sources, first match wins: a kubeconfig path (``--kubeconfig`` or ``kubernetes.kubeconfig``),
the ``KUBECONFIG`` environment variable (one file), the in-cluster service account
(``KUBERNETES_SERVICE_HOST``). Files are read through an injected ``read_file`` so the logic is
testable without a filesystem; ``resolve_access`` with the default reader is what the daemon
calls.

kenner supports the two credential kinds a validator host needs: a bearer token (inline or a
token file re-read when it rotates) and a client certificate. Anything else a kubeconfig can
say (exec plugins, auth providers, basic auth, proxies, skipping TLS verification) is refused
with a ``KubeAccessError`` naming it, rather than silently connecting without it.
"""

from __future__ import annotations

import base64
import binascii
import os
import posixpath
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import yaml

from kenner.errors import KennerError

FileReader = Callable[[str], bytes]

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
_UNSUPPORTED_USER_KEYS = {
    "exec": "exec credential plugins are not supported; use a token or a client certificate",
    "auth-provider": "auth-provider plugins are not supported; use a token or client certificate",
    "username": "basic authentication is not supported; use a token or a client certificate",
    "password": "basic authentication is not supported; use a token or a client certificate",
    "as": "impersonation is not supported",
    "as-groups": "impersonation is not supported",
}
_UNSUPPORTED_CLUSTER_KEYS = {
    "insecure-skip-tls-verify": "kenner always verifies the API server's certificate",
    "proxy-url": "proxies are not supported",
    "tls-server-name": "tls-server-name is not supported",
}


class KubeAccessError(KennerError, ValueError):
    """Kubernetes API access cannot be set up; the message names the source and the reason."""


@attrs.frozen
class ClusterAccess:
    """How to reach one API server. Secrets are hidden from ``repr``.

    Attributes:
        server: ``https://host[:port]`` (a path prefix is kept).
        ca_pem: The CA bundle that verifies the server; None trusts the system CAs.
        token: A fixed bearer token.
        token_file: A file holding the bearer token, read again whenever it changes.
        client_cert_pem: Client certificate chain (PEM), with ``client_key_pem``.
        namespace: The namespace the source names (in-cluster: the pod's own), if any.
        source: Where this came from, for messages.
    """

    server: str
    ca_pem: str | None = None
    token: str | None = attrs.field(default=None, repr=False)
    token_file: str | None = None
    client_cert_pem: str | None = None
    client_key_pem: str | None = attrs.field(default=None, repr=False)
    namespace: str | None = None
    source: str = ""


def resolve_access(
    kubeconfig: str | None,
    env: Mapping[str, str] | None = None,
    read_file: FileReader | None = None,
) -> ClusterAccess:
    """The API access kenner should use.

    Raises:
        KubeAccessError: no source is available, or the chosen one cannot be used.
    """
    env = os.environ if env is None else env
    read_file = read_file or _read_file
    if kubeconfig:
        return load_kubeconfig(kubeconfig, read_file)
    from_env = env.get("KUBECONFIG", "")
    if from_env:
        paths = [path for path in from_env.split(os.pathsep) if path]
        if len(paths) > 1:
            raise KubeAccessError(
                f"KUBECONFIG lists {len(paths)} files; kenner reads exactly one "
                "(set kubernetes.kubeconfig or --kubeconfig)"
            )
        return load_kubeconfig(paths[0], read_file)
    if env.get("KUBERNETES_SERVICE_HOST"):
        return in_cluster_access(env, read_file)
    raise KubeAccessError(
        "no Kubernetes API access: give --kubeconfig or kubernetes.kubeconfig, set KUBECONFIG, "
        "or run in a pod (KUBERNETES_SERVICE_HOST)"
    )


def in_cluster_access(env: Mapping[str, str], read_file: FileReader) -> ClusterAccess:
    """The pod's service account: token file, CA and namespace, and the API service address."""
    host = env["KUBERNETES_SERVICE_HOST"]
    port = env.get("KUBERNETES_SERVICE_PORT", "443")
    if ":" in host:  # an IPv6 address needs brackets in a URL
        host = f"[{host}]"
    ca = _read_text(read_file, f"{SERVICE_ACCOUNT_DIR}/ca.crt", "in-cluster CA")
    token_file = f"{SERVICE_ACCOUNT_DIR}/token"
    _read_text(read_file, token_file, "in-cluster service account token")  # fail early
    try:
        namespace: str | None = read_file(f"{SERVICE_ACCOUNT_DIR}/namespace").decode().strip()
    except OSError:
        namespace = None
    return ClusterAccess(
        server=f"https://{host}:{port}",
        ca_pem=ca,
        token_file=token_file,
        namespace=namespace,
        source="in-cluster service account",
    )


def load_kubeconfig(path: str, read_file: FileReader) -> ClusterAccess:
    """Read the kubeconfig at ``path`` and resolve its current context."""
    text = _read_text(read_file, path, "kubeconfig")
    return parse_kubeconfig(text, path, read_file)


def parse_kubeconfig(text: str, path: str, read_file: FileReader) -> ClusterAccess:
    """The access described by the current context of a kubeconfig document.

    Relative file names in it are relative to the directory of ``path`` (as kubectl does).
    """
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise KubeAccessError(f"kubeconfig {path}: not valid YAML ({error})") from None
    if not isinstance(doc, Mapping):
        raise KubeAccessError(f"kubeconfig {path}: the top level must be a mapping")
    where = f"kubeconfig {path}"
    context_name = doc.get("current-context")
    if not context_name:
        raise KubeAccessError(f"{where}: no current-context is set")
    context = _named(doc, "contexts", "context", context_name, where)
    cluster = _named(doc, "clusters", "cluster", context.get("cluster"), where)
    user = _named(doc, "users", "user", context.get("user"), where) if context.get("user") else {}
    base = posixpath.dirname(path)
    files = _Files(read_file, base, where)

    for option, reason in _UNSUPPORTED_CLUSTER_KEYS.items():
        if cluster.get(option):
            cluster_name = context.get("cluster")
            raise KubeAccessError(f"{where}: cluster {cluster_name!r}: {option}: {reason}")
    for option, reason in _UNSUPPORTED_USER_KEYS.items():
        if user.get(option):
            raise KubeAccessError(f"{where}: user {context.get('user')!r}: {option}: {reason}")
    server = cluster.get("server")
    if not isinstance(server, str) or not server.startswith("https://"):
        raise KubeAccessError(f"{where}: cluster server must be an https:// URL, got {server!r}")
    cert = files.pem(user, "client-certificate")
    key = files.pem(user, "client-key")
    if (cert is None) != (key is None):
        raise KubeAccessError(f"{where}: give client-certificate and client-key together")
    token = user.get("token")
    if token is not None and not isinstance(token, str):
        raise KubeAccessError(f"{where}: token must be a string")
    token_file = files.path(str(user["tokenFile"])) if user.get("tokenFile") else None
    if token is None and token_file is None and cert is None:
        raise KubeAccessError(
            f"{where}: user {context.get('user')!r} has no token, tokenFile or client certificate"
        )
    namespace = context.get("namespace")
    return ClusterAccess(
        server=server.rstrip("/"),
        ca_pem=files.pem(cluster, "certificate-authority"),
        token=token,
        token_file=token_file,
        client_cert_pem=cert,
        client_key_pem=key,
        namespace=namespace if isinstance(namespace, str) else None,
        source=where,
    )


@attrs.frozen
class _Files:
    read_file: FileReader
    base: str
    where: str

    def path(self, name: str) -> str:
        return name if posixpath.isabs(name) or not self.base else posixpath.join(self.base, name)

    def pem(self, section: Mapping[str, Any], key: str) -> str | None:
        """``<key>-data`` (base64 PEM) or ``<key>`` (a file name), decoded to text."""
        data = section.get(f"{key}-data")
        if data:
            try:
                return base64.b64decode(str(data), validate=True).decode("ascii")
            except (binascii.Error, UnicodeDecodeError):
                raise KubeAccessError(f"{self.where}: {key}-data is not base64 PEM") from None
        name = section.get(key)
        if name:
            return _read_text(self.read_file, self.path(str(name)), f"{self.where}: {key}")
        return None


def _named(doc: Mapping[str, Any], plural: str, inner: str, name: Any, where: str) -> Any:
    entries = doc.get(plural)
    for entry in entries if isinstance(entries, list) else ():
        if isinstance(entry, Mapping) and entry.get("name") == name:
            value = entry.get(inner)
            if not isinstance(value, Mapping):
                raise KubeAccessError(f"{where}: {plural} entry {name!r} has no {inner} mapping")
            return value
    raise KubeAccessError(f"{where}: no entry {name!r} in {plural}")


def _read_text(read_file: FileReader, path: str, what: str) -> str:
    try:
        return read_file(path).decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise KubeAccessError(f"{what}: cannot read {path}: {error}") from None


def _read_file(path: str) -> bytes:
    with open(path, "rb") as file:
        return file.read()
