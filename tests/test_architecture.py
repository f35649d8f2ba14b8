"""The floors of docs/architecture.md: a module imports only from its own floor or below,
inside functions too; the few arrows up are deliberate lazy facades, listed here with why."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "personafuse"

# Each top-level module or package of personafuse and its floor (docs/architecture.md).
FLOORS = {
    "config": 0, "registry": 0, "checkpoints": 0, "terminal": 0,
    "text": 1, "data": 1,
    "scoring": 2, "generation": 2,
    "features": 3,
    "fusion": 4, "matching": 4,
    "backbones": 5,
    "lit": 6,
    "runs": 7,
    "inference": 8,
    "retrieval": 9, "report": 9,
    "cli": 10,
    "train": 11, "evaluate": 11, "generate": 11, "index": 11, "chat": 11, "serve": 11,
    "completion": 11,
    # The package root is the public face: it re-exports from below (lower floors import
    # only its __version__).
    "__init__": 12,
}  # fmt: skip
# Arrows up, each a lazy facade: (importer, imported) -> why.
FACADES: dict[tuple[str, str], str] = {}


def _part(module: str) -> str:
    """``personafuse.runs.checks`` -> ``runs``; the package root -> ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _runtime_nodes(tree: ast.AST):
    """Every node but those under ``if TYPE_CHECKING:`` (never imported when running)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            yield from (n for child in node.orelse for n in [child, *_runtime_nodes(child)])
            continue
        yield node
        yield from _runtime_nodes(node)


def _imports(path: Path) -> set[str]:
    found = set()
    for node in _runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "personafuse":  # from personafuse import __version__, X
                found |= {f"personafuse.{a.name}" for a in node.names if a.name != "__version__"}
            elif node.module.startswith("personafuse."):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("personafuse.")}
    return found


def test_every_part_of_the_package_has_a_floor():
    parts = {p.stem for p in PACKAGE.glob("*.py")} | {
        p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()
    }
    assert parts == set(FLOORS)  # web/ holds the chat page only


def test_no_lower_floor_imports_a_higher_one():
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        importer = _part(".".join(relative.parts))
        for module in _imports(path):
            imported = _part(module)
            if imported not in FLOORS or (importer, imported) in FACADES:
                continue
            if FLOORS[imported] > FLOORS.get(importer, 0):
                upward.append(f"{relative}: {module}")
    assert upward == []


def test_the_top_level_is_commands_and_a_few_core_modules():
    modules = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__"}
    commands = {name for name, floor in FLOORS.items() if floor == FLOORS["train"]}
    assert modules - commands == {"config", "registry", "checkpoints", "terminal"}


def _module_graph() -> dict[str, set[str]]:
    """Module -> the personafuse modules it imports (at its top or inside functions)."""
    names = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {}
    for name, path in names.items():
        targets = set()
        for module in _imports(path):
            # ``from personafuse.x import y``: y is a module of x, or a name defined in x.
            targets.add(module if module in names else module.rsplit(".", 1)[0])
        graph[name] = {t for t in targets if t in names and t != name}
    return graph


def test_no_import_circle():
    graph = _module_graph()
    assert len(graph) > 50
    circles, state = [], {}

    def visit(node, trail):
        state[node] = "open"
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                circles.append(" -> ".join([*trail[trail.index(target) :], target]))
            elif target not in state:
                visit(target, [*trail, target])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert circles == []


def test_the_architecture_page_lists_the_same_floors():
    import re

    page = (PACKAGE.parent / "docs" / "architecture.md").read_text()
    documented = {}
    for floor, parts in re.findall(r"^\| (\d+) \| ([^|]+) \|", page, flags=re.MULTILINE):
        for part in re.findall(r"`([\w_]+)`", parts):
            documented[part] = int(floor)
    assert documented == FLOORS
