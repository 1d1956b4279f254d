"""The import rules of docs/ARCHITECTURE.md, read from the code's own imports (every import
statement, also those inside functions and under TYPE_CHECKING)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Package (dotted, by folder) -> module prefixes it must never import.
TF_STACK = ("tensorflow", "keras", "tf2onnx", "onnx", "tf_keras")
RULES: dict[str, tuple[str, ...]] = {
    # The app knows only the ONNX contract: no training stack, no training or export code.
    "desktop_app": (*TF_STACK, "training", "export"),
    # core is Qt-free and sits at the bottom of the app.
    "desktop_app.core": ("PySide6", "pyqtgraph", "desktop_app.reports", "desktop_app.gui",
                         "desktop_app.cli"),
    # reports use QtGui to paint PDFs, never widgets, and know nothing above them.
    "desktop_app.reports": ("PySide6.QtWidgets", "pyqtgraph", "desktop_app.gui",
                            "desktop_app.cli"),
    "desktop_app.gui": ("desktop_app.cli",),
    # The window's state is Qt-free (napari's components/): testable without a display.
    "desktop_app.session": ("PySide6", "shiboken6", "pyqtgraph"),
    # training never reaches up into export: export uses training's model code.
    "training": ("export",),
    # export uses training and the app's TF-free core, nothing of the app above it.
    "export": ("desktop_app.reports", "desktop_app.gui", "desktop_app.cli"),
}
# The one arrow that crosses: `dermscreen` with no command starts the window.
ALLOWED = {("desktop_app.cli.main", "desktop_app.gui.shell.app")}
# Where import circles are looked for (import-linter checks the layers; this checks circles,
# small ones included, in every import statement: inside functions and TYPE_CHECKING too).
CYCLE_ROOTS = ("desktop_app", "training", "export")


def module_name(path: Path, root: Path = REPO) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def imported_names(path: Path, root: Path = REPO) -> list[tuple[str, str | None]]:
    """(module, name) for every ``import``/``from ... import`` in ``path`` (relative ones
    resolved); name is what a ``from`` import takes from the module (None for ``import``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[str, str | None]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, None) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.extend((base, alias.name) for alias in node.names)
    return found


def imported_modules(path: Path, root: Path = REPO) -> set[str]:
    """Every module an ``import``/``from ... import`` in ``path`` names."""
    return {module for module, _ in imported_names(path, root)}


def violates(imported: str, banned: str) -> bool:
    return imported == banned or imported.startswith(banned + ".")


def source_files(package: str, root: Path = REPO) -> list[Path]:
    return sorted((root / package.replace(".", "/")).rglob("*.py"))


def rule_breaches(root: Path = REPO) -> list[str]:
    breaches = []
    for package, banned in RULES.items():
        for path in source_files(package, root):
            name = module_name(path, root)
            for imported in sorted(imported_modules(path, root)):
                for prefix in banned:
                    if violates(imported, prefix) and (name, imported) not in ALLOWED:
                        breaches.append(f"{name} imports {imported} (rule: {package} -/-> {prefix})")
    return breaches


def test_every_import_arrow_points_down() -> None:
    assert rule_breaches() == []


def test_the_checker_sees_imports_inside_functions_and_relative_ones(tmp_path: Path) -> None:
    # A check that cannot fail is no check: the reader must find the kinds of import
    # that would slip past a grep for top-level lines.
    core = tmp_path / "desktop_app" / "core"
    core.mkdir(parents=True)
    probe = core / "probe.py"
    probe.write_text(
        "def f():\n    from ..gui import main_window\n    import tensorflow as tf\n",
        encoding="utf-8",
    )
    assert {"desktop_app.gui", "tensorflow"} <= imported_modules(probe, tmp_path)
    assert sorted(rule_breaches(tmp_path)) == [
        "desktop_app.core.probe imports desktop_app.gui (rule: desktop_app.core -/-> desktop_app.gui)",
        "desktop_app.core.probe imports tensorflow (rule: desktop_app -/-> tensorflow)",
    ]


@pytest.mark.parametrize("package", sorted(RULES))
def test_each_ruled_package_exists(package: str) -> None:
    assert source_files(package), f"{package} has no modules: the rule would check nothing"


def import_graph(root: Path = REPO) -> dict[str, set[str]]:
    """Module -> the project modules it imports (a name imported from a package counts as the
    submodule when one has that name)."""
    files = {module_name(p, root): p for package in CYCLE_ROOTS for p in source_files(package, root)}

    def resolve(name: str) -> str | None:
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        # `from pkg import mod` imports pkg.mod; `from mod import name` imports mod.
        targets = {f"{module}.{item}" if f"{module}.{item}" in files else module
                   for module, item in imported_names(path, root)}
        graph[name] = {t for t in map(resolve, targets) if t and t != name}
    return graph


def import_circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in graph:
                    continue
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
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    circles.append(sorted(component))
    return circles


def test_no_import_circles() -> None:
    assert import_circles(import_graph()) == []


def test_the_circle_finder_sees_a_circle_through_a_function_level_import(tmp_path: Path) -> None:
    pkg = tmp_path / "export"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from export import b\n")
    (pkg / "b.py").write_text("def f():\n    from export.c import g\n")
    (pkg / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                              "    from export.a import x\n")
    (pkg / "d.py").write_text("import export.a\n")
    assert import_circles(import_graph(tmp_path)) == [["export.a", "export.b", "export.c"]]


MAX_LINES = 500
MAX_WINDOW_LINES = 400
REASON = "Over 500 lines on purpose:"


def long_modules(root: Path = REPO) -> list[str]:
    """Modules over MAX_LINES lines whose docstring does not say why."""
    found = []
    for package in CYCLE_ROOTS:
        for path in source_files(package, root):
            text = path.read_text(encoding="utf-8")
            if text.count("\n") > MAX_LINES and REASON not in (ast.get_docstring(
                    ast.parse(text)) or ""):
                found.append(str(path.relative_to(root)))
    return found


def test_no_module_over_500_lines_without_a_reason_at_its_top(tmp_path: Path) -> None:
    assert long_modules() == []
    probe = tmp_path / "export"
    probe.mkdir()
    (probe / "big.py").write_text('"""Big."""\n' + "x = 1\n" * 600)
    (probe / "said.py").write_text(f'"""Said.\n\n{REASON} a reason."""\n' + "x = 1\n" * 600)
    assert long_modules(tmp_path) == ["export/big.py"]


def test_the_main_window_stays_under_400_lines() -> None:
    lines = (REPO / "desktop_app/gui/shell/main_window.py").read_text(encoding="utf-8").count("\n")
    assert lines < MAX_WINDOW_LINES
