"""What the agents, timers and web views of one worker share, built once by ``create_app``.

:class:`Runtime` is a frozen value: :func:`streams.app.create_app` builds it before any agent is
registered and hands it to each ``register(rt)``; no part adds to it afterwards. Agent modules
import this module, never :mod:`streams.app`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol

import faust
from faust.types import TableT

from sla.calendar import Calendar
from sla.engine import DEFAULT_RETENTION, Engine
from sla.events import LifecycleEvent
from sla.policy import PolicySpec
from streams.deadlines import DeadlineIndex
from streams.errors import ErrorPolicy
from streams.metrics import Metrics
from streams.settings import Settings
from streams.wire import WorkerTopics

if TYPE_CHECKING:
    from alerts.runtime import AlertRuntime

__all__ = [
    "CASES_TABLE",
    "SHADOW_DUE_TOPIC",
    "SHADOW_OUTCOMES_TOPIC",
    "CasesTable",
    "Recovery",
    "Runtime",
    "SourceMapping",
    "active_partitions",
    "build_engine",
    "cases_table",
    "ready",
    "settled",
]

#: Name of the table of case states (its changelog is ``<app id>-cases-changelog``).
CASES_TABLE = "cases"
#: The shadow policy's timer commands (co-partitioned with ``slawatch.events``).
SHADOW_DUE_TOPIC = "slawatch.shadow.due"
#: The shadow policy's outcome records.
SHADOW_OUTCOMES_TOPIC = "sla.shadow.outcomes"

#: A Faust table of case rows (``streams/case_row.py``): case id -> JSON bytes.
CasesTable = TableT[str, bytes]


class SourceMapping(Protocol):
    """A source topic's mapping to canonical events (:class:`sources.mapping.TopicMapping`)."""

    def decode(self, key: bytes | None, value: bytes) -> LifecycleEvent: ...


@dataclass(frozen=True)
class RecoverySummary:
    """What the last rebuild of the deadline index found (shown by ``/ready``)."""

    actives: list[int]
    cases: int
    index: int
    zombies_dropped: int
    policy_reviews: int


@dataclass
class Recovery:
    """The last recovery of the ``cases`` table; None until the first one ends."""

    last: RecoverySummary | None = None


def build_engine(
    policy: PolicySpec, *, reevaluate: bool = False, retention: timedelta | None = None
) -> Engine:
    """The worker's clock engine for ``policy`` (:meth:`Engine.for_policy`, as replay's).

    Args:
        policy: the policy new cycles are judged by.
        reevaluate: also re-judge running cycles started under another policy version
            (``SLAWATCH_REEVALUATE``, ``slawatch worker --reevaluate``; docs/design.md).
        retention: how long a case with no open clock is kept (``SLAWATCH_RETENTION``);
            the engine's default (7 days) when None.
    """
    return Engine.for_policy(
        policy, reevaluate=reevaluate, retention=retention or DEFAULT_RETENTION
    )


def cases_table(app: faust.App, name: str, partitions: int, help: str) -> CasesTable:
    """A table of case rows: case id -> JSON bytes of a :class:`~streams.case_row.CaseRow`.

    The partition count is the events topic's, so table partition p holds the cases of
    events partition p.
    """
    table: CasesTable = app.Table(
        name,
        default=None,
        partitions=partitions,
        key_type=str,
        value_type=bytes,
        help=help,
    )
    return table


def settled(app: faust.App) -> bool:
    """True when no rebalance is running and this worker's active partitions are assigned.

    What the broker watchdog waits for: it must look at the broker even while a recovery is
    stuck (a broker that came back empty leaves the recovery waiting for topics it no longer
    has, and only the watchdog's check ends that).
    """
    return bool(app.tables.actives_ready and not app.rebalancing)


def ready(app: faust.App) -> bool:
    """True when the worker is :func:`settled` and its tables are recovered.

    ``/ready`` answers by it, and the due timers do nothing while it is false. Faust's timers
    keep running through a rebalance and a recovery, so each checks it
    (``recovery.completed`` alone is set once per recovery, hence :func:`settled` too).
    """
    recovered = app.tables.recovery.completed.is_set()  # type: ignore[attr-defined]  # not on TableManagerT
    return settled(app) and bool(recovered)


def active_partitions(app: faust.App, table: TableT[str, bytes]) -> set[int]:
    """The partitions of ``table`` this worker owns as active (not standby)."""
    changelog = table.changelog_topic.get_topic_name()
    return {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == changelog}


@dataclass(frozen=True)
class Runtime:
    """Everything the agents, the timers and the web views of one worker share.

    Attributes:
        settings: the validated settings.
        app: the Faust app every part registers on.
        policy: the live policy; ``engine`` judges by it and ``calendars`` are its calendars.
        mappings: source topic -> mapping; ``keyed_sources`` are read by the clock agent.
        metrics: the worker's metrics (one registry).
        topics: the worker's own topics with their codecs.
        cases: the table of case rows; ``index`` is derived from it.
        recovery: what the last recovery of ``cases`` found.
        alerts: the alert runtime, None when alerts are off.
        errors: the error policy.
    """

    settings: Settings
    app: faust.App
    policy: PolicySpec
    engine: Engine
    calendars: Mapping[str, Calendar]
    mappings: Mapping[str, SourceMapping]
    keyed_sources: frozenset[str]
    metrics: Metrics
    topics: WorkerTopics
    cases: CasesTable
    alerts: AlertRuntime | None = None
    index: DeadlineIndex = field(default_factory=DeadlineIndex)
    recovery: Recovery = field(default_factory=Recovery)
    errors: ErrorPolicy = field(default_factory=ErrorPolicy)

    def topic_sizes(self) -> dict[str, int]:
        """Topics to create before the worker starts: name -> partitions."""
        n = self.settings.partitions
        sizes = self.topics.sizes(n)
        if self.settings.shadow_policies is not None:
            sizes.update({SHADOW_DUE_TOPIC: n, SHADOW_OUTCOMES_TOPIC: n})
        sizes.update(dict.fromkeys(self.keyed_sources, n))
        return sizes

    def active_partitions(self) -> set[int]:
        """The partitions of ``cases`` this worker owns as active."""
        return active_partitions(self.app, self.cases)
