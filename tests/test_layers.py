"""Layers as a test: every module imports only from its own layer or lower ones, as docs/architecture.md's
table orders them; every import statement counts, function-level ones included (parsed with `ast`)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("amf", "synthetic", "figures")


def layers(text: str) -> dict[str, int]:
    """docs/architecture.md's layer table: module pattern (``name`` or ``name.*``) -> layer."""
    section = text.split("## Layers\n", 1)[1].split("\n## ", 1)[0]
    table = {}
    for number, modules in re.findall(r"^\| (\d+) \| (.+) \|$", section, flags=re.M):
        for pattern in re.findall(r"`([\w.*]+)`", modules):
            table[pattern] = int(number)
    return table


def layer_of(module: str, table: dict[str, int]) -> int | None:
    """The layer of ``module``: its exact row, else the longest ``package.*`` row containing it."""
    if module in table:
        return table[module]
    matches = [p for p in table if p.endswith(".*") and (module == p[:-2] or module.startswith(p[:-1]))]
    return table[max(matches, key=len)] if matches else None


def modules() -> dict[str, str]:
    """Every module of the three packages: dotted name -> source."""
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            found[name] = path.read_text()
    return found


def imports(name: str, source: str, known: set[str]) -> set[str]:
    """The project modules ``name`` imports anywhere in its source (``from a import b`` counts as ``a.b`` when
    that is a module, else as ``a``)."""
    package = name if f"{name}.__init__" in known or any(m.startswith(name + ".") for m in known) else \
        name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] in PACKAGES}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            if base.split(".")[0] not in PACKAGES:
                continue
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return found - {name}


def violations(sources: dict[str, str], table: dict[str, int]) -> list[str]:
    """Each upward import, and each module without a layer, in words."""
    known = set(sources)
    out = []
    for name, source in sorted(sources.items()):
        mine = layer_of(name, table)
        if mine is None:
            out.append(f"{name} has no layer in docs/architecture.md")
            continue
        for target in sorted(imports(name, source, known)):
            theirs = layer_of(target, table)
            if theirs is not None and theirs > mine:
                out.append(f"{name} (layer {mine}) imports {target} (layer {theirs})")
    return out


TABLE = layers((ROOT / "docs" / "architecture.md").read_text())


def test_no_module_imports_from_a_higher_layer():
    assert violations(modules(), TABLE) == []


def test_the_table_is_read_and_covers_the_tree():
    assert TABLE["amf.errors"] == 0 and TABLE["amf.cli"] == max(TABLE.values())
    assert layer_of("amf.solvers.spectral", TABLE) < layer_of("amf.solve", TABLE) < layer_of("amf.report", TABLE)
    assert layer_of("amf", TABLE) == 9 and layer_of("amf.nonexistent", TABLE) is None


@pytest.mark.parametrize("name, source, expected", [
    ("amf.graph", "import amf.solve\n", "amf.graph (layer 4) imports amf.solve (layer 7)"),
    pytest.param("amf.graph", "def f():\n    from amf.solvers import spectral\n",  # the first case is the fast
                 "amf.graph (layer 4) imports amf.solvers.spectral (layer 6)",  # subset's; the others are slow
                 marks=pytest.mark.slow),  # function level, from-package form
    pytest.param("amf.solvers.gd", "from ..checks import Context\n",
                 "amf.solvers.gd (layer 6) imports amf.checks (layer 8)", marks=pytest.mark.slow),
    pytest.param("amf.brand_new", "import numpy\n", "amf.brand_new has no layer in docs/architecture.md",
                 marks=pytest.mark.slow),
])
def test_an_upward_import_is_caught(name, source, expected):
    sources = {**modules(), name: source}
    assert expected in violations(sources, TABLE)


def test_same_layer_and_downward_imports_are_accepted():
    sources = {**modules(), "amf.solvers.toy": "from amf.solvers import training\nfrom amf import _validate\n"
                                               "import synthetic\n"}
    assert violations(sources, TABLE) == []
