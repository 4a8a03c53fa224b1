"""The house: every module under the one `anju` namespace, and no import cycle anywhere.

Edges are every `import` of an anju module, at module level or inside a function: a late import
hides a cycle from Python but not from the design, so it counts here too."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROOMS = {"registry": "anju.registry", "collector": "anju.collector", "plugins": "anju.plugins"}


def modules() -> dict[str, Path]:
    found = {}
    for folder, prefix in ROOMS.items():
        for path in (ROOT / folder).rglob("*.py"):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join((prefix, *parts))] = path
    return found


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name in known}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([node.module] if node.module else []))
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                if candidate in known:
                    out.add(candidate)
                elif base in known:
                    out.add(base)
    out.discard(name)
    return out


def test_no_module_imports_the_old_top_level_names():
    for path in modules().values():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and not node.level:
                top = (node.module or "").split(".")[0]
                assert top not in ROOMS and top != "schema", f"{path}: imports {node.module}"


def test_no_import_cycle():
    mods = modules()
    graph = {name: imports(name, path, set(mods)) for name, path in mods.items()}
    # A package's __init__ importing its own submodules (to register them) is not a dependency
    # of those submodules on each other.
    cycles, state = [], {}

    def visit(node, stack):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    assert cycles == [], "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_the_graph_sees_real_edges():
    # The oracle would pass on an empty graph; make sure it reads the imports it claims to.
    mods = modules()
    edges = imports("anju.registry.sync.merge", mods["anju.registry.sync.merge"], set(mods))
    assert "anju.registry.core.store" in edges
