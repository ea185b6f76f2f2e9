"""The import contract of ``daemon/kenner``, checked over the real import graph.

Every ``import`` statement of every module counts, those inside functions and under
``TYPE_CHECKING`` included: what is checked is what the code can reach.

Layers, top to bottom; a module imports only from its own layer and the layers below it:

- ``entry``: the command line (``kenner.cli``, ``kenner.__main__``).
- ``server``: serving HTTP (``kenner.server``) and the watchdog the server runs.
- ``app``: answering one review, one module per step of the pipeline (``kenner.app``:
  docs/architecture.md), and the daemon's state they read (``kenner.app.state``).
- ``io``: adapters that talk to the world: registries and Notary (``kenner.net``), the
  Kubernetes API (``kenner.kube``), the validators' fetching (``kenner.validators``), alert
  delivery (``kenner.alerting.sender``), metrics and systemd notification.
- ``pure``: the cores (``kenner.admission``, ``tuf``, ``cosign``, ``oci``, ``config``, alert
  events, errors, logging helpers...). They import no I/O library (trio, httpx, hypercorn,
  sockets...), so they run and are tested without a network or an event loop. Nor do they
  import from a package that holds io-layer modules, not even its pure modules: a core that
  reaches into ``kenner.alerting`` for its templates depends on the package that sends alerts.

No cycles: neither between modules nor between packages. The package check treats every
subpackage and every top-level module as one unit, with one module split off because it sits
lower than the rest of its package: ``kenner.config.model``, the configuration's types that
every layer reads (the rest of ``kenner.config``, the loader, checks values with the cores'
own parsers: policy patterns, cosign and TUF keys, alert templates; so it sits above them).

Every module must be placed in a layer: a new top-level module or package fails until it is.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

DAEMON = Path(__file__).resolve().parents[2] / "daemon"
LAYERS = ("entry", "server", "app", "io", "pure")  # top to bottom
# Module prefix -> layer; the longest matching prefix wins.
PLACES = {
    "kenner.__main__": "entry",
    "kenner.cli": "entry",
    "kenner.server": "server",
    "kenner.watchdog": "server",
    "kenner.app": "app",
    "kenner.net": "io",
    "kenner.kube": "io",
    "kenner.validators": "io",
    "kenner.alerting.sender": "io",
    "kenner.metrics": "io",
    "kenner.offload": "io",  # trio worker threads for CPU-heavy steps
    "kenner.sdnotify": "io",
    "kenner": "pure",  # the root package (its version) and, by prefix, nothing else
    "kenner.admission": "pure",
    "kenner.alerting": "pure",
    "kenner.attest": "pure",
    "kenner.certs": "pure",
    "kenner.config": "pure",
    "kenner.cosign": "pure",
    "kenner.decision_log": "pure",
    "kenner.errors": "pure",
    "kenner.logs": "pure",
    "kenner.notation": "pure",
    "kenner.oci": "pure",
    "kenner.quoting": "pure",
    "kenner.sharing": "pure",
    "kenner.sigstore": "pure",
    "kenner.tallies": "pure",
    "kenner.timestamp": "pure",
    "kenner.tuf": "pure",
    "kenner.webhook_certs": "pure",
}
# Units of the package-cycle check that are not a whole subpackage (see the docstring).
SPLIT_UNITS = ("kenner.config.model",)
IO_LIBRARIES = frozenset(
    {
        "trio",
        "httpx",
        "httpcore",
        "hypercorn",
        "h11",
        "h2",
        "anyio",
        "coredis",
        "sniffio",
        "asyncio",
        "socket",
        "ssl",
        "selectors",
        "subprocess",
        "http.client",
        "urllib.request",
    }
)

Graph = Mapping[str, frozenset[str]]


def module_name(path: Path) -> str:
    parts = path.relative_to(DAEMON).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, frozenset[str]]:
    """Each kenner module -> every module it imports (kenner modules resolved to modules,
    ``from kenner.x import y`` to ``kenner.x.y`` when that is a module; others by name)."""
    paths = {module_name(path): path for path in sorted((DAEMON / "kenner").rglob("*.py"))}
    graph: dict[str, frozenset[str]] = {}
    for module, path in paths.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                for alias in node.names:
                    child = f"{base}.{alias.name}"
                    imported.add(child if child in paths else base)
        graph[module] = frozenset(imported)
    return graph


def _longest(module: str, prefixes: Iterable[str]) -> str | None:
    matches = [p for p in prefixes if module == p or module.startswith(p + ".")]
    return max(matches, key=len, default=None)


def layer_of(module: str) -> str | None:
    prefix = _longest(module, PLACES)
    # "kenner" matches only the root package itself: every other module must be placed.
    if prefix is None or (prefix == "kenner" and module != "kenner"):
        return None
    return PLACES[prefix]


def _package(module: str) -> str:
    """The subpackage (or top-level module) of ``kenner`` that ``module`` belongs to."""
    return ".".join(module.split(".")[:2])


def unit_of(module: str) -> str:
    split = _longest(module, SPLIT_UNITS)
    return split if split is not None else _package(module)


def layer_violations(graph: Graph) -> list[str]:
    """Imports that point up, pure modules that import I/O or from an I/O package, modules in
    no layer."""
    io_packages = {
        _package(module): module
        for module in sorted(graph, reverse=True)
        if layer_of(module) not in (None, "pure")
    }
    problems = []
    for module, imported in sorted(graph.items()):
        layer = layer_of(module)
        if layer is None:
            problems.append(f"{module} is in no layer: add it to PLACES in {Path(__file__).name}")
            continue
        for name in sorted(imported):
            if name.split(".")[0] == "kenner":
                target = layer_of(name)
                if target is not None and LAYERS.index(target) < LAYERS.index(layer):
                    problems.append(
                        f"{module} imports {name}: the {layer} layer may not import the "
                        f"{target} layer (layers point down: {' > '.join(LAYERS)})"
                    )
                elif layer == "pure" and _package(name) in io_packages.keys() - {_package(module)}:
                    problems.append(
                        f"{module} imports {name}: a pure module imports nothing from "
                        f"{_package(name)}, a package that does I/O "
                        f"({io_packages[_package(name)]}); move what it needs to a pure package"
                    )
            elif layer == "pure" and _longest(name, IO_LIBRARIES) is not None:
                problems.append(
                    f"{module} imports {name}: a pure module imports no I/O library; "
                    "keep the I/O in an io-layer module that calls it"
                )
    return problems


def cycles(graph: Graph) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for successor in sorted(graph.get(node, ())):
            if successor not in graph:
                continue
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def unit_graph(graph: Graph) -> tuple[dict[str, frozenset[str]], dict[tuple[str, str], str]]:
    """The package-level graph and, per unit edge, one module import that makes it."""
    edges: dict[str, set[str]] = {unit_of(module): set() for module in graph}
    witness: dict[tuple[str, str], str] = {}
    for module, imported in sorted(graph.items()):
        for name in sorted(imported):
            if name in graph and unit_of(name) != unit_of(module):
                edge = (unit_of(module), unit_of(name))
                edges[edge[0]].add(edge[1])
                witness.setdefault(edge, f"{module} imports {name}")
    return {unit: frozenset(targets) for unit, targets in edges.items()}, witness


def cycle_violations(graph: Graph) -> list[str]:
    problems = [f"import cycle between modules: {', '.join(c)}" for c in cycles(graph)]
    units, witness = unit_graph(graph)
    for component in cycles(units):
        how = "; ".join(
            witness[(a, b)] for a in component for b in sorted(units[a]) if b in component
        )
        problems.append(f"import cycle between packages {', '.join(component)}: {how}")
    return problems


def test_every_module_is_placed_and_imports_only_down() -> None:
    graph = import_graph()
    # Read it all:
    assert {"kenner.cli", "kenner.app.pipeline", "kenner.tuf.metadata"} <= graph.keys()
    assert layer_violations(graph) == []


def test_no_import_cycles() -> None:
    assert cycle_violations(import_graph()) == []


def test_every_place_and_split_unit_names_real_modules() -> None:
    """A stale entry would silently stop checking what it was written for."""
    graph = import_graph()
    for prefix in (*PLACES, *SPLIT_UNITS):
        assert any(m == prefix or m.startswith(prefix + ".") for m in graph), prefix


def test_the_checks_name_the_import_that_breaks_a_rule() -> None:
    graph = {
        "kenner.tuf.metadata": frozenset({"trio", "kenner.errors"}),
        "kenner.errors": frozenset(),
        "kenner.net.http": frozenset({"kenner.server.app"}),
        "kenner.server.app": frozenset({"kenner.net.http"}),
        "kenner.brand_new": frozenset(),
        "kenner.config.alert_checks": frozenset({"kenner.alerting.render"}),
        "kenner.alerting.render": frozenset(),
        "kenner.alerting.sender": frozenset({"httpx"}),
    }
    assert layer_violations(graph) == [
        f"kenner.brand_new is in no layer: add it to PLACES in {Path(__file__).name}",
        "kenner.config.alert_checks imports kenner.alerting.render: a pure module imports "
        "nothing from kenner.alerting, a package that does I/O (kenner.alerting.sender); move "
        "what it needs to a pure package",
        "kenner.net.http imports kenner.server.app: the io layer may not import the server "
        "layer (layers point down: entry > server > app > io > pure)",
        "kenner.tuf.metadata imports trio: a pure module imports no I/O library; keep the I/O "
        "in an io-layer module that calls it",
    ]
    assert cycle_violations(graph) == [
        "import cycle between modules: kenner.net.http, kenner.server.app",
        "import cycle between packages kenner.net, kenner.server: kenner.net.http imports "
        "kenner.server.app; kenner.server.app imports kenner.net.http",
    ]


def test_the_package_check_sees_a_cycle_the_module_graph_lacks() -> None:
    """config <-> alerting was such a cycle: no module imported itself back, but each package
    needed the other."""
    graph = {
        "kenner.config.checks": frozenset({"kenner.alerting.render"}),
        "kenner.alerting.render": frozenset(),
        "kenner.alerting.events": frozenset({"kenner.config.load"}),
        "kenner.config.load": frozenset(),
    }
    assert cycles(graph) == []
    assert cycle_violations(graph) == [
        "import cycle between packages kenner.alerting, kenner.config: kenner.alerting.events "
        "imports kenner.config.load; kenner.config.checks imports kenner.alerting.render"
    ]
