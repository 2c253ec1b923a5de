"""Prometheus metrics of the worker; names and labels are the contract in docs/design.md.

Labels never carry a case, customer or person id. A missing team or region is ``"none"``.
:class:`Metrics` takes a registry so tests can use a fresh ``CollectorRegistry``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Generic, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase

__all__ = ["NONE", "TIME_TO_STOP_BUCKETS", "Children", "Metrics", "Tally", "label"]

#: The label value for an attribute the case does not have.
NONE = "none"

#: From one minute to thirty days: SLA limits range from minutes (pickup) to weeks (claims).
TIME_TO_STOP_BUCKETS = (
    60.0,
    300.0,
    900.0,
    1800.0,
    3600.0,
    2 * 3600.0,
    4 * 3600.0,
    8 * 3600.0,
    12 * 3600.0,
    24 * 3600.0,
    2 * 86400.0,
    3 * 86400.0,
    5 * 86400.0,
    7 * 86400.0,
    15 * 86400.0,
    30 * 86400.0,
)


#: The labels of a clock's results: which clock, and the case's team and region.
CASE_LABELS = ("clock", "team", "region")


def label(value: object) -> str:
    """A label value: the string, or ``"none"`` for a missing value."""
    if value is None or value == "":
        return NONE
    return str(value)


#: Label-value combinations :class:`Children` remembers per metric before it starts over.
CHILDREN_CACHED = 4096


M = TypeVar("M", bound=MetricWrapperBase)


class Children(Generic[M]):
    """The label children of one metric, cached: ``labels()`` checks and locks on every call.

    Example:
        >>> from prometheus_client import CollectorRegistry, Counter
        >>> hits = Children(Counter("hits", "Hits.", ["clock"], registry=CollectorRegistry()))
        >>> hits("c1") is hits("c1")
        True
    """

    def __init__(self, metric: M) -> None:
        self._metric = metric
        self._children: dict[tuple[str, ...], M] = {}

    def __call__(self, *values: str) -> M:
        child = self._children.get(values)
        if child is None:
            if len(self._children) >= CHILDREN_CACHED:
                self._children.clear()  # values from events: never let them grow it unbounded
            child = self._children[values] = self._metric.labels(*values)
        return child


class Tally:
    """Counter increments and gauge values of one batch, applied when it ends (:meth:`flush`).

    prometheus_client takes a lock and checks the metric on every ``inc`` and ``set``; the
    clock agent makes several per event (consumed, clocks started, outcomes and results, the
    source's last timestamp): 3 % of its CPU (py-spy of ``bench/processor.py``, 2026-12-07).
    Summed here in plain dicts, each counter child is incremented once per batch and each
    gauge set to its last value. A scrape sees a batch's counts once the batch has ended.

    Example:
        >>> from prometheus_client import CollectorRegistry, Counter
        >>> hits = Counter("hits", "Hits.", registry=CollectorRegistry())
        >>> tally = Tally()
        >>> tally.inc(hits); tally.inc(hits); hits._value.get()
        0.0
        >>> tally.flush(); hits._value.get()
        2.0
    """

    __slots__ = ("_counts", "_latest")

    def __init__(self) -> None:
        self._counts: dict[Counter, float] = {}
        self._latest: dict[Gauge, float] = {}

    def inc(self, counter: Counter, amount: float = 1.0) -> None:
        """Add ``amount`` to ``counter`` (a child, labels given) when the batch ends."""
        counts = self._counts
        counts[counter] = counts.get(counter, 0.0) + amount

    def set(self, gauge: Gauge, value: float) -> None:
        """Set ``gauge`` (a child) to ``value`` when the batch ends, unless set again before."""
        self._latest[gauge] = value

    def flush(self) -> None:
        """Apply what the batch counted; start counting anew."""
        counts, latest = self._counts, self._latest
        if counts:
            self._counts = {}
            for counter, amount in counts.items():
                counter.inc(amount)
        if latest:
            self._latest = {}
            for gauge, value in latest.items():
                gauge.set(value)


class Metrics:
    """Every metric the worker exports, registered in one registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry

        def counter(name: str, doc: str, *labels: str) -> Counter:
            return Counter(name, doc, labels, registry=r)

        def gauge(name: str, doc: str, *labels: str) -> Gauge:
            return Gauge(name, doc, labels, registry=r)

        self.events_consumed = counter(
            "slawatch_events_consumed",
            "Source events mapped to canonical events.",
            "topic",
            "event_type",
        )
        self.events_ignored = counter(
            "slawatch_events_ignored",
            "Events that changed nothing (duplicate, late, no clock, skipped by mapping).",
            "reason",
        )
        self.events_rekeyed = counter(
            "slawatch_events_rekeyed",
            "Events of a keyed_by_case source found in another case's partition, re-keyed.",
            "topic",
        )
        self.cases_revived = counter(
            "slawatch_cases_revived",
            "Cases retention forgot that got events again (their cycles are numbered on).",
        )
        self.deadletters = counter(
            "slawatch_deadletters",
            "Source messages sent to the dead-letter topic.",
            "topic",
            "reason",
        )
        self.clocks_started = counter(
            "slawatch_clocks_started", "Clock cycles started.", *CASE_LABELS
        )
        self.clocks_open = gauge(
            "slawatch_clocks_open",
            "Clock cycles running now, in this worker's active partitions.",
            "clock",
        )
        self.clocks_near_breach = gauge(
            "slawatch_clocks_near_breach",
            "Running clocks past their last warning threshold.",
            "clock",
        )
        self.warnings = counter("slawatch_warnings", "Warnings emitted.", *CASE_LABELS, "threshold")
        self.clock_results = counter(
            "slawatch_clock_results",
            "The SLI: met (stop before deadline), breached (deadline passed open), retracted.",
            *CASE_LABELS,
            "standard",
            "result",
        )
        self.breaches = counter("slawatch_breaches", "Breaches emitted.", *CASE_LABELS, "standard")
        self.outcomes = counter(
            "slawatch_outcomes",
            "Clock cycles ended, by outcome.",
            *CASE_LABELS,
            "outcome",
        )
        self.time_to_stop = Histogram(
            "slawatch_time_to_stop_seconds",
            "Counted time from start to stop of a clock cycle.",
            ["clock"],
            buckets=TIME_TO_STOP_BUCKETS,
            registry=r,
        )
        self.timer_index_size = gauge(
            "slawatch_timer_index_size", "Cases with a pending deadline in this worker's index."
        )
        self.consumer_lag = gauge(
            "slawatch_consumer_lag",
            "Messages behind the (Fetch) high watermark, per assigned partition.",
            "topic",
            "partition",
        )
        self.last_event_timestamp = gauge(
            "slawatch_last_event_timestamp_seconds",
            "Unix time of the last message read from a source topic.",
            "topic",
        )
        self.partition_rereads = counter(
            "slawatch_partition_rereads",
            "Partitions sought back to their committed offset: a message there was passed over.",
            "topic",
        )
        self.broker_checks = counter(
            "slawatch_broker_checks",
            "Broker watchdog checks: ok (topics and offsets as expected) or skipped (no answer).",
            "result",
        )
        self.build_info = gauge(
            "slawatch_build_info",
            "Always 1; the labels say which version and policy version run.",
            "version",
            "policy_version",
        )

    def prime(self, clocks: Iterable[str]) -> None:
        """Create the per-clock series at zero, so the first result of a clock is not lost.

        Prometheus' ``increase()`` cannot count a series' first sample; a histogram or gauge
        that exists from the first scrape makes every later observation count.
        """
        for clock in clocks:
            self.time_to_stop.labels(clock)
            self.clocks_open.labels(clock)
            self.clocks_near_breach.labels(clock)
