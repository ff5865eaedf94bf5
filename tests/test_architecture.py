"""The layers of docs/architecture.md hold: no upward import, no import cycle, thin DAG files, short modules.

Every module under `vcpipeline/` is parsed with `ast` (nothing is imported), and every import in
it counts, at module level or inside a function: a function-level import is still a dependency,
and must not hide a loop. Today's known exceptions are listed below, each with its reason; the
list may only shrink. A new violation fails the test, and so does a listed one that is gone (so
the list never goes stale).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "vcpipeline"
DAGS = ROOT / "dags"
PLUGINS = ROOT / "plugins"

# docs/architecture.md, bottom to top: a module may import its own layer and the layers below.
LAYERS: tuple[tuple[str, frozenset[str]], ...] = (
    ("foundation", frozenset({"", "calendar", "instants", "parsing", "canonical", "periods", "settings",
                              "errors", "textsafety", "disclosure"})),
    ("systems", frozenset({"sources", "validation", "warehouse"})),
    ("stages", frozenset({"ingest", "rules"})),
    ("outputs", frozenset({"alerts", "sampling", "report", "synth", "audit", "returns"})),
    ("entry points", frozenset({"tasks", "orchestration", "cli"})),
)

# What a DAG file may import besides the standard library: the task package, the Task SDK,
# pendulum, and the plugins' timetable and deadline classes.
DAG_IMPORTS = ("vcpipeline.tasks", "airflow.sdk", "pendulum", "vcp_scheduling")

MAX_LINES = 350
LENGTH_REASON = "Long because"  # a module over MAX_LINES says why in its docstring, after this

# (importer, imported): an upward import or an edge of a cycle that exists today, with its reason.
KNOWN_VIOLATIONS: dict[tuple[str, str], str] = {}

# Modules over MAX_LINES today that are being split (issue 12); none may be added.
KNOWN_LONG: dict[str, str] = {
}


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules(package: Path = PACKAGE) -> dict[str, Path]:
    """Every module of the package by dotted name (migration scripts included: they must not
    reach into the live code either)."""
    return {module_name(path, package.parent): path for path in sorted(package.rglob("*.py"))}


def imported_names(path: Path, name: str) -> Iterator[tuple[tuple[str, ...], int]]:
    """Every import statement anywhere in the file, as the absolute names it may reach, with its line.

    `from a.b import c` gives (`a.b.c`, `a.b`): `c` may be a submodule or a name defined in `a.b`,
    and the caller keeps the first that is a module.
    """
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield (alias.name,), node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            for alias in node.names:
                yield (f"{origin}.{alias.name}", origin), node.lineno


def project_imports(modules: dict[str, Path]) -> list[Import]:
    """The imports between project modules, each resolved to the module it reaches."""
    found: set[Import] = set()
    for name, path in modules.items():
        for candidates, line in imported_names(path, name):
            target = next((c for c in candidates if c in modules), None)
            if target is not None and target != name:
                found.add(Import(name, target, line))
    return sorted(found, key=lambda i: (i.importer, i.imported, i.line))


def area(module: str) -> str:
    """`ingest` for `vcpipeline.ingest.run`, `calendar` for `vcpipeline.calendar`, `` for the root."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def layer(module: str) -> int:
    for rank, (_, areas) in enumerate(LAYERS):
        if area(module) in areas:
            return rank
    raise AssertionError(f"{module}: its area {area(module)!r} is in no layer of docs/architecture.md")


def upward_imports(imports: Iterable[Import]) -> set[tuple[str, str]]:
    return {(i.importer, i.imported) for i in imports if layer(i.imported) > layer(i.importer)}


