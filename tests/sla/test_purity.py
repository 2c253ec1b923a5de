"""``sla/`` is the pure domain: no module in it may import I/O or framework libraries."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import sla

FORBIDDEN = frozenset({"faust", "kafka", "aiokafka", "redis", "prometheus_client", "aiohttp"})
SLA_DIR = Path(sla.__file__).parent
MODULES = sorted(SLA_DIR.rglob("*.py"))


def imported_roots(source: str) -> set[str]:
    """The top-level package of every import in ``source``, at any depth (functions too)."""
    roots: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


class TestImportedRoots:
    def test_finds_plain_from_and_nested_imports(self) -> None:
        """Imports inside functions and dotted names count by their top-level package."""
        source = "import os.path\nfrom kafka.errors import X\ndef f():\n    import redis\n"
        assert {"os", "kafka", "redis"} == imported_roots(source)

    def test_relative_imports_are_ours(self) -> None:
        """``from . import x`` stays inside the package."""
        assert set() == imported_roots("from . import clock\nfrom .engine import Engine\n")


class TestSlaIsPure:
    def test_the_package_has_modules(self) -> None:
        """The walk sees the engine, so an empty glob cannot pass silently."""
        assert {"engine.py", "clock.py", "effects.py"} <= {p.name for p in MODULES}

    @pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SLA_DIR)))
    def test_module_imports_no_io_library(self, path: Path) -> None:
        """No faust, kafka, aiokafka, redis, prometheus_client or aiohttp import in ``sla/``."""
        assert set() == imported_roots(path.read_text(encoding="utf-8")) & FORBIDDEN
