"""Count kenner's requests to docker-registry from the registry's own log.

distribution (docker-registry 2.8) writes two lines per answered HTTP request to its output,
which the harness sends to ``STATE/logs/registry.log``:

* a logrus line, ``msg="response completed"`` (``"response completed with error"`` for
  errors such as a 404), with ``key=value`` fields: the URI, status, client address with its
  port and User-Agent;
* an access-log line in Apache's combined format (client host without port).

The logrus lines are parsed; the access-log lines are counted as a cross-check, so a change of
either format stops the run instead of turning into a wrong count. Only kenner's requests
(``User-Agent: kenner/...``) are kept: the harness's readiness probes are left out.

The kind of a request says which step of a cosign validation made it
(kenner/validators/cosign.py): resolving a tag to a digest, reading the signature manifest
``sha256-<hex>.sig`` (or a manifest by digest), reading a signature payload blob. Each step
needs the previous one's answer, so the round trips of one image are the steps it took.
Requests for ``/v2/`` (the API ping) and 401 answers (a login challenge) are auth traffic and
are counted apart. The bench's registry needs no login: with htpasswd auth, docker-registry
2.8 logs a 401 only as an ``error authorizing context`` warning and an access line, with no
``response completed`` line, so the cross-check would stop the run there rather than count.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import attrs

from bench.errors import BenchError
from bench.server_log import RequestSummary, ServerLog, from_kenner

_LOGFMT_FIELD = re.compile(r'([\w.]+)=("(?:[^"\\]|\\.)*"|\S*)')
_COMPLETED = ('msg="response completed"', 'msg="response completed with error"')
# Apache combined: host ident user [time] "request" status size "referer" "user-agent"
_ACCESS_LINE = re.compile(r'^\S+ \S+ \S+ \[[^\]]+\] "[^"]*" \d{3} .* "(?P<agent>[^"]*)"$')
_API_URI = re.compile(r"^/v2/(?P<repository>.+)/(?P<what>manifests|blobs)/(?P<reference>[^/?]+)")
_SIGNATURE_TAG = re.compile(r"^sha256-[0-9a-f]{64}\.sig$")

TAG = "tag"
SIGNATURE = "signature"
BY_DIGEST = "manifest by digest"
BLOB = "payload blob"
AUTH = "auth"
OTHER = "other"
# The dependent steps of one image's validation, in the order kenner takes them.
STEPS = (TAG, SIGNATURE, BY_DIGEST, BLOB)


@attrs.frozen
class RegistryFetch:
    """One request docker-registry answered for kenner."""

    repository: str  # empty for requests outside a repository (``/v2/``)
    kind: str  # one of STEPS, AUTH or OTHER
    status: int
    client: str  # host:port of kenner's side of the connection


@attrs.frozen
class RegistrySummary(RequestSummary[RegistryFetch]):
    """kenner's requests to the registry in one interval, summed up.

    ``count``, ``rounds`` and ``per_repository`` cover the requests for images (tags,
    manifests, blobs); auth traffic is counted apart.
    """

    steps = STEPS

    @property
    def auth_count(self) -> int:
        """The rest: API pings and 401 answers (the login handshake) and any other URI."""
        return len(self.fetches) - self.count


def request_kind(uri: str, status: int) -> tuple[str, str]:
    """The repository a request URI names and the kind of request it is."""
    if status == 401 or uri.split("?", 1)[0] in ("/v2", "/v2/"):
        return "", AUTH
    match = _API_URI.match(uri)
    if match is None:
        return "", OTHER
    repository, reference = match["repository"], match["reference"]
    if match["what"] == "blobs":
        return repository, BLOB
    if _SIGNATURE_TAG.match(reference):
        return repository, SIGNATURE
    return repository, BY_DIGEST if ":" in reference else TAG


def parse_fetches(lines: Iterable[str]) -> list[RegistryFetch]:
    """kenner's requests among docker-registry's log lines, checked against its access log.

    Raises:
        BenchError: a request line cannot be read, or the two logs count kenner's requests
            differently.
    """
    found: list[RegistryFetch] = []
    access_lines = 0
    for line in lines:
        if any(marker in line for marker in _COMPLETED):
            fields = _fields(line)
            try:
                agent = fields.get("http.request.useragent", "")
                uri = fields["http.request.uri"]
                status = int(fields["http.response.status"])
                client = fields["http.request.remoteaddr"]
            except (KeyError, ValueError) as error:
                raise BenchError(
                    f"unreadable docker-registry log line ({error!r}): {line[:300]}"
                ) from None
            if from_kenner(agent):
                repository, kind = request_kind(uri, status)
                found.append(RegistryFetch(repository, kind, status, client))
        else:
            access = _ACCESS_LINE.match(line)
            if access is not None and from_kenner(access["agent"]):
                access_lines += 1
    if access_lines != len(found):
        raise BenchError(
            f"docker-registry's access log shows {access_lines} requests from kenner, its "
            f"request log {len(found)}: cannot count round trips"
        )
    return found


def _fields(line: str) -> dict[str, str]:
    return {
        key: value[1:-1].replace('\\"', '"') if value.startswith('"') else value
        for key, value in _LOGFMT_FIELD.findall(line)
    }


@attrs.frozen
class RegistryLog(ServerLog):
    """docker-registry's log file, read from a remembered position on."""

    def fetches_since(self, position: int) -> RegistrySummary:
        """kenner's requests logged after ``position``, once the log is quiet."""
        return RegistrySummary(tuple(parse_fetches(self.settled_tail(position).splitlines())))
