"""Imports follow the layer map of ``vigil.layers``: never upwards, and no cycle between packages.

Every module under ``src/vigil`` is parsed with ``ast`` (not imported, so nothing runs and a
lazy import inside a function counts as much as one at the top; so does one under
``if TYPE_CHECKING:``, since a type-only dependency still couples the two packages). Each
``vigil.X...`` import, absolute or relative, is reduced to its top-level package ``X``. Imports
built from strings (``importlib.import_module``) are not seen; Vigil has none.
"""

from __future__ import annotations

import ast
import itertools
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vigil.layers import LAYERS

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src" / "vigil"
ROOT = "__init__"  # the name the map gives the root package (``from vigil import __version__``)


@dataclass(frozen=True)
class Import:
    """One ``vigil`` import: where it is, the top-level package it sits in and the one it names."""

    path: Path
    line: int
    owner: str
    target: str
    module: str  # the dotted name as written, made absolute

    def __str__(self) -> str:
        where = self.path.relative_to(REPO) if self.path.is_relative_to(REPO) else self.path
        return f"{where}:{self.line} imports {self.module}"


def top_level_names(src: Path) -> set[str]:
    """The top-level packages (folders with ``__init__.py``) and modules of the tree at ``src``."""
    names = {p.stem for p in src.glob("*.py")}
    names |= {p.name for p in src.iterdir() if (p / "__init__.py").is_file()}
    return names


def _package_parts(src: Path, path: Path) -> list[str]:
    """The dotted package a module file sits in, as parts (``vigil/api/app.py`` -> vigil, api)."""
    return [src.name, *path.relative_to(src).parent.parts]


def _absolute(src: Path, path: Path, node: ast.ImportFrom) -> list[str]:
    base = _package_parts(src, path) if node.level else []
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return base + (node.module.split(".") if node.module else [])


def _targets(src: Path, path: Path, node: ast.AST, names: set[str]) -> Iterator[tuple[str, str]]:
    """(top-level package, dotted module) for each ``vigil`` name an import statement reaches."""
    pkg = src.name
    if isinstance(node, ast.Import):
        for alias in node.names:
            parts = alias.name.split(".")
            if parts[0] == pkg:
                yield (parts[1] if len(parts) > 1 else ROOT), alias.name
    elif isinstance(node, ast.ImportFrom):
        parts = _absolute(src, path, node)
        if not parts or parts[0] != pkg:
            return
        if len(parts) > 1:
            yield parts[1], ".".join(parts)
            return
        for alias in node.names:  # ``from vigil import x``: x is a package, or a root name
            top = alias.name if alias.name in names else ROOT
            yield top, f"{pkg}.{alias.name}"


def scan(src: Path) -> list[Import]:
    """Every ``vigil`` import in the tree at ``src``, in file and line order."""
    names = top_level_names(src)
    found = []
    for path in sorted(src.rglob("*.py")):
        rel = path.relative_to(src)
        owner = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            for target, module in _targets(src, path, node, names):
                found.append(Import(path, node.lineno, owner, target, module))
    return sorted(found, key=lambda i: (str(i.path), i.line, i.module))


def _layer_index(layers: Sequence[frozenset[str]]) -> dict[str, int]:
    return {name: i for i, layer in enumerate(layers) for name in layer}


def upward(imports: Iterable[Import], layers: Sequence[frozenset[str]]) -> list[Import]:
    """The imports of a package in a higher layer than the importing one's."""
    index = _layer_index(layers)
    return [i for i in imports if i.target != i.owner and index[i.target] > index[i.owner]]


