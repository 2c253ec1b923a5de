"""Worker health metrics: process, platform and GC collectors, Faust's rebalances and commits."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from slawatch.testing import Stack, canonical, one_clock_policy, wait_for
from streams.broker import TansuBroker
from streams.health import FaustHealth, add_runtime_collectors

POLICY = one_clock_policy("health-1")


class TestSensor:
    def test_rebalance_commit_and_send_error_are_counted(self) -> None:
        """Each Faust hook lands in its metric; a send error names its topic."""
        registry = CollectorRegistry()
        sensor = FaustHealth(registry)
        sensor.on_rebalance_end(None, sensor.on_rebalance_start(None))
        sensor.on_commit_completed(None, sensor.on_commit_initiated(None))
        state = sensor.on_send_initiated(None, "sla.breaches", None, 3, 40)
        sensor.on_send_error(None, TimeoutError(), state)
        value = registry.get_sample_value
        assert (1.0, 1.0, 1.0, 1.0) == (
            value("slawatch_faust_rebalances_total"),
            value("slawatch_faust_rebalance_seconds_count"),
            value("slawatch_faust_commit_seconds_count"),
            value("slawatch_faust_send_errors_total", {"topic": "sla.breaches"}),
        )

    def test_runtime_collectors_on_a_fresh_registry(self) -> None:
        """Process, platform and GC metrics are on the worker's own registry."""
        registry = CollectorRegistry()
        add_runtime_collectors(registry)
        names = {s.name for family in registry.collect() for s in family.samples}
        assert {"process_cpu_seconds_total", "python_info", "python_gc_collections_total"} <= names


@pytest.fixture
def stack(tansu: TansuBroker, tmp_path: Path) -> Iterator[Stack]:
    s = Stack(tansu.bootstrap, tmp_path, POLICY, partitions=1)
    try:
        yield s
    finally:
        s.close()


@pytest.mark.integration
def test_worker_exports_its_health(stack: Stack) -> None:
    """A running worker's /metrics has the process metrics, its rebalance and its commits."""
    worker = stack.start_worker()
    stack.send(canonical("e-1", "C-1", "complaint_registered", datetime.now(UTC)))
    wait_for(
        lambda: worker.metric("slawatch_faust_commit_seconds_count") > 0,
        timeout=60,
        what="an offset commit observed",
    )
    errors = ("slawatch_faust_send_errors_total", (("topic", stack.topics["breaches"]),))
    assert (True, True, True, 0.0) == (
        worker.metric("process_resident_memory_bytes") > 0,
        worker.metric("python_info") == 1.0,
        worker.metric("slawatch_faust_rebalances_total") >= 1,
        worker.metrics().get(errors),  # there from the start, at zero
    )