def cycles(edges: Iterable[tuple[str, str]]) -> list[set[str]]:
    """The strongly connected components with more than one node (Tarjan, iterative)."""
    graph: dict[str, set[str]] = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
        graph.setdefault(b, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(component)
    return found


def cycle_edges(imports: Iterable[Import]) -> set[tuple[str, str]]:
    """The module imports that lie on an import cycle."""
    edges = {(i.importer, i.imported) for i in imports}
    members = [component for component in cycles(edges)]
    return {(a, b) for a, b in edges for c in members if a in c and b in c}


def package_cycles(imports: Iterable[Import]) -> list[set[str]]:
    """Cycles between the areas (`ingest`, `rules`, …): a loop through several modules can
    hide from the module graph's view of one area but not from this one."""
    return cycles({(area(i.importer), area(i.imported)) for i in imports
                   if area(i.importer) != area(i.imported)})


def violations(imports: list[Import]) -> set[tuple[str, str]]:
    return upward_imports(imports) | cycle_edges(imports)


def describe(imports: list[Import], edges: Iterable[tuple[str, str]]) -> str:
    lines = {(i.importer, i.imported): i.line for i in imports}
    return "\n".join(f"  {a} (line {lines.get((a, b), '?')}) imports {b}" for a, b in sorted(edges))


@pytest.fixture(scope="module")
def imports() -> list[Import]:
    return project_imports(project_modules())


# --- the checker itself, on small made-up trees ------------------------------------------------

def _tree(tmp_path: Path, files: dict[str, str]) -> dict[str, Path]:
    for relative, text in files.items():
        path = tmp_path / "vcpipeline" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return project_modules(tmp_path / "vcpipeline")


def test_checker_sees_an_upward_import_hidden_inside_a_function(tmp_path):
    modules = _tree(tmp_path, {
        "__init__.py": "", "rules/__init__.py": "", "alerts/__init__.py": "",
        "rules/engine.py": "def f():\n    from vcpipeline.alerts import compose\n",
        "alerts/compose.py": "from ..rules import engine\n",
    })
    found = upward_imports(project_imports(modules))
    assert found == {("vcpipeline.rules.engine", "vcpipeline.alerts.compose")}


def test_checker_sees_a_cycle_through_relative_and_function_level_imports(tmp_path):
    modules = _tree(tmp_path, {
        "__init__.py": "", "ingest/__init__.py": "",
        "ingest/run.py": "def f():\n    from . import replay\n",
        "ingest/replay.py": "from vcpipeline.ingest.run import f\n",
        "ingest/windows.py": "from vcpipeline.ingest import run\n",
    })
    assert cycle_edges(project_imports(modules)) == {
        ("vcpipeline.ingest.run", "vcpipeline.ingest.replay"),
        ("vcpipeline.ingest.replay", "vcpipeline.ingest.run"),
    }


def test_checker_sees_a_cycle_between_areas_of_one_layer(tmp_path):
    modules = _tree(tmp_path, {
        "__init__.py": "", "sources/__init__.py": "", "warehouse/__init__.py": "",
        "sources/a.py": "from vcpipeline.warehouse import b\n",
        "warehouse/b.py": "x = 1\n", "warehouse/c.py": "from vcpipeline.sources import a\n",
    })
    imports = project_imports(modules)
    assert cycle_edges(imports) == set()
    assert package_cycles(imports) == [{"sources", "warehouse"}]


# --- the project -------------------------------------------------------------------------------

def test_every_module_belongs_to_a_layer_named_in_the_architecture_page():
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    for module in project_modules():
        layer(module)
    for name, areas in LAYERS:
        assert name in page, f"layer {name!r} is not described in docs/architecture.md"
        for area_name in areas - {""}:
            assert f"`{area_name}" in page, f"{area_name} is not placed in docs/architecture.md"


def test_no_module_imports_from_a_layer_above_it_or_in_a_cycle(imports):
    new = violations(imports) - set(KNOWN_VIOLATIONS)
    assert not new, ("imports that go up a layer or close a loop (docs/architecture.md):\n"
                     + describe(imports, new))


def test_known_violations_are_still_real_so_the_list_only_shrinks(imports):
    gone = set(KNOWN_VIOLATIONS) - violations(imports)
    assert not gone, ("fixed, so remove from KNOWN_VIOLATIONS in tests/test_architecture.py:\n"
                      + "\n".join(f"  {a} -> {b}" for a, b in sorted(gone)))


def test_no_import_cycle_between_areas(imports):
    known_areas = {(area(a), area(b)) for a, b in KNOWN_VIOLATIONS}
    found = [c for c in package_cycles(imports)
             if not all((a, b) in known_areas for a in c for b in c if a != b)]
    assert not found, f"areas importing each other: {found}"


def _stdlib(name: str) -> bool:
    return name.split(".")[0] in sys.stdlib_module_names


def dag_import_allowed(name: str, plugins: Iterable[str]) -> bool:
    """The standard library, the task package, the Task SDK, pendulum and the plugins; nothing
    else of `vcpipeline` and no other library."""
    def within(prefix: str) -> bool:
        return name == prefix or name.startswith(prefix + ".")

    if within("vcpipeline"):
        return within("vcpipeline.tasks")
    return _stdlib(name) or any(within(allowed) for allowed in (*DAG_IMPORTS, *plugins))


@pytest.mark.parametrize("dag_file", sorted(DAGS.glob("*.py")), ids=lambda p: p.name)
def test_dag_files_import_only_the_task_package_the_sdk_pendulum_and_plugins(dag_file):
    plugins = [path.stem for path in PLUGINS.glob("*.py")]
    tree = ast.parse(dag_file.read_text(encoding="utf-8"))
    named = {
        alias.name if isinstance(node, ast.Import) else node.module or ""
        for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    }
    bad = sorted(name for name in named if not dag_import_allowed(name, plugins))
    assert not bad, f"{dag_file.name} imports {bad}: go through vcpipeline.tasks"


def test_dag_import_rule_refuses_the_pipeline_behind_the_task_package():
    assert dag_import_allowed("vcpipeline.tasks.nightly", [])
    assert dag_import_allowed("airflow.sdk.exceptions", []) and dag_import_allowed("datetime", [])
    assert dag_import_allowed("vcp_scheduling", ["vcp_scheduling"])
    assert not dag_import_allowed("vcpipeline.orchestration.assets", [])
    assert not dag_import_allowed("vcpipeline", [])
    assert not dag_import_allowed("airflow.providers.smtp", [])
    assert not dag_import_allowed("pandas", [])


def test_every_dag_file_goes_through_the_task_package():
    """One home for task bodies: every DAG file imports `vcpipeline.tasks`."""
    for dag_file in sorted(DAGS.glob("*.py")):
        assert "vcpipeline.tasks" in dag_file.read_text(encoding="utf-8"), dag_file.name


def _docstring(path: Path) -> str:
    return ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""


def test_no_module_is_over_350_lines_without_a_reason_in_its_docstring():
    long = {name: path for name, path in project_modules().items()
            if len(path.read_text(encoding="utf-8").splitlines()) > MAX_LINES}
    unexplained = sorted(name for name, path in long.items()
                         if name not in KNOWN_LONG and LENGTH_REASON not in _docstring(path))
    assert not unexplained, (f"over {MAX_LINES} lines with no {LENGTH_REASON!r} in the docstring: "
                             f"{unexplained}")
    shortened = sorted(set(KNOWN_LONG) - set(long))
    assert not shortened, f"now short enough: remove from KNOWN_LONG: {shortened}"


# Error types have one home, `vcpipeline.errors`: none is imported through another module
# (`vcpipeline.parsing` used to pass `InputError` on). Exceptions would be listed here.
KNOWN_ERROR_DETOURS: frozenset[str] = frozenset()


def test_error_types_are_imported_from_their_one_home():
    detours = set()
    for path in sorted([*PACKAGE.rglob("*.py"), *(ROOT / "tests").rglob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module != "vcpipeline.errors" and any(
                    alias.name in {"InputError", "UsageError"} for alias in node.names):
                detours.add(path.relative_to(ROOT).as_posix())
    assert detours <= KNOWN_ERROR_DETOURS, f"import error types from vcpipeline.errors: {sorted(detours - KNOWN_ERROR_DETOURS)}"
    assert not KNOWN_ERROR_DETOURS - detours, f"fixed: remove from KNOWN_ERROR_DETOURS {sorted(KNOWN_ERROR_DETOURS - detours)}"
