"""Which label values the worker's metrics may carry: only what the policy knows.

Event types, teams and regions arrive in events, and any producer can send thousands of them:
2,000 distinct values grew ``/metrics`` from 12 KB to 3.4 MB. A label value the policy does not
name (its clocks' event types, its teams, its ``regions`` and the values its filters match) is
reported as ``other``; a missing one stays ``none``. The set of series is then bounded by the
policy, whatever the events hold.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sla.policy import AttributeFilter, PolicySpec
from streams.metrics import NONE

__all__ = ["OTHER", "BoundedLabels", "LabelValues", "bound_metrics"]

#: The label value for a value the policy does not know.
OTHER = "other"
#: Label names whose values come from events, and so must be bounded.
BOUNDED = ("event_type", "team", "region")


@dataclass(frozen=True)
class LabelValues:
    """The values each event-fed label may take; anything else is :data:`OTHER`."""

    known: Mapping[str, frozenset[str]]

    @classmethod
    def of(cls, policy: PolicySpec) -> LabelValues:
        """What ``policy`` names: event types of its clocks, teams, regions and filter values."""
        filters = _filters(policy)
        teams = {*policy.teams, *(c.team for c in policy.clocks if c.team)}
        return cls(
            {
                "event_type": frozenset(t for c in policy.clocks for t in c.event_types()),
                "team": frozenset(teams | _values(filters, "team")),
                "region": frozenset({*policy.regions} | _values(filters, "region")),
            }
        )

    def value(self, name: str, value: object) -> str:
        """The label value for ``value`` of label ``name``."""
        if value is None or value == "":
            return NONE
        text = str(value)
        known = self.known.get(name)
        if known is None or text == NONE or text in known:
            return text
        return OTHER


def _filters(policy: PolicySpec) -> list[AttributeFilter]:
    out: list[AttributeFilter] = []
    for clock in policy.clocks:
        out.append(clock.when)
        out.extend(o.when for o in clock.overrides)
        groups = (clock.start, clock.stop, clock.pause, clock.resume, clock.cancel, clock.reset)
        out.extend(c.when for group in groups for c in group)
    return out


def _values(filters: Iterable[AttributeFilter], name: str) -> set[str]:
    return {v for f in filters for v in f.get(name, [])}


class BoundedLabels:
    """A labelled Prometheus metric whose event-fed label values pass :class:`LabelValues`.

    Stands in for the metric: ``labels(...)`` maps the bounded labels (positional or by name)
    and every other attribute is the metric's own.
    """

    def __init__(self, metric: Any, values: LabelValues) -> None:
        self._metric = metric
        self._values = values
        self._names: tuple[str, ...] = tuple(metric._labelnames)

    def labels(self, *args: object, **kwargs: object) -> Any:
        """The child for these label values, event-fed ones bounded."""
        if args:
            args = tuple(
                self._values.value(n, v) if n in BOUNDED else v
                for n, v in zip(self._names, args, strict=False)
            )
        kwargs = {k: (self._values.value(k, v) if k in BOUNDED else v) for k, v in kwargs.items()}
        return self._metric.labels(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._metric, name)


def bound_metrics(holder: object, values: LabelValues) -> None:
    """Wrap every metric attribute of ``holder`` that has an event-fed label."""
    for name, metric in list(vars(holder).items()):
        if set(BOUNDED) & set(getattr(metric, "_labelnames", ())):
            setattr(holder, name, BoundedLabels(metric, values))
