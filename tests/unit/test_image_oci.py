"""image/oci.py: a tree as a one-layer OCI layout, the same bytes on every build.

A small tree (files, a hard link, a symlink, an empty directory, a fifo) is written twice,
with different file times (and owners, as root), and must give the same digest; the layer's entries
are sorted, owned by 0:0 with no names, dated ``epoch``; the fifo is left out. When umoci is
installed it unpacks the layout (another implementation reads it).
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from image.oci import ImageConfig, read_blob, read_manifest, write_layout

EPOCH = 1700000000
CONFIG = ImageConfig(
    user="65532:65532",
    entrypoint=("/opt/kenner/bin/kenner",),
    cmd=("serve",),
    env=("PATH=/usr/bin",),
    labels={"org.opencontainers.image.version": "9.9.9", "other": "x"},
    exposed_ports=("8443/tcp",),
)


def make_tree(root: Path, mtime: int) -> Path:
    tree = root / "tree"
    (tree / "usr/bin").mkdir(parents=True)
    (tree / "tmp").mkdir(mode=0o1777)
    (tree / "tmp").chmod(0o1777)
    (tree / "empty").mkdir()
    (tree / "usr/bin/tool").write_bytes(b"#!/opt/python\n")
    (tree / "usr/bin/tool").chmod(0o755)
    os.link(tree / "usr/bin/tool", tree / "usr/bin/tool-again")
    (tree / "b.txt").write_text("b")
    (tree / "a.txt").write_text("a")
    (tree / "link").symlink_to("usr/bin/tool")
    os.mkfifo(tree / "pipe")
    for path in [tree, *tree.rglob("*")]:
        os.utime(path, (mtime, mtime), follow_symlinks=False)
    return tree


def build(tmp_path: Path, name: str, mtime: int, owner: int = 0) -> tuple[Path, str]:
    tree = make_tree(tmp_path / name, mtime)
    if owner and os.geteuid() == 0:
        for path in [tree, *tree.rglob("*")]:
            os.lchown(path, owner, owner)
    layout = tmp_path / name / "layout"
    digest = write_layout(tree, layout, tag="t", config=CONFIG, epoch=EPOCH, history="test")
    return layout, digest


def layer_members(layout: Path) -> list[tarfile.TarInfo]:
    _, manifest = read_manifest(layout, "t")
    (layer,) = manifest["layers"]
    data = (layout / "blobs/sha256" / layer["digest"].removeprefix("sha256:")).read_bytes()
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data))) as archive:
        return archive.getmembers()


def test_two_writes_of_one_tree_give_one_digest(tmp_path: Path) -> None:
    first, digest = build(tmp_path, "one", mtime=1)
    second, again = build(tmp_path, "two", mtime=2_000_000_000, owner=1234)
    assert digest == again
    assert (first / "index.json").read_bytes() == (second / "index.json").read_bytes()


def test_the_layer_is_sorted_dated_and_owned_by_root(tmp_path: Path) -> None:
    layout, _ = build(tmp_path, "one", mtime=1)
    members = layer_members(layout)
    names = [member.name for member in members]
    assert names == [
        "a.txt",
        "b.txt",
        "empty",
        "link",
        "tmp",
        "usr",
        "usr/bin",
        "usr/bin/tool",
        "usr/bin/tool-again",
    ]  # the fifo is left out
    for member in members:
        assert (member.mtime, member.uid, member.gid) == (EPOCH, 0, 0)
        assert (member.uname, member.gname) == ("", "")
    by_name = {member.name: member for member in members}
    assert by_name["usr/bin/tool-again"].islnk()
    assert by_name["usr/bin/tool-again"].linkname == "usr/bin/tool"
    assert by_name["link"].issym()
    assert by_name["tmp"].mode == 0o1777
    assert by_name["usr/bin/tool"].mode == 0o755


def test_the_config_manifest_and_index(tmp_path: Path) -> None:
    layout, digest = build(tmp_path, "one", mtime=1)
    index = json.loads((layout / "index.json").read_bytes())
    assert index["manifests"][0]["annotations"] == {"org.opencontainers.image.ref.name": "t"}
    found, manifest = read_manifest(layout, "t")
    assert found == digest
    assert manifest["annotations"] == {"org.opencontainers.image.version": "9.9.9"}
    config = read_blob(layout, manifest["config"]["digest"])
    assert config["created"] == "2023-11-14T22:13:20Z"
    assert config["config"]["User"] == "65532:65532"
    assert config["config"]["ExposedPorts"] == {"8443/tcp": {}}
    assert config["config"]["Labels"]["other"] == "x"
    assert json.loads((layout / "oci-layout").read_bytes()) == {"imageLayoutVersion": "1.0.0"}
    with pytest.raises(KeyError, match="no manifest tagged 'other'"):
        read_manifest(layout, "other")


def test_a_layout_is_never_written_over(tmp_path: Path) -> None:
    layout, _ = build(tmp_path, "one", mtime=1)
    with pytest.raises(FileExistsError, match="not empty"):
        write_layout(tmp_path / "one/tree", layout, tag="t", config=CONFIG, epoch=1, history="")


def test_a_tampered_blob_is_refused(tmp_path: Path) -> None:
    layout, digest = build(tmp_path, "one", mtime=1)
    (layout / "blobs/sha256" / digest.removeprefix("sha256:")).write_bytes(b"{}")
    with pytest.raises(ValueError, match="does not match its digest"):
        read_manifest(layout, "t")


@pytest.mark.skipif(shutil.which("umoci") is None, reason="umoci is not installed")
def test_umoci_unpacks_the_layout(tmp_path: Path) -> None:
    layout, _ = build(tmp_path, "one", mtime=1)
    bundle = tmp_path / "bundle"
    command = ["umoci", "unpack", "--rootless", "--image", f"{layout}:t", str(bundle)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert (bundle / "rootfs/usr/bin/tool").read_bytes() == b"#!/opt/python\n"
    process = json.loads((bundle / "config.json").read_text())["process"]
    assert process["args"] == ["/opt/kenner/bin/kenner", "serve"]
