"""Open and near-breach gauges: set only for clocks that change, with the same values as before."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from streams.clocks import OpenClockGauges
from streams.metrics import Metrics


def _values(registry: CollectorRegistry, name: str) -> dict[str, float]:
    return {
        s.labels["clock"]: s.value
        for family in registry.collect()
        for s in family.samples
        if s.name == name
    }


class TestOpenClockGauges:
    def test_counts_follow_cases_opening_and_closing(self) -> None:
        """Each clock's gauge is the number of cases with it open, down to zero."""
        metrics = Metrics(CollectorRegistry())
        gauges = OpenClockGauges(metrics)
        gauges.update("a", 0, ["first", "second"], [])
        gauges.update("b", 1, ["first"], ["first"])
        gauges.update("a", 0, ["second"], [])
        gauges.update("b", 1, [], [])
        assert ({"first": 0.0, "second": 1.0}, {"first": 0.0, "second": 0.0}) == (
            _values(metrics.registry, "slawatch_clocks_open"),
            _values(metrics.registry, "slawatch_clocks_near_breach"),
        )

    def test_dropping_a_partition_forgets_its_cases(self) -> None:
        """A revoked partition's cases no longer count; an unchanged update changes nothing."""
        metrics = Metrics(CollectorRegistry())
        gauges = OpenClockGauges(metrics)
        gauges.update("a", 0, ["first"], [])
        gauges.update("b", 1, ["first"], [])
        gauges.update("b", 1, ["first"], [])
        gauges.drop_partitions([1])
        assert {"first": 1.0} == _values(metrics.registry, "slawatch_clocks_open")