def cycles(imports: Iterable[Import]) -> list[list[Import]]:
    """The imports that close a cycle between top-level packages, one list per strongly
    connected group of packages (Tarjan's algorithm; a self-import is no cycle)."""
    edges: dict[str, dict[str, list[Import]]] = defaultdict(lambda: defaultdict(list))
    for i in imports:
        if i.target != i.owner:
            edges[i.owner][i.target].append(i)
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def visit(v: str) -> None:
        order[v] = low[v] = len(order)
        stack.append(v)
        for w in edges[v]:
            if w not in order:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], order[w])
        if low[v] == order[v]:
            group = set()
            while True:
                w = stack.pop()
                group.add(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(group)

    for v in list(edges):
        if v not in order:
            visit(v)
    return [
        sorted(
            (i for a in g for b in edges[a] if b in g for i in edges[a][b]),
            key=lambda i: (str(i.path), i.line),
        )
        for g in sorted(groups, key=sorted)
    ]


def problems(imports: Sequence[Import], layers: Sequence[frozenset[str]]) -> list[str]:
    """One line per import against the map: upward ones, then those closing a cycle."""
    out = [f"{i} ({i.target} is in a higher layer than {i.owner})" for i in upward(imports, layers)]
    for group in cycles(imports):
        packages = ", ".join(sorted({i.owner for i in group}))
        out += [f"{i} (cycle between {packages})" for i in group]
    return out


# -- the real tree ----------------------------------------------------------------------------


def test_the_layer_map_places_every_top_level_package_once() -> None:
    placed = list(itertools.chain.from_iterable(LAYERS))
    assert sorted(n for n in set(placed) if placed.count(n) > 1) == []
    on_disk = top_level_names(SRC)
    assert sorted(on_disk - set(placed)) == [], "packages in no layer of vigil.layers.LAYERS"
    assert sorted(set(placed) - on_disk) == [], "layers naming packages that do not exist"


def test_the_scan_sees_the_whole_tree() -> None:
    """Guards the rule test against passing because it read nothing: the scan finds imports in
    every package, function-level ones included."""
    imports = scan(SRC)
    assert len(imports) > 300
    packages = {p.name for p in SRC.iterdir() if (p / "__init__.py").is_file()}
    assert packages - {i.owner for i in imports} == set()
    # docsgen imports the CLI inside a function (so importing docsgen stays cheap)
    assert any(i.owner == "docsgen" and i.module == "vigil.cli.main" for i in imports)


def test_imports_go_down_the_layer_map_without_cycles() -> None:
    found = problems(scan(SRC), LAYERS)
    assert not found, "imports against vigil.layers.LAYERS:\n" + "\n".join(found)


# -- the checker itself, on small trees ---------------------------------------------------------


def _tree(root: Path, files: dict[str, str]) -> Path:
    src = root / "vigil"
    for name, body in {"__init__.py": "", **files}.items():
        path = src / name
        path.parent.mkdir(parents=True, exist_ok=True)
        for parent in path.relative_to(src).parents:
            (src / parent / "__init__.py").touch()
        path.write_text(body)
    return src


SMALL = (frozenset({"core"}), frozenset({"store", "stage"}), frozenset({"api"}))


def test_an_upward_import_is_named_with_its_file_and_line(tmp_path: Path) -> None:
    src = _tree(
        tmp_path,
        {
            "core/a.py": "import os\n\n\ndef f():\n    from vigil.api.app import x\n",
            "api/app.py": "import vigil.store.b\n",
            "store/b.py": "",
        },
    )
    found = problems(scan(src), SMALL)
    assert found == [
        f"{src / 'core/a.py'}:5 imports vigil.api.app (api is in a higher layer than core)"
    ]


@pytest.mark.parametrize(
    "body",
    [
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from vigil.api import app\n",
        "from ..api import app\n",
        "from vigil import api\n",
        "import vigil.api.app as app\n",
        "class C:\n    def m(self):\n        from ...api.app import x\n",
    ],
    ids=["type-checking", "relative", "from-root", "import-as", "method-level"],
)
def test_every_form_of_import_is_seen(tmp_path: Path, body: str) -> None:
    src = _tree(tmp_path, {"core/sub/m.py" if "..." in body else "core/m.py": body})
    (src / "api").mkdir(exist_ok=True)
    (src / "api" / "__init__.py").touch()
    found = scan(src)
    assert [i.target for i in found if i.owner == "core"] == ["api"], found


def test_root_names_map_to_the_root_package(tmp_path: Path) -> None:
    src = _tree(tmp_path, {"core/m.py": "from vigil import __version__\n"})
    assert [(i.owner, i.target) for i in scan(src)] == [("core", ROOT)]


def test_a_cycle_within_one_layer_is_reported_with_both_imports(tmp_path: Path) -> None:
    src = _tree(
        tmp_path,
        {"store/b.py": "from vigil.stage import c\n", "stage/c.py": "import vigil.store.b\n"},
    )
    found = problems(scan(src), SMALL)
    assert found == [
        f"{src / 'stage/c.py'}:1 imports vigil.store.b (cycle between stage, store)",
        f"{src / 'store/b.py'}:1 imports vigil.stage (cycle between stage, store)",
    ]


def test_a_clean_tree_has_no_problems(tmp_path: Path) -> None:
    src = _tree(
        tmp_path,
        {
            "core/a.py": "from . import b\n",
            "core/b.py": "",
            "store/b.py": "from vigil.core import a\n",
            "api/app.py": "from vigil.store import b\nfrom vigil.core.a import x\n",
        },
    )
    assert problems(scan(src), SMALL) == []


NODES = "abcde"


@given(st.sets(st.tuples(st.sampled_from(NODES), st.sampled_from(NODES))))
def test_cycles_are_exactly_the_packages_that_reach_themselves(
    edges: set[tuple[str, str]],
) -> None:
    """Against the transitive closure: a package is in a reported cycle iff a path of at least
    one import leads from it back to itself through other packages."""
    imports = [Import(Path(a), 1, a, b, f"vigil.{b}") for a, b in sorted(edges)]
    reach = {(a, b) for a, b in edges if a != b}
    while True:
        more = reach | {(a, d) for a, b in reach for c, d in reach if b == c}
        if more == reach:
            break
        reach = more
    looping = {a for a, b in reach if a == b}
    groups = cycles(imports)
    assert {i.owner for g in groups for i in g} == looping
    for g in groups:  # every reported import runs inside its group
        members = {i.owner for i in g}
        assert all(i.target in members for i in g)
