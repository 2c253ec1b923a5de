"""The compiled build of the core is used only while it matches the sources (sla/_compiled.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from sla import _compiled
from sla._compiled import MANIFEST, MODULES, compiled_path, source_digests


def _manifest(build: Path, **changes: object) -> None:
    build.mkdir(parents=True, exist_ok=True)
    manifest = {"cache_tag": sys.implementation.cache_tag, "sources": source_digests()}
    manifest.update(changes)
    (build / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")


def test_a_build_of_these_sources_for_this_interpreter_is_fresh(tmp_path: Path) -> None:
    _manifest(tmp_path)
    assert _compiled._fresh(tmp_path)


def test_an_edited_source_makes_the_build_stale(tmp_path: Path) -> None:
    edited = dict(source_digests(), **{MODULES[0]: "0" * 64})
    _manifest(tmp_path, sources=edited)
    assert not _compiled._fresh(tmp_path)


def test_a_build_for_another_interpreter_is_stale(tmp_path: Path) -> None:
    _manifest(tmp_path, cache_tag="cpython-299")
    assert not _compiled._fresh(tmp_path)


@pytest.mark.parametrize("content", [None, "not json", "[]"])
def test_no_readable_manifest_means_no_build(tmp_path: Path, content: str | None) -> None:
    if content is not None:
        (tmp_path / MANIFEST).write_text(content, encoding="utf-8")
    assert not _compiled._fresh(tmp_path)


def test_a_fresh_manifest_without_the_library_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _manifest(tmp_path)
    monkeypatch.setenv("SLAWATCH_NATIVE_DIR", str(tmp_path))
    monkeypatch.delenv("SLAWATCH_PURE_PYTHON", raising=False)
    assert compiled_path() == []


def test_pure_python_is_chosen_by_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_compiled, "_fresh", lambda build: True)
    monkeypatch.setattr(_compiled, "_load_group", lambda build: True)
    monkeypatch.setenv("SLAWATCH_NATIVE_DIR", str(tmp_path))
    monkeypatch.delenv("SLAWATCH_PURE_PYTHON", raising=False)
    assert compiled_path("readmodels") == [str(tmp_path / "sla" / "readmodels")]
    monkeypatch.setenv("SLAWATCH_PURE_PYTHON", "1")
    assert compiled_path() == []


def test_every_compiled_module_is_a_source_of_the_core() -> None:
    root = Path(_compiled.__file__).resolve().parents[1]
    assert all((root / m).is_file() and m.startswith("sla/") for m in MODULES)
