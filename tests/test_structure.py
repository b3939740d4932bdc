"""The package's shape: no import circle, layers depending only downwards, safe signal emits.

Read from the source with `ast`, so imports inside functions count (they run
too, only later); imports under `if TYPE_CHECKING:` do not (they never run).
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "mudameter_desktop"
SOURCE = ROOT / PACKAGE


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    """Every module of the package (migration scripts are loaded by Alembic, not imported)."""
    return {
        module_name(path): path
        for path in sorted(SOURCE.rglob("*.py"))
        if "migrations" not in path.relative_to(SOURCE).parts
    }


def is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def run_time_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node that can run, skipping the bodies of `if TYPE_CHECKING:`."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def imported_names(name: str, path: Path) -> set[str]:
    """Fully qualified names imported by module `name` (any module, ours or not)."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in run_time_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = name.split(".")
                if not is_package:
                    base_parts.pop()
                base_parts = base_parts[: len(base_parts) - node.level + 1]
                base = ".".join([*base_parts, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def ours(target: str) -> set[str]:
    """The package's modules that importing `target` runs: it (if a module) and its parents."""
    parts = target.split(".")
    return {
        ".".join(parts[:end])
        for end in range(1, len(parts) + 1)
        if ".".join(parts[:end]) in modules()
    }


@cache
def graph() -> dict[str, frozenset[str]]:
    edges: dict[str, frozenset[str]] = {}
    for name, path in modules().items():
        targets: set[str] = set()
        for imported in imported_names(name, path):
            targets |= ours(imported)
        # A module needs its own parent packages; a package's own face is not an edge.
        targets |= ours(name)
        targets.discard(name)
        edges[name] = frozenset(target for target in targets if not name.startswith(target + "."))
    return edges


def find_cycle(edges: dict[str, frozenset[str]]) -> list[str] | None:
    """One import circle, as the modules on it, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def closure(start: str) -> set[str]:
    seen = {start}
    todo = [start]
    while todo:
        for target in graph()[todo.pop()]:
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def layer(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else "package"


def test_the_reader_sees_function_local_imports_and_skips_type_checking_blocks(
    tmp_path: Path,
) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from mudameter_desktop.ui import tray\n"
        "def late():\n"
        "    from mudameter_desktop.store import database\n"
        "    from . import hosts\n"
    )
    names = imported_names("mudameter_desktop.sample", sample)
    assert "mudameter_desktop.store.database" in names
    assert "mudameter_desktop.hosts" in names
    assert not {name for name in names if "ui" in name}


def test_the_cycle_finder_finds_a_circle_through_three_modules() -> None:
    assert find_cycle({"a": frozenset({"b"}), "b": frozenset({"c"}), "c": frozenset({"a"})})
    assert find_cycle({"a": frozenset({"b"}), "b": frozenset({"c"}), "c": frozenset()}) is None


def test_the_package_has_no_import_circle() -> None:
    assert len(modules()) > 30  # the reader found the package
    cycle = find_cycle(graph())
    assert cycle is None, " -> ".join(cycle or [])


# Which layers each layer may import (besides itself and the package's plain
# modules: hosts, paths, settings, logs). Top-level modules not listed here
# (runtime, app, __main__) are the composition root and may import anything
# but what the rules below forbid.
ALLOWED = {
    "domain": set(),
    "store": {"domain"},
    "services": {"domain", "store"},
    "api": {"domain", "store", "services"},
    "ui": {"domain", "store", "services", "api", "runtime"},
}
BASE_MODULES = {"package", "hosts", "paths", "settings", "logs"}


@pytest.mark.parametrize("lower", sorted(ALLOWED))
def test_layers_depend_only_downwards(lower: str) -> None:
    wrong = {
        f"{name} imports {target}"
        for name, targets in graph().items()
        if layer(name) == lower
        for target in targets
        if layer(target) not in {lower, *ALLOWED[lower]}
        and not (lower != "domain" and layer(target) in BASE_MODULES)
        and target != PACKAGE
    }
    assert not wrong, sorted(wrong)


def test_base_modules_import_nothing_above_them() -> None:
    wrong = {
        f"{name} imports {target}"
        for name, targets in graph().items()
        if layer(name) in BASE_MODULES
        for target in targets
        if layer(target) not in BASE_MODULES
    }
    assert not wrong, sorted(wrong)


def test_the_composition_root_and_the_headless_path_never_import_qt() -> None:
    """`runtime` (and all it imports) is Qt-free: `--headless` and the tests use it without Qt."""
    reached = closure(f"{PACKAGE}.runtime")
    with_qt = {
        name
        for name in reached
        if any(imported.startswith("PySide6") for imported in imported_names(name, modules()[name]))
    }
    assert not with_qt, sorted(with_qt)
    qt_free_ui = {f"{PACKAGE}.ui", f"{PACKAGE}.ui.autostart"}  # the login command
    assert not {name for name in reached - qt_free_ui if layer(name) == "ui"}, sorted(reached)


def test_nothing_but_the_command_line_imports_app() -> None:
    importers = {name for name, targets in graph().items() if f"{PACKAGE}.app" in targets}
    assert importers <= {f"{PACKAGE}.__main__"}, sorted(importers)


def bare_emits(path: Path) -> list[str]:
    """`something.emit(...)` calls: the helper `ui.signals.emit(signal, ...)` must be used."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        f"{path.name}:{node.lineno}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "emit"
        and not (isinstance(node.func.value, ast.Name) and node.func.value.id == "signals")
    ]


def test_the_emit_check_catches_a_natural_emit(tmp_path: Path) -> None:
    sample = tmp_path / "widget.py"
    sample.write_text("def f(self):\n    self.changed.emit()\n    emit(self.changed)\n")
    assert bare_emits(sample) == ["widget.py:2"]


def test_the_ui_never_emits_a_signal_directly() -> None:
    """PySide6 6.12 on Python 3.11 takes a reference off `True` at every `emit()`:
    a bare `.emit(` brings back the "bool_dealloc" abort. `ui/signals.py` is the one exception
    (it implements `emit` and probes for the bug)."""
    ui = SOURCE / "ui"
    found = [
        place
        for path in sorted(ui.rglob("*.py"))
        if path.name != "signals.py"
        for place in bare_emits(path)
    ]
    assert not found, found


def string_typed_change_kinds(path: Path) -> list[str]:
    """Comparisons of something with a change kind's string (`kind != "deleted"`)."""
    from mudameter_desktop.services.changes import ChangeKind

    kinds = {kind.value for kind in ChangeKind}
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        f"{path.name}:{node.lineno}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Compare)
        for operand in [node.left, *node.comparators]
        if isinstance(operand, ast.Constant) and operand.value in kinds
    ]


