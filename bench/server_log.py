"""kenner's requests to notary-server and docker-registry, counted in the servers' own logs.

Each server writes a line per request it answered. The benchmark remembers a log's size
before it asks kenner, reads the lines added once kenner has answered, and keeps kenner's
requests (User-Agent ``kenner/...``; the harness's own clients and probes are left out). That
counts what reached the server, not what kenner believes it sent.

A request is named by its repository and its kind, the step of a validation that needs it:

* notary-server (one JSON line per request, ``"msg": "response completed"``): a role of
  ``/v2/<gun>/_trust/tuf/<role>.json`` is ``top-level`` (root, timestamp, snapshot, targets:
  round 1), ``versioned root`` (``<N>.root``, only after a root rotation) or ``delegation``
  (``targets/<name>``, the last round); see kenner/validators/notaryv1.py.
* docker-registry (a logrus line per request, ``msg="response completed"``, ``... with
  error`` for a 4xx): ``tag`` (``manifests/<tag>``), ``signature`` (``manifests/sha256-<hex>.sig``),
  ``referrers tag`` (``manifests/sha256-<hex>``, the referrers tag schema's index),
  ``referrers API`` (``referrers/<digest>``; docker-registry 2.8 has no such route and logs
  nothing for it), ``manifest by digest`` or ``payload blob`` (a signature, bundle or
  envelope); see kenner/validators/cosign.py and notation.py. The bench's registry needs no
  login, so no 401 or token traffic is expected.

Any other request of kenner's counts too, outside every repository. The steps of one
repository follow one another (each needs the previous answer) while repositories are checked
concurrently, so a validation's round trips are the kinds its slowest repository needed.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import attrs

from bench.errors import BenchError

# The servers log a request just after writing its response, so a line can land a moment after
# kenner has already answered; read until the log stops growing.
_SETTLE_S = 0.1
_SETTLE_LIMIT_S = 2.0
_KENNER_AGENT = "kenner/"
OTHER = "other"

_TRUST_URI = re.compile(r"^/v2/(?P<gun>.+)/_trust/tuf/(?P<role>.+)\.json$")
_VERSIONED_ROOT = re.compile(r"^\d+\.root$")
_TOP_LEVEL_ROLES = frozenset({"root", "timestamp", "snapshot", "targets"})

_LOGRUS_FIELD = re.compile(r'([\w.]+)=("(?:[^"\\]|\\.)*"|\S*)')
_API_URI = re.compile(
    r"^/v2/(?P<repository>.+)/(?P<what>manifests|blobs|referrers)/(?P<reference>[^/?]+)"
)
_SIGNATURE_TAG = re.compile(r"^sha256-[0-9a-f]{64}\.sig$")
_REFERRERS_TAG = re.compile(r"^sha256-[0-9a-f]{64}$")


@attrs.frozen
class Fetch:
    """One request kenner made: its repository (empty outside any) and its kind."""

    repository: str
    kind: str


def rounds(fetches: Iterable[Fetch]) -> int:
    """Round trips: the kinds of request of the repository that needed most of them."""
    kinds: dict[str, set[str]] = {}
    for fetch in fetches:
        if fetch.repository:
            kinds.setdefault(fetch.repository, set()).add(fetch.kind)
    return max((len(found) for found in kinds.values()), default=0)


def notary_fetch(line: str) -> Fetch | None:
    """kenner's request in one line of notary-server's log, or None for any other line.

    Raises:
        BenchError: a request line that cannot be read.
    """
    if not line.startswith("{") or '"response completed"' not in line:
        return None
    try:
        record = json.loads(line)
        uri, agent = str(record["http.request.uri"]), str(record.get("http.request.useragent"))
    except (ValueError, KeyError, TypeError) as error:
        raise BenchError(f"unreadable notary-server log line ({error!r}): {line[:300]}") from None
    if not agent.startswith(_KENNER_AGENT):
        return None
    match = _TRUST_URI.match(uri)
    if match is None:
        return Fetch("", OTHER)
    role = match["role"]
    if role in _TOP_LEVEL_ROLES:
        kind = "top-level"
    else:
        kind = "versioned root" if _VERSIONED_ROOT.match(role) else "delegation"
    return Fetch(match["gun"], kind)


def registry_fetch(line: str) -> Fetch | None:
    """kenner's request in one line of docker-registry's log, or None for any other line.

    Raises:
        BenchError: a request line that cannot be read.
    """
    if 'msg="response completed' not in line:
        return None
    fields = {
        key: value[1:-1] if value.startswith('"') else value
        for key, value in _LOGRUS_FIELD.findall(line)
    }
    try:
        uri = fields["http.request.uri"]
    except KeyError as error:
        raise BenchError(f"unreadable docker-registry log line ({error!r}): {line[:300]}") from None
    if not fields.get("http.request.useragent", "").startswith(_KENNER_AGENT):
        return None
    match = _API_URI.match(uri)
    if match is None:
        return Fetch("", OTHER)
    if match["what"] != "manifests":
        kind = "payload blob" if match["what"] == "blobs" else "referrers API"
    elif _SIGNATURE_TAG.match(match["reference"]):
        kind = "signature"
    elif _REFERRERS_TAG.match(match["reference"]):
        kind = "referrers tag"
    else:
        kind = "manifest by digest" if ":" in match["reference"] else "tag"
    return Fetch(match["repository"], kind)


@attrs.frozen
class ServerLog:
    """A server's log file and the reader of its lines (``notary_fetch``, ``registry_fetch``)."""

    path: Path
    read_line: Callable[[str], Fetch | None]

    def position(self) -> int:
        """The current end of the log: count from here."""
        return self.path.stat().st_size

    def fetches_since(self, position: int) -> tuple[Fetch, ...]:
        """kenner's requests logged after ``position``, read once the log has stopped growing
        (so the last line is whole, unless the log kept growing for ``_SETTLE_LIMIT_S``)."""
        deadline = time.monotonic() + _SETTLE_LIMIT_S
        size = self.position()
        while True:
            time.sleep(_SETTLE_S)
            grown = self.position()
            if grown == size or time.monotonic() > deadline:
                break
            size = grown
        with self.path.open("rb") as log:
            log.seek(position)
            text = log.read().decode("utf-8", errors="replace")
        found = (self.read_line(line) for line in text.splitlines())
        return tuple(fetch for fetch in found if fetch is not None)
