"""The package's shape (README, Layout): each module imports only from its
own layer or the ones below, no import cycle anywhere, and modules and
functions small enough to read. Imports made inside functions count too: a
cycle hidden behind a late import is still two modules that cannot be
understood (or moved) one without the other."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"

# Bottom to top. A new module or package of src/lakehouse/ gets a row here.
LAYERS = {
    "settings": ["lakehouse", "config", "credentials", "logs", "identifiers"],
    "catalog": ["catalog"],
    "lake": ["lake"],
    "ingest": ["ingest"],
    "serving": ["serving"],
    "orchestration": ["orchestration"],
    "test deliveries": ["generator"],
    "local services": ["services"],
    "entry points": ["cli"],
}
RANK = {("lakehouse" if name == "lakehouse" else f"lakehouse.{name}"): (i, layer)
        for i, (layer, names) in enumerate(LAYERS.items()) for name in names}


def layer_of(module: str) -> tuple[int, str]:
    while module not in RANK:
        module = module.rpartition(".")[0]
    return RANK[module]


def _modules() -> dict[str, Path]:
    out = {}
    for path in SRC.rglob("*.py"):
        parts = path.relative_to(SRC).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _imported(node: ast.AST, package: str) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
            base = ".".join([*anchor, base] if base else anchor)
        return [f"{base}.{a.name}" for a in node.names]   # the submodule, else (below) its package
    return []


def import_graph() -> dict[str, set[str]]:
    """module -> the project modules it imports (`from package import name`
    counts as the submodule `name` when there is one, else as the package)."""
    modules = _modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            for name in _imported(node, package):
                while name and name not in modules:
                    name = name.rpartition(".")[0]
                if name and name != module:
                    graph[module].add(name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_check_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_sees_imports_inside_functions():
    graph = import_graph()
    assert "lakehouse.ingest.prepare" in graph["lakehouse.ingest.promote"]
    assert "lakehouse.credentials" in graph["lakehouse.orchestration.airflow_env"]
    assert len(graph) > 50


def test_no_import_cycle_in_src():
    assert cycles(import_graph()) == []


def test_every_module_has_a_layer():
    top = {m.split(".")[1] for m in import_graph() if m.count(".") >= 1}
    assert top <= {name for names in LAYERS.values() for name in names}, \
        sorted(top - {name for names in LAYERS.values() for name in names})


def test_the_folders_are_the_layers():
    """Above settings, every layer is a package of its own: a newcomer finds
    their room by its folder."""
    flat = {p.stem for p in (SRC / "lakehouse").glob("*.py")} - {"__init__"}
    assert flat <= set(LAYERS["settings"]), sorted(flat - set(LAYERS["settings"]))
    packages = [name for layer, names in LAYERS.items() if layer != "settings" for name in names]
    assert all((SRC / "lakehouse" / name / "__init__.py").is_file() for name in packages)


def test_imports_go_down_the_layers():
    upward = [f"{m} ({layer_of(m)[1]}) imports {d} ({layer_of(d)[1]})"
              for m, deps in sorted(import_graph().items()) for d in sorted(deps) if layer_of(d)[0] > layer_of(m)[0]]
    assert upward == []


MODULE_LINES, FUNCTION_LINES = 400, 60     # what one person holds in mind at once


def test_modules_and_functions_stay_small():
    too_long = []
    for module, path in _modules().items():
        source = path.read_text(encoding="utf-8")
        if source.count("\n") > MODULE_LINES:
            too_long.append(f"{module}: {source.count(chr(10))} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if node.end_lineno - node.lineno + 1 > FUNCTION_LINES:
                    too_long.append(f"{module}.{node.name}: {node.end_lineno - node.lineno + 1} lines")
    assert too_long == [], f"split these (at most {MODULE_LINES} lines a module, {FUNCTION_LINES} a function)"
