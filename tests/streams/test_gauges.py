"""Open and near-breach gauges: counted per write as a change, read at scrape time."""

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
        gauges.change(0, [], [], ["first", "second"], [])  # case a opens two clocks
        gauges.change(1, [], [], ["first"], ["first"])  # case b, near breach
        gauges.change(0, ["first", "second"], [], ["second"], [])  # a: first stops
        gauges.change(1, ["first"], ["first"], [], [])  # b: stops
        assert ({"first": 0.0, "second": 1.0}, {"first": 0.0, "second": 0.0}) == (
            _values(metrics.registry, "slawatch_clocks_open"),
            _values(metrics.registry, "slawatch_clocks_near_breach"),
        )

    def test_dropping_a_partition_forgets_its_cases(self) -> None:
        """A revoked partition's cases no longer count; an unchanged write changes nothing."""
        metrics = Metrics(CollectorRegistry())
        gauges = OpenClockGauges(metrics)
        gauges.change(0, [], [], ["first"], [])
        gauges.change(1, [], [], ["first"], [])
        gauges.change(1, ["first"], [], ["first"], [])
        gauges.drop_partitions([1])
        assert {"first": 1.0} == _values(metrics.registry, "slawatch_clocks_open")

    def test_reset_counts_from_scratch(self) -> None:
        """After a recovery the counts are those of the recovered rows alone."""
        metrics = Metrics(CollectorRegistry())
        gauges = OpenClockGauges(metrics)
        gauges.change(0, [], [], ["first"], [])
        gauges.reset([(2, ["second"], ["second"]), (3, ["second"], [])])
        assert ((0, 0), (2, 1)) == (gauges.count("first"), gauges.count("second"))
