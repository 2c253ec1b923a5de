"""Where the real public case logs are: ``$SLAWATCH_TEST_DATA`` when set, else
``<repo>/../shared/data`` (CI clones ``shared/`` beside the repository). Each log's source page
is in docs/replay.md. A test whose log is absent fails, naming the missing file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("SLAWATCH_TEST_DATA") or REPO.parent / "shared" / "data")
DATASETS = REPO / "config" / "datasets"


def data_file(*parts: str) -> Path:
    """The data file at ``<DATA>/<parts>``; a missing file fails the test, saying what to do."""
    path = DATA.joinpath(*parts)
    if not path.exists():
        pytest.fail(
            f"real case log {path} is absent; download it (docs/replay.md names each source) "
            "and set SLAWATCH_TEST_DATA to its folder, or clone the shared/ data beside the "
            "repository"
        )
    return path
