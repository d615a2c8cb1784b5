"""The "never" arrows of the layout, read from the source (issue 11, item 9).

Each module of the `tuitune` package is parsed with `ast`; every `import` and
`from ... import` (relative ones resolved, those inside functions and
`if TYPE_CHECKING:` included) is an arrow. Importing `tuitune.a.b` also runs
`tuitune/a/__init__.py`, so that is an arrow too. Only tuitune modules are
followed; anything else is a leaf named by its top-level package.

The one arrow allowed across a "never" is the CLI opening the TUI, and only as an
import deferred into the command that opens it (so `import tuitune.client.cli_commands`
still loads no Textual: tests/engine/test_engine_imports.py checks that at run time).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest

import tuitune

PACKAGE_DIR = Path(tuitune.__file__).resolve().parent

# (importer, imported) pairs that may cross a "never" arrow, each with its reason.
# The import must sit inside a function: at module level it would load Textual.
DEFERRED_ONLY = {
    ("tuitune.client.cli_commands", "tuitune.ui"): "`run`, `attach` and `gpu` open the TUI",
}


# How an import runs, weakest first; a module imported twice keeps the strongest.
TYPING, DEFERRED, MODULE = 0, 1, 2  # under `if TYPE_CHECKING:`, inside a function, at import


@dataclass
class Module:
    name: str
    path: Path
    imports: dict[str, int] = field(default_factory=dict)  # imported name -> how

    def add(self, target: str, how: int) -> None:
        self.imports[target] = max(how, self.imports.get(target, TYPING))


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE_DIR.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _is_type_checking(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imported_names(path: Path, name: str, known: dict[str, Path]) -> list[tuple[str, int]]:
    """Every (module, how) that `path` imports, relative imports resolved."""
    here = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    out: list[tuple[str, int]] = []

    def visit(node: ast.AST, how: int) -> None:
        for child in ast.iter_child_nodes(node):
            inner = how
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                inner = min(how, DEFERRED)
            if isinstance(child, ast.Import):
                out.extend((alias.name, how) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = here[: len(here) - child.level + 1] if child.level else []
                target = ".".join(base + ([child.module] if child.module else []))
                out.append((target, how))
                out.extend((f"{target}.{a.name}", how) for a in child.names  # a submodule
                           if f"{target}.{a.name}" in known)
            if _is_type_checking(child):
                for stmt in child.body:
                    visit(ast.Module(body=[stmt], type_ignores=[]), TYPING)
                for stmt in child.orelse:
                    visit(ast.Module(body=[stmt], type_ignores=[]), inner)
            else:
                visit(child, inner)

    visit(ast.parse(path.read_text(), filename=str(path)), MODULE)
    return out


@cache
def graph() -> dict[str, Module]:
    known = _modules()
    mods = {name: Module(name, path) for name, path in known.items()}
    for mod in mods.values():
        for target, how in _imported_names(mod.path, mod.name, known):
            parts = target.split(".")
            if parts[0] != "tuitune":
                mod.add(parts[0], how)
                continue
            # `import tuitune.a.b` runs tuitune/a/__init__.py first; a module inside
            # tuitune.a has run it already (`from tuitune.a import b` there is no arrow).
            for i in range(2, len(parts) + 1):
                prefix = ".".join(parts[:i])
                if prefix in known and not _in(mod.name, prefix):
                    mod.add(prefix, how)
    return mods


def _follows(name: str, target: str) -> bool:
    """Whether the arrow name -> target is followed when walking the graph."""
    allowed = (name, target) in DEFERRED_ONLY
    return not allowed or graph()[name].imports[target] == MODULE


def reaches(start: str) -> dict[str, list[str]]:
    """Everything `start` imports, directly or through tuitune modules -> one path."""
    paths: dict[str, list[str]] = {start: [start]}
    todo = [start]
    while todo:
        name = todo.pop()
        for target in graph()[name].imports:
            if target in paths or not _follows(name, target):
                continue
            paths[target] = [*paths[name], target]
            if target in graph():
                todo.append(target)
    return paths


def _in(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _violations(importers, forbidden) -> list[str]:
    """One import path per (importer, forbidden module) pair, shortest first."""
    lines = []
    for name in sorted(graph()):
        if not importers(name):
            continue
        for target, path in reaches(name).items():
            if forbidden(target):
                lines.append(" -> ".join(path))
    lines.sort(key=len)
    return lines[:12] + ([f"... and {len(lines) - 12} more"] if len(lines) > 12 else [])


def test_the_graph_sees_the_package():
    """Guards the walker itself: known arrows are found, relative imports resolve."""
    mods = graph()
    assert len(mods) > 80
    assert "textual" in mods["tuitune.ui.app"].imports
    assert "tuitune.store" in reaches("tuitune.engine.supervisor")
    assert mods["tuitune.client.cli_commands"].imports["tuitune.ui"] == DEFERRED
    assert mods["tuitune.engine.supervisor"].imports["tuitune.engine.trial_lifecycle"] == MODULE
    assert mods["tuitune.engine.trial_lifecycle"].imports["tuitune.engine.placement"] == MODULE
    assert "tensorflow" in reaches("tuitune.in_trial.keras")


def test_allowed_crossings_are_still_deferred():
    for (importer, target), reason in DEFERRED_ONLY.items():
        how = graph()[importer].imports.get(target)
        assert how is not None, f"{importer} no longer imports {target}: drop the entry"
        assert how != MODULE, f"{importer} imports {target} at module level ({reason}): defer it"


def test_nothing_outside_ui_imports_textual():
    bad = _violations(lambda n: not _in(n, "tuitune.ui"), lambda t: t == "textual")
    assert not bad, "Textual reached from outside tuitune/ui/:\n" + "\n".join(bad)


def test_nothing_outside_ui_imports_the_ui():
    bad = _violations(lambda n: not _in(n, "tuitune.ui"), lambda t: _in(t, "tuitune.ui"))
    assert not bad, "tuitune.ui imported from outside it:\n" + "\n".join(bad)


@pytest.mark.parametrize("package", ["tuitune.search", "tuitune.stopping", "tuitune.insight"])
def test_decision_packages_never_import_store_executors_or_engine(package):
    acting = ("tuitune.store", "tuitune.executors", "tuitune.engine")
    bad = _violations(lambda n: _in(n, package), lambda t: any(_in(t, a) for a in acting))
    assert not bad, f"{package} must return decisions, not act:\n" + "\n".join(bad)


def test_only_the_keras_callback_imports_tensorflow():
    # The code, its background checkpoint writer and its public door.
    callback = ("tuitune.in_trial.keras", "tuitune.in_trial.keras_checkpoint", "tuitune.keras")
    bad = _violations(lambda n: n not in callback and not _in(n, "tuitune.ui"),
                      lambda t: t in ("tensorflow", "keras", *callback[:2]))
    assert not bad, "TensorFlow reached from the core:\n" + "\n".join(bad)


# Where code runs (issue 11, item 6): a package never reaches the code of a process
# it does not run in. The training process loads only in_trial, the shared
# vocabulary and the store it writes to; the supervisor never loads a front end.
WHERE_CODE_RUNS = {
    "tuitune.in_trial": ("tuitune.engine", "tuitune.executors", "tuitune.client", "tuitune.ui",
                         "tuitune.search", "tuitune.stopping", "tuitune.insight"),
    "tuitune.engine": ("tuitune.client", "tuitune.ui"),
    "tuitune.executors": ("tuitune.client", "tuitune.ui"),
    "tuitune.store": ("tuitune.engine", "tuitune.executors", "tuitune.client", "tuitune.ui"),
}


@pytest.mark.parametrize("package", sorted(WHERE_CODE_RUNS))
def test_a_package_never_reaches_code_of_another_process(package):
    foreign = WHERE_CODE_RUNS[package]
    bad = _violations(lambda n: _in(n, package), lambda t: any(_in(t, f) for f in foreign))
    assert not bad, f"{package} reaches code of another process:\n" + "\n".join(bad)


def test_the_shared_vocabulary_depends_on_no_process():
    """core/ is imported everywhere, so it imports no process's code at module level
    (strategies.py names the search and stopping registries inside its functions)."""
    foreign = ("tuitune.engine", "tuitune.executors", "tuitune.client", "tuitune.ui",
               "tuitune.store", "tuitune.in_trial")
    bad = [f"{n} -> {t}" for n in sorted(graph()) if _in(n, "tuitune.core")
           for t, how in graph()[n].imports.items()
           if any(_in(t, f) for f in foreign) and how == MODULE]
    assert not bad, "core imports a process's code:\n" + "\n".join(bad)


def import_cycles(package: str, weakest: int) -> list[list[str]]:
    """Groups of modules inside `package` that import each other, counting the
    imports at least as strong as `weakest`."""
    nodes = [n for n in graph() if _in(n, package)]
    edges = {n: [t for t, how in graph()[n].imports.items()
                 if t in graph() and _in(t, package) and t != n and how >= weakest]
             for n in nodes}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def connect(v: str) -> None:  # Tarjan's algorithm
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges[v]:
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for n in nodes:
        if n not in index:
            connect(n)
    return sorted(groups)


@pytest.mark.parametrize("package", ["tuitune.engine", "tuitune.ui"])
def test_no_import_cycle_at_import_time(package):
    """A cycle of module-level imports breaks as soon as someone imports the
    "other" module first."""
    assert import_cycles(package, MODULE) == []


@pytest.mark.parametrize("package", ["tuitune.engine", "tuitune.ui"])
def test_no_import_cycle_at_all(package):
    """Deferred and type-only imports count too: two modules that name each other
    are one module split over two files."""
    assert import_cycles(package, TYPING) == []
