"""The map in docs/architecture.md holds: who may import whom, no cycles, no private names
across packages, and every long module named there with its one job.

Imports are read from the source with :mod:`ast`, those inside functions and under
``TYPE_CHECKING`` included: an import put off until a function runs is still a dependency,
and a cycle hidden that way is still a cycle.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CODE = ("protocols", "firmware_sim", "gateway", "tools")
ARCHITECTURE = ROOT / "docs" / "architecture.md"
LONG = 400  # lines; a module longer than this is named in docs/architecture.md with its one job


@dataclass(frozen=True, slots=True)
class Import:
    importer: str  # module doing the import
    imported: str  # module imported (the longest of ours the statement names)
    names: tuple[str, ...]  # names taken from it (`from m import a, b`)
    line: int


@cache
def modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for top in CODE:
        for path in (ROOT / top).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def ours(name: str) -> str | None:
    """The module of ours ``name`` is, or lies in (``gateway.x.Name`` -> ``gateway.x``)."""
    known = modules()
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(module: str) -> Iterator[Import]:
    path = modules()[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = ours(alias.name)
                if target:
                    yield Import(module, target, (), node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                # `from gateway.x import y` names the module gateway.x.y when there is one
                target = ours(f"{base}.{alias.name}") or ours(base)
                if target:
                    yield Import(module, target, (alias.name,), node.lineno)


@cache
def all_imports() -> tuple[Import, ...]:
    return tuple(i for module in modules() for i in imports_of(module) if i.imported != module)


def area(module: str) -> str:
    """The folder (or loose module) a module belongs to, as docs/architecture.md names them:
    ``protocols``, ``firmware_sim``, ``tools``, ``gateway.fiscal``, ``gateway.till`` …"""
    parts = module.split(".")
    if parts[0] != "gateway" or len(parts) == 1:
        return parts[0]
    return ".".join(parts[:2])


def section(title: str) -> str:
    """The text of docs/architecture.md under ``## {title}``, up to the next heading of that level."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else len(text)]


def allowed() -> dict[str, set[str]]:
    """The table of docs/architecture.md's "Who may import whom": each area and the areas it uses."""
    table: dict[str, set[str]] = {}
    for line in section("Who may import whom").splitlines():
        row = re.fullmatch(r"\|\s*`([\w./]+)`\s*\|\s*([^|]*)\|.*", line.strip())
        if row is None:
            continue
        uses = {u.strip("` ").removesuffix("/") for u in row.group(2).split(",") if u.strip("` ")}
        table[dotted(row.group(1))] = {dotted(u) for u in uses if u != "—"}
    return table


def dotted(name: str) -> str:
    return name.removesuffix("/").removesuffix(".py").replace("/", ".")


def test_every_area_is_on_the_map() -> None:
    table = allowed()
    missing = sorted({area(m) for m in modules()} - set(table))
    assert not missing, f"areas docs/architecture.md does not name: {missing}"
    stale = sorted(set(table) - {area(m) for m in modules()})
    assert not stale, f"docs/architecture.md names areas that do not exist: {stale}"


def test_each_area_imports_only_what_the_map_allows() -> None:
    table = allowed()
    wrong = sorted(
        {
            f"{i.importer} (line {i.line}) imports {i.imported}"
            for i in all_imports()
            if area(i.imported) != area(i.importer) and area(i.imported) not in table[area(i.importer)]
        }
    )
    assert not wrong, "\n".join(wrong)


def test_no_import_cycle() -> None:
    graph: dict[str, set[str]] = {m: set() for m in modules()}
    for i in all_imports():
        # Importing a package's own parent runs the parent's __init__ first anyway.
        if not i.importer.startswith(i.imported + "."):
            graph[i.importer].add(i.imported)
    cycles = strongly_connected(graph)
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(sorted(c)) for c in cycles)


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative; only the components of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    for start in graph:
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


def test_no_private_name_is_imported_from_another_package() -> None:
    wrong = sorted(
        f"{i.importer} (line {i.line}) imports {name} from {i.imported}"
        for i in all_imports()
        for name in i.names
        if name.startswith("_")
        and not name.startswith("__")
        and i.imported.rpartition(".")[0] != i.importer.rpartition(".")[0]
    )
    assert not wrong, "\n".join(wrong)


def test_every_long_module_is_named_with_its_one_job() -> None:
    text = section("Long modules")
    named = set(re.findall(r"^\|\s*`([\w./]+\.py)`\s*\|", text, flags=re.MULTILINE))
    long = {
        str(path.relative_to(ROOT))
        for path in modules().values()
        if len(path.read_text(encoding="utf-8").splitlines()) > LONG
    }
    assert not long - named, (
        f"modules over {LONG} lines docs/architecture.md does not explain: {sorted(long - named)}"
    )
    assert not named - long, (
        f"docs/architecture.md lists modules no longer over {LONG} lines: {sorted(named - long)}"
    )
