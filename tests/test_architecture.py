"""The layout tells the truth: imports run one way, there are no import loops, and the index backend is chosen
in one place. Read from the source with ast, imports inside functions included."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("core", "index", "ingest", "app", "eval")
# What each package may import from the others (its own modules always).
ALLOWED = {
    "core": set(),
    "index": {"core"},
    "ingest": {"core", "index"},
    "app": {"core", "index"},
    "eval": {"core", "index", "ingest", "app"},
}
# The one composition point: the `waf-assistant` console script offers `ingest` beside `ask` and `review`.
ENTRY_POINT_EXCEPTIONS = {("app.cli", "ingest.cli")}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def internal_imports() -> dict[str, set[str]]:
    modules = {module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def test_imports_run_one_way_between_packages():
    wrong = [
        f"{source} imports {target}"
        for source, targets in internal_imports().items()
        for target in targets
        if (top := target.split(".")[0]) != source.split(".")[0]
        and top not in ALLOWED[source.split(".")[0]]
        and (source, target) not in ENTRY_POINT_EXCEPTIONS
    ]
    assert not wrong, "\n".join(sorted(wrong))


def test_there_is_no_import_loop():
    graph = internal_imports()
    visiting: list[str] = []
    done: set[str] = set()
    loops: list[str] = []

    def visit(node: str) -> None:
        if node in done:
            return
        if node in visiting:
            loops.append(" -> ".join(visiting[visiting.index(node):] + [node]))
            return
        visiting.append(node)
        for target in sorted(graph[node]):
            if not graph.get(target) and target not in graph:
                continue
            # a package's __init__ is not a loop with its own modules
            if node.startswith(target + ".") or target.startswith(node + "."):
                continue
            visit(target)
        visiting.pop()
        done.add(node)

    for node in sorted(graph):
        visit(node)
    assert not loops, "\n".join(loops)


def test_nothing_imports_tests_and_only_eval_imports_eval():
    for source, targets in internal_imports().items():
        assert not any(t.startswith("tests") for t in targets), source
        if not source.startswith("eval"):
            assert not any(t.split(".")[0] == "eval" for t in targets), source


def test_the_index_backend_is_chosen_in_one_place():
    places = [
        str(path.relative_to(ROOT))
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "settings.index_backend" in path.read_text(encoding="utf-8")
    ]
    assert places == ["index/backend.py"], places