def test_the_check_finds_a_string_typed_change_kind(tmp_path: Path) -> None:
    sample = tmp_path / "history.py"
    sample.write_text('if kind != "deleted":\n    pass\nif kind is ChangeKind.DELETED:\n    pass\n')
    assert string_typed_change_kinds(sample) == ["history.py:1"]


def test_the_ui_compares_change_kinds_as_the_enum() -> None:
    found = [
        place
        for path in sorted((SOURCE / "ui").rglob("*.py"))
        for place in string_typed_change_kinds(path)
    ]
    assert not found, found


def test_every_package_folder_is_listed_for_setuptools() -> None:
    """pyproject lists the packages (the resources package lives outside the code folder)."""
    with (ROOT / "pyproject.toml").open("rb") as file:
        setuptools = tomllib.load(file)["tool"]["setuptools"]
    code = {
        module_name(folder / "__init__.py")
        for folder in [SOURCE, *SOURCE.rglob("*")]
        if folder.is_dir() and any(folder.glob("*.py"))
    }
    data = {
        ".".join([PACKAGE, "resources", *folder.relative_to(ROOT / "resources").parts])
        for folder in [ROOT / "resources", *(ROOT / "resources").rglob("*")]
        if folder.is_dir() and folder.name != "__pycache__"
    }
    assert set(setuptools["packages"]) == code | data
    assert setuptools["package-dir"] == {f"{PACKAGE}.resources": "resources"}
    assert not (SOURCE / "resources").exists()


def test_the_resources_load_through_their_package() -> None:
    """The installed package (editable here) maps `mudameter_desktop.resources` onto resources/."""
    from importlib import resources

    folder = resources.files(f"{PACKAGE}.resources")
    assert Path(str(folder)).resolve() == (ROOT / "resources").resolve()
    assert (folder / "web" / "index.html").is_file()
    assert (folder / "icons" / "mudameter.svg").is_file()
