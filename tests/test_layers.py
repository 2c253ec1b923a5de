"""The import rule of docs/design.md "Packages": a package imports only the packages above it.

Read from the source with ``ast`` (every ``import`` and ``from … import``, also inside
functions), so a lazy import that breaks the layering is caught too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECT = ("sla", "sources", "generators", "alerts", "streams", "slawatch")

#: package -> the project packages its modules may import (itself included).
ALLOWED = {
    "sla": {"sla"},
    "sources": {"sla", "sources"},
    "generators": {"sla", "generators"},
    "alerts": {"sla", "alerts"},
    "streams": {"sla", "sources", "alerts", "streams"},
    "slawatch": set(PROJECT),
}


def imported_modules(path: Path) -> set[str]:
    """The full names of the modules ``path`` imports (absolute imports)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def imported_packages(path: Path) -> set[str]:
    """The top-level project packages ``path`` imports."""
    return {m.split(".")[0] for m in imported_modules(path)} & set(PROJECT)


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_the_layers_above(package: str) -> None:
    broken = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) - ALLOWED[package])
        for path in sorted((ROOT / package).rglob("*.py"))
    }
    assert {} == {k: v for k, v in broken.items() if v}


def test_the_core_does_not_import_its_read_models() -> None:
    core = [p for p in (ROOT / "sla").rglob("*.py") if "readmodels" not in p.parts]
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            m for m in imported_modules(path) if m.startswith("sla.readmodels")
        )
        for path in core
    }
    assert {} == {k: v for k, v in offenders.items() if v}
