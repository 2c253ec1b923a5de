"""Where the real public case logs are: ``<repo>/../shared/data`` (CI clones ``shared/`` beside
the repository). Tests that need a log skip, naming the missing file, when it is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data"
DATASETS = REPO / "config" / "datasets"


def data_file(*parts: str) -> Path:
    """The data file at ``../shared/data/<parts>``, or skip the test saying what is missing."""
    path = DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real case log {path} is absent; clone the shared/ data beside the repository")
    return path
