"""The layout's rules, read from the source: data flows one way (service -> copilot -> kb,
eval -> copilot), FastAPI stays in service/, no import cycle between modules, and every import
names the module that defines what it takes (no re-exports)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("kb", "copilot", "eval", "service")
# what each layer may import of the others
ALLOWED = {"kb": set(), "copilot": {"kb"}, "eval": {"copilot", "kb"},
           "service": {"copilot", "kb"}}  # fmt: skip


def _modules() -> dict[str, ast.Module]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            found[name] = ast.parse(path.read_text(encoding="utf-8"))
    return found


MODULES = _modules()


def _imports(tree: ast.Module) -> Iterator[tuple[str, str | None]]:
    """(module, name) for `from module import name`, (module, None) for `import module`."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                yield node.module, alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None


def _target(module: str, name: str | None) -> str | None:
    """The project module an import reaches, if any."""
    if name is not None and f"{module}.{name}" in MODULES:
        return f"{module}.{name}"
    return module if module in MODULES else None


def test_the_modules_are_found() -> None:
    assert {"kb.knowledge", "copilot.pipeline", "eval.runner", "service.main"} <= set(MODULES)


def test_layers_import_only_downward_and_fastapi_stays_in_service() -> None:
    wrong = []
    for name, tree in MODULES.items():
        layer = name.split(".")[0]
        for module, _ in _imports(tree):
            top = module.split(".")[0]
            if top in PACKAGES and top != layer and top not in ALLOWED[layer]:
                wrong.append(f"{name} imports {module}")
            if top in ("fastapi", "starlette") and layer != "service":
                wrong.append(f"{name} imports {module}")
    assert wrong == []


def test_no_module_imports_one_that_imports_it_back() -> None:
    graph = {name: {t for m, n in _imports(tree) if (t := _target(m, n))}
             for name, tree in MODULES.items()}  # fmt: skip
    cycles = []
    for start in graph:
        stack, seen = [(start, (start,))], {start}
        while stack:
            node, path = stack.pop()
            for nxt in graph.get(node, ()):
                if nxt == start:
                    cycles.append(" -> ".join((*path, start)))
                elif nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, (*path, nxt)))
    assert cycles == []


def _defines(tree: ast.Module) -> set[str]:
    names = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.If):  # names defined under a guard (TYPE_CHECKING aside)
            names |= _defines(ast.Module(body=node.body, type_ignores=[]))
    return names


def test_every_import_names_the_module_that_defines_it() -> None:
    """No re-exports: `from copilot.pipeline import HistoryHit` would hide where it lives."""
    defined = {name: _defines(tree) for name, tree in MODULES.items()}
    wrong = []
    for name, tree in MODULES.items():
        for module, imported in _imports(tree):
            submodule = f"{module}.{imported}" in MODULES
            if module in MODULES and imported and not submodule and imported not in defined[module]:
                wrong.append(f"{name}: from {module} import {imported}")
    assert wrong == []
