"""A directory tree as a one-layer OCI image layout, byte for byte the same on every build.

Rules that make two builds of the same tree give the same digest:

- The layer is a tar of the tree in sorted path order; every entry has the mtime
  ``epoch`` (``SOURCE_DATE_EPOCH``), owner 0:0 with no owner names, and its mode bits as found.
  Hard links are kept as links to the first path (in sorted order). Device nodes, sockets and
  fifos are left out: the container runtime makes ``/dev``.
- The tar is compressed by gzip with no name and mtime 0 in its header, at a fixed level.
- The config, manifest and index are JSON with sorted keys and no spaces; the image's
  ``created`` time is ``epoch`` too.

Only the standard library: the build runs from a plain Python.
"""

from __future__ import annotations

import datetime
import gzip
import hashlib
import json
import os
import stat
import tarfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json"
MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
INDEX_MEDIA_TYPE = "application/vnd.oci.image.index.v1+json"
REF_NAME = "org.opencontainers.image.ref.name"
GZIP_LEVEL = 6  # a fixed level: the compressed bytes depend on it
_CHUNK = 1 << 20


@attrs.frozen
class ImageConfig:
    """What the runtime reads from the image config (the OCI ``config`` object)."""

    user: str
    entrypoint: tuple[str, ...]
    cmd: tuple[str, ...]
    env: tuple[str, ...]
    labels: Mapping[str, str]
    working_dir: str = "/"
    exposed_ports: tuple[str, ...] = ()
    stop_signal: str = "SIGTERM"


@attrs.frozen
class Descriptor:
    media_type: str
    digest: str
    size: int

    def as_json(self, annotations: Mapping[str, str] | None = None) -> dict[str, Any]:
        value: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": self.size,
        }
        if annotations:
            value["annotations"] = dict(annotations)
        return value


def write_layout(
    tree: Path, layout: Path, *, tag: str, config: ImageConfig, epoch: int, history: str
) -> str:
    """Write ``tree`` as an OCI image layout in ``layout`` (made empty first) tagged ``tag``;
    returns the manifest digest (``sha256:<hex>``), the image's digest in any registry."""
    layout.mkdir(parents=True, exist_ok=True)
    for leftover in layout.iterdir():
        raise FileExistsError(f"{layout} is not empty ({leftover.name}); remove it first")
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    layer, diff_id = _write_layer(tree, blobs, epoch)
    created = _rfc3339(epoch)
    config_json = {
        "architecture": "amd64",
        "os": "linux",
        "created": created,
        "config": _runtime_config(config),
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": created, "created_by": history}],
    }
    config_blob = _write_json_blob(blobs, CONFIG_MEDIA_TYPE, config_json)
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": config_blob.as_json(),
        "layers": [layer.as_json()],
        "annotations": dict(_image_annotations(config.labels)),
    }
    manifest_blob = _write_json_blob(blobs, MANIFEST_MEDIA_TYPE, manifest)
    index = {
        "schemaVersion": 2,
        "mediaType": INDEX_MEDIA_TYPE,
        "manifests": [manifest_blob.as_json({REF_NAME: tag})],
    }
    (layout / "index.json").write_bytes(_canonical(index))
    (layout / "oci-layout").write_bytes(_canonical({"imageLayoutVersion": "1.0.0"}))
    return manifest_blob.digest


def read_manifest(layout: Path, tag: str) -> tuple[str, dict[str, Any]]:
    """The digest and manifest tagged ``tag`` in ``layout``."""
    index = json.loads((layout / "index.json").read_bytes())
    for entry in index["manifests"]:
        if entry.get("annotations", {}).get(REF_NAME) == tag:
            digest = str(entry["digest"])
            return digest, read_blob(layout, digest)
    raise KeyError(f"no manifest tagged {tag!r} in {layout}")


def read_blob(layout: Path, digest: str) -> dict[str, Any]:
    """A JSON blob of ``layout`` by digest, checked against it."""
    algorithm, _, hex_digest = digest.partition(":")
    data = (layout / "blobs" / algorithm / hex_digest).read_bytes()
    if hashlib.sha256(data).hexdigest() != hex_digest:
        raise ValueError(f"blob {digest} does not match its digest")
    value: dict[str, Any] = json.loads(data)
    return value


def _runtime_config(config: ImageConfig) -> dict[str, Any]:
    value: dict[str, Any] = {
        "User": config.user,
        "Entrypoint": list(config.entrypoint),
        "Cmd": list(config.cmd),
        "Env": list(config.env),
        "WorkingDir": config.working_dir,
        "Labels": dict(config.labels),
        "StopSignal": config.stop_signal,
    }
    if config.exposed_ports:
        value["ExposedPorts"] = {port: {} for port in config.exposed_ports}
    return value


def _image_annotations(labels: Mapping[str, str]) -> Iterator[tuple[str, str]]:
    """The OCI labels again as manifest annotations, where registries and skopeo show them."""
    for key, value in sorted(labels.items()):
        if key.startswith("org.opencontainers.image."):
            yield key, value


def _write_layer(tree: Path, blobs: Path, epoch: int) -> tuple[Descriptor, str]:
    """The gzipped layer blob and the digest of its uncompressed tar (the ``diff_id``)."""
    plain, packed = blobs / "layer.tar.partial", blobs / "layer.partial"
    with tarfile.open(plain, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for path in _sorted_tree(tree):
            info = archive.gettarinfo(str(path), path.relative_to(tree).as_posix())
            if info.type not in (
                tarfile.REGTYPE,
                tarfile.DIRTYPE,
                tarfile.SYMTYPE,
                tarfile.LNKTYPE,
            ):
                continue  # a device node, fifo or socket
            info.mtime = epoch
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if info.isreg():
                with path.open("rb") as file:
                    archive.addfile(info, file)
            else:
                archive.addfile(info)
    diff_id, compressed = hashlib.sha256(), hashlib.sha256()
    with (
        plain.open("rb") as source,
        packed.open("wb") as target,
        gzip.GzipFile(
            filename="", mode="wb", fileobj=target, mtime=0, compresslevel=GZIP_LEVEL
        ) as zipped,
    ):
        while chunk := source.read(_CHUNK):
            diff_id.update(chunk)
            zipped.write(chunk)
    plain.unlink()
    with packed.open("rb") as written:
        while chunk := written.read(_CHUNK):
            compressed.update(chunk)
    digest = compressed.hexdigest()
    packed.rename(blobs / digest)
    layer = Descriptor(LAYER_MEDIA_TYPE, f"sha256:{digest}", (blobs / digest).stat().st_size)
    return layer, f"sha256:{diff_id.hexdigest()}"


def _sorted_tree(tree: Path) -> Iterator[Path]:
    """Every path below ``tree`` (not itself), parents first, names in byte order."""
    for name in sorted(os.listdir(tree), key=os.fsencode):
        path = tree / name
        yield path
        if stat.S_ISDIR(path.lstat().st_mode):
            yield from _sorted_tree(path)


def _write_json_blob(blobs: Path, media_type: str, value: Mapping[str, Any]) -> Descriptor:
    data = _canonical(value)
    digest = hashlib.sha256(data).hexdigest()
    (blobs / digest).write_bytes(data)
    return Descriptor(media_type, f"sha256:{digest}", len(data))


def _canonical(value: Mapping[str, Any] | Sequence[Any]) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def _rfc3339(epoch: int) -> str:
    moment = datetime.datetime.fromtimestamp(epoch, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
