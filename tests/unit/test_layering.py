"""The pure layers import no I/O library: they stay testable without a network or a loop."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "daemon" / "kenner"
PURE_PACKAGES = ("admission", "tuf", "config", "oci", "cosign")
IO_MODULES = ("trio", "httpx", "httpcore", "hypercorn", "anyio", "sniffio", "socket", "ssl")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_pure_packages_import_no_io_library() -> None:
    offenders = []
    checked = 0
    for package in PURE_PACKAGES:
        for path in sorted((PACKAGE / package).rglob("*.py")):
            checked += 1
            for name in _imports(path):
                top = name.split(".")[0]
                if top in IO_MODULES or name.startswith(
                    ("kenner.net", "kenner.server", "kenner.validators")
                ):
                    offenders.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert checked > 5
    assert offenders == []
