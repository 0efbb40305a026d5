"""Read the package's source with ``ast``: private uses, the import graph, its cycles."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = "fashion_mnist"
PIPELINES = f"{PACKAGE}.pipelines."
MAX_LINES = 300
# Names that only exist to switch a plugin's hooks off.
FORBIDDEN_NAMES = {"DISABLE_HOOKS_FOR_PLUGINS"}


def module_name(path: Path, src: Path) -> str:
    """``fashion_mnist.a.b`` for ``src/fashion_mnist/a/b.py`` (a package for ``__init__``)."""
    parts = [PACKAGE, *path.relative_to(src).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _own_names(trees: dict[str, ast.Module]) -> set[str]:
    """Underscore names the package defines itself: its functions, classes and attributes."""
    names = set()
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                value = node.value
                if isinstance(value, ast.Name) and value.id in ("self", "cls"):
                    names.add(node.attr)
    return {name for name in names if _private(name)}


def _external(module: str | None, level: int) -> bool:
    return level == 0 and bool(module) and module.split(".")[0] != PACKAGE


def _finding(node: ast.AST, own: set[str]) -> str | None:  # noqa: PLR0911 (one return per kind)
    """What ``node`` reaches into that is not the package's own, or ``None``."""
    if isinstance(node, ast.Attribute):
        if _private(node.attr) and node.attr not in own:
            return f"private attribute {ast.unparse(node)}"
        if (
            node.attr == "modules"
            and isinstance(node.value, ast.Name)
            and node.value.id == "sys"
        ):
            return "sys.modules"
    elif isinstance(node, ast.ImportFrom) and _external(node.module, node.level):
        names = [a.name for a in node.names if _private(a.name)]
        if names:
            return f"private name(s) {names} from {node.module}"
        if any(_private(part) for part in node.module.split(".")):
            return f"private module {node.module}"
    elif isinstance(node, ast.Import):
        hidden = [
            a.name
            for a in node.names
            if _external(a.name, 0) and any(_private(p) for p in a.name.split("."))
        ]
        if hidden:
            return f"private module(s) {hidden}"
    elif isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES:
        return node.id
    elif (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ("getattr", "setattr", "hasattr", "delattr")
        and len(node.args) > 1
        and isinstance(node.args[1], ast.Constant)
        and isinstance(node.args[1].value, str)
        and _private(node.args[1].value)
        and node.args[1].value not in own
    ):
        return f"{node.func.id}(..., {node.args[1].value!r})"
    return None


def private_uses(trees: dict[str, ast.Module]) -> list[str]:
    """Every place that reaches into a dependency's private names or the interpreter's.

    Returns:
        ``"<module>:<line>: <what>"`` per finding: an underscore attribute the
        package does not define itself, an underscore name or module imported
        from a dependency, ``sys.modules``, or a name that disables plugin hooks.
    """
    own = _own_names(trees)
    return [
        f"{module}:{getattr(node, 'lineno', 0)}: {what}"
        for module, tree in trees.items()
        for node in ast.walk(tree)
        if (what := _finding(node, own))
    ]


def _resolve(module: str, is_package: bool, target: str | None, level: int) -> str:
    if level == 0:
        return target or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, target] if target else base)


def import_graph(trees: dict[str, ast.Module]) -> dict[str, set[str]]:
    """For each module of the package, the package's modules it imports (anywhere in it)."""
    known = set(trees)
    packages = {m for m in known if any(o.startswith(m + ".") for o in known)}

    def most_specific(name: str) -> str | None:
        parts = name.split(".")
        for end in range(len(parts), 0, -1):
            candidate = ".".join(parts[:end])
            if candidate in known:
                return candidate
        return None

    graph: dict[str, set[str]] = {m: set() for m in known}
    for module, tree in trees.items():
        for node in ast.walk(tree):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(module, module in packages, node.module, node.level)
                targets = [f"{base}.{a.name}" for a in node.names]
            for target in targets:
                if target.split(".")[0] != PACKAGE:
                    continue
                resolved = most_specific(target)
                if resolved and resolved != module:
                    graph[module].add(resolved)
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(cycles)


def _pipeline_of(module: str) -> str | None:
    if not module.startswith(PIPELINES):
        return None
    return module[len(PIPELINES) :].split(".", maxsplit=1)[0]


def sideways_imports(graph: dict[str, set[str]]) -> list[str]:
    """Imports that do not point down: core into a pipeline, one pipeline into another."""
    found = []
    for module, targets in graph.items():
        mine = _pipeline_of(module)
        for target in sorted(targets):
            theirs = _pipeline_of(target)
            if theirs is not None and theirs != mine:
                found.append(f"{module} imports {target}")
    return found
