"""Garbage-collector settings: tuned by default, CPython's own on request, typos refused."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from slawatch.collector import GC_ENV, GcModeError, collections_paused, tune_gc


@pytest.fixture(autouse=True)
def _restore() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.set_threshold(*thresholds)
    gc.unfreeze()


class TestTuneGc:
    def test_tuned_by_default(self) -> None:
        """Without the setting the young generation is large and start-up objects frozen."""
        mode = tune_gc({})
        assert ("tuned", 50_000) == (mode, gc.get_threshold()[0])
        assert gc.get_freeze_count() > 0

    def test_default_leaves_cpython_alone(self) -> None:
        """SLAWATCH_GC=default keeps the interpreter's thresholds (for A/B benchmarks)."""
        before = gc.get_threshold()
        assert ("default", before) == (tune_gc({GC_ENV: "default"}), gc.get_threshold())

    def test_unknown_mode_is_refused_by_name(self) -> None:
        """A typo names the variable and the value."""
        with pytest.raises(GcModeError, match="SLAWATCH_GC='tunde'"):
            tune_gc({GC_ENV: "tunde"})


class TestCollectionsPaused:
    def test_off_inside_and_back_on_after(self) -> None:
        assert gc.isenabled()
        with collections_paused():
            assert not gc.isenabled()
        assert gc.isenabled()

    def test_back_on_after_an_error(self) -> None:
        with pytest.raises(RuntimeError), collections_paused():
            raise RuntimeError("boom")
        assert gc.isenabled()

    def test_a_collector_turned_off_stays_off(self) -> None:
        gc.disable()
        try:
            with collections_paused():
                pass
            assert not gc.isenabled()
        finally:
            gc.enable()
