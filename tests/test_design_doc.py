"""docs/design.md's file table names exactly the modules of the packages, so it stays true."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[1]
PACKAGES = ("sla", "sources", "streams", "alerts", "generators", "slawatch")
ROW = re.compile(r"^\| `([\w/]+\.py)` \| \S.*\|$")


def _listed() -> list[str]:
    """The module paths of the rows of the "Files" section, in order."""
    text = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")
    section = text.split("\n## Files\n", 1)[1].split("\n## ", 1)[0]
    return [m.group(1) for line in section.splitlines() if (m := ROW.match(line))]


def _modules() -> set[str]:
    return {
        path.relative_to(ROOT).as_posix()
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "__pycache__" not in path.parts
    }


class TestFileTable:
    def test_lists_every_module_of_the_tree(self) -> None:
        """A module added to a package has its line in the table (what it holds)."""
        assert set() == _modules() - set(_listed())

    def test_lists_no_module_that_is_gone(self) -> None:
        """A module moved or deleted leaves the table too."""
        assert set() == set(_listed()) - _modules()

    def test_each_module_once(self) -> None:
        """No module is described twice."""
        listed = _listed()
        assert sorted({p for p in listed if listed.count(p) > 1}) == []
