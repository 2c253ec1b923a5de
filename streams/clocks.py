"""The clock agent: one channel of events, timer commands and keyed sources; one table of cases.

``slawatch.events``, ``slawatch.due`` and every source declared ``keyed_by_case`` are
co-partitioned (same partition count, keyed by the raw ``case_id`` bytes), and one agent reads
them as one channel, so every event and every timer command of a case is handled in order by
the worker that owns the case. The agent takes the channel in batches and hands each to the
:class:`~streams.processor.CaseProcessor` (decode → engine → effects → store → deadline index).
This module adds what is Faust-specific around it: the table, the recovery hook that rebuilds
the deadline index, the revocation hook, the due timer and the lag gauge; and what the effects
become here (:class:`EffectSink`: records, counters, one log line per breach).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import structlog
from pydantic import BaseModel

from sla.effects import (
    Breached,
    BreachRetracted,
    ClockEnded,
    ClockStarted,
    Effect,
    EventIgnored,
    WarningDue,
)
from sla.events import LifecycleEvent
from sla.records import BreachRecord, OutcomeRecord, WarningRecord
from streams.case_row import CaseRow, decode_row
from streams.codec import encode_model, key_bytes
from streams.deadlines import DeadlineIndex, DueEntry, due_sender, run_due_timer
from streams.ingest import SourceIntake, partition_of
from streams.metrics import Children, Metrics, label
from streams.processor import CaseProcessor, SendFailed

if TYPE_CHECKING:
    from streams.app import Runtime

__all__ = ["EffectSink", "OpenClockGauges", "register"]

log = structlog.get_logger("slawatch.clocks")

#: How often the consumer-lag gauge is refreshed, in seconds.
LAG_INTERVAL_S = 5.0


class OpenClockGauges:
    """Counts of open and near-breach clocks in active partitions, read when Prometheus scrapes.

    The processor reports each case write as a change from the stored row's ``open``/``near``
    lists to the new ones, so counting costs a few dict updates per write and no memory per
    case; counts are kept per partition so a revoked partition's cases drop out at once. The
    gauges themselves are computed at scrape time (``set_function``).
    """

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self._open: dict[int, dict[str, int]] = {}
        self._near: dict[int, dict[str, int]] = {}
        self._published: set[str] = set()

    def change(
        self,
        partition: int,
        old_open: Iterable[str],
        old_near: Iterable[str],
        open_: Iterable[str],
        near: Iterable[str],
    ) -> None:
        """One case of ``partition`` went from ``old_open``/``old_near`` to ``open_``/``near``."""
        self._move(self._open.setdefault(partition, {}), old_open, open_)
        self._move(self._near.setdefault(partition, {}), old_near, near)

    def reset(self, rows: Iterable[tuple[int, Iterable[str], Iterable[str]]]) -> None:
        """Count from scratch: ``(partition, open, near)`` of every active case (recovery)."""
        self._open.clear()
        self._near.clear()
        for partition, open_, near in rows:
            self.change(partition, (), (), open_, near)

    def drop_partitions(self, partitions: Iterable[int]) -> None:
        """Forget the cases of revoked partitions."""
        for partition in partitions:
            self._open.pop(partition, None)
            self._near.pop(partition, None)

    def count(self, clock: str) -> tuple[int, int]:
        """Open and near-breach cycles of ``clock`` over the active partitions."""
        return (
            sum(counts.get(clock, 0) for counts in self._open.values()),
            sum(counts.get(clock, 0) for counts in self._near.values()),
        )

    def _move(self, counts: dict[str, int], old: Iterable[str], new: Iterable[str]) -> None:
        if old == new:
            return
        for clock in old:
            counts[clock] = counts.get(clock, 0) - 1
        for clock in new:
            counts[clock] = counts.get(clock, 0) + 1
            if clock not in self._published:
                self._publish(clock)

    def _publish(self, clock: str) -> None:
        """Create the clock's gauges, read from the counts at every scrape."""
        self._published.add(clock)
        self._metrics.clocks_open.labels(clock).set_function(lambda: self.count(clock)[0])
        self._metrics.clocks_near_breach.labels(clock).set_function(lambda: self.count(clock)[1])


class EffectSink:
    """Carries out the engine's effects: topic sends, counters, one log line per breach."""

    def __init__(self, topics: dict[str, Any], metrics: Metrics) -> None:
        self._topics = topics
        self._ignored = Children(metrics.events_ignored)
        self._started = Children(metrics.clocks_started)
        self._warnings = Children(metrics.warnings)
        self._breaches = Children(metrics.breaches)
        self._results = Children(metrics.clock_results)
        self._outcomes = Children(metrics.outcomes)
        self._time_to_stop = Children(metrics.time_to_stop)

    async def emit(self, effects: Iterable[Effect], ctx: dict[str, Any]) -> None:
        """Carry out ``effects`` in order; ``ctx`` (topic, partition, offset) goes in logs."""
        for effect in effects:
            if isinstance(effect, EventIgnored):
                self._ignored(effect.reason).inc()
            elif isinstance(effect, ClockStarted):
                ref = effect.ref
                self._started(ref.clock, label(ref.team), label(ref.region)).inc()
            elif isinstance(effect, WarningDue):
                await self._warning(effect.record)
            elif isinstance(effect, Breached):
                await self._breach(effect.record, ctx)
            elif isinstance(effect, BreachRetracted):
                await self._retraction(effect.record, ctx)
            elif isinstance(effect, ClockEnded):
                await self._outcome(effect.record)

    async def _send(self, role: str, case_id: str, record: BaseModel) -> None:
        await self._topics[role].send(key=key_bytes(case_id), value=encode_model(record))

    async def _warning(self, rec: WarningRecord) -> None:
        await self._send("warnings", rec.case_id, rec)
        self._warnings(rec.clock, label(rec.team), label(rec.region), f"{rec.threshold:g}").inc()

    async def _breach(self, rec: BreachRecord, ctx: dict[str, Any]) -> None:
        await self._send("breaches", rec.case_id, rec)
        team, region = label(rec.team), label(rec.region)
        self._breaches(rec.clock, team, region, rec.standard).inc()
        self._results(rec.clock, team, region, rec.standard, "breached").inc()
        log.warning(
            "sla_breach",
            breach_id=rec.breach_id,
            case_id=rec.case_id,
            clock=rec.clock,
            cycle=rec.cycle,
            standard=rec.standard,
            team=rec.team,
            region=rec.region,
            policy_version=rec.policy_version,
            started_at=rec.started_at.isoformat(),
            deadline=rec.deadline.isoformat(),
            emitted_at=rec.emitted_at.isoformat(),
            lateness_seconds=round((rec.emitted_at - rec.deadline).total_seconds(), 3),
            **ctx,
        )

    async def _retraction(self, rec: BreachRecord, ctx: dict[str, Any]) -> None:
        await self._send("breaches", rec.case_id, rec)
        self._results(
            rec.clock, label(rec.team), label(rec.region), rec.standard, "retracted"
        ).inc()
        log.info(
            "sla_breach_retracted",
            breach_id=rec.breach_id,
            case_id=rec.case_id,
            clock=rec.clock,
            cycle=rec.cycle,
            **ctx,
        )

    async def _outcome(self, rec: OutcomeRecord) -> None:
        await self._send("outcomes", rec.case_id, rec)
        team, region = label(rec.team), label(rec.region)
        self._outcomes(rec.clock, team, region, rec.outcome).inc()
        if rec.outcome == "met":
            self._results(rec.clock, team, region, rec.standard, "met").inc()
        if rec.outcome in ("met", "breached"):
            self._time_to_stop(rec.clock).observe(rec.elapsed_seconds)


def _needs_review(engine: Any, row: CaseRow) -> bool:
    """Whether a stored case has open cycles the current policy changes (engine.needs_review)."""
    try:
        return bool(engine.stored_needs_review(row["s"]))
    except (KeyError, TypeError, ValueError, AttributeError):
        return False  # unreadable: its own message will say so when it is processed


def register(rt: Runtime, intake: SourceIntake) -> None:
    """Register the ``cases`` table, the clock agent, recovery hooks, the timer and lag tasks.

    The agent reads ``slawatch.events``, ``slawatch.due`` and every source declared
    ``keyed_by_case`` as one channel, one message at a time, and hands each to the
    :class:`CaseProcessor` (batches from ``take_events`` were tried and lost events around
    rebalances in the failover test: docs/design.md).
    """
    from streams.app import CASES_TABLE

    app = rt.app
    settings = rt.settings
    names = settings.topic_names
    metrics = rt.metrics
    index: DeadlineIndex = rt.index
    gauges = OpenClockGauges(metrics)
    engine = rt.engine
    cases = app.Table(
        CASES_TABLE,
        default=None,
        partitions=settings.partitions,
        key_type=str,
        value_type=bytes,  # JSON bytes of a CaseRow (streams/case_row.py)
        help="case id -> {p, due, open, near, s: CaseState JSON}",
    )
    rt.cases = cases
    channel = app.topic(
        names.events,
        names.due,
        *sorted(rt.keyed_sources),
        partitions=settings.partitions,
        key_serializer="raw",
        value_serializer="raw",
    )
    due_topic = rt.topics["due"]
    events_topic = rt.topics["events"]
    partitions = settings.partitions

    async def read_keyed(message: Any) -> LifecycleEvent | None:
        """A keyed source's event, or None; one keyed by another case id is re-keyed."""
        canonical = await intake.canonical(message)
        if canonical is None:
            return None
        if partition_of(canonical.case_id, partitions) != message.partition:
            metrics.events_rekeyed.labels(message.topic).inc()
            await events_topic.send(key=key_bytes(canonical.case_id), value=encode_model(canonical))
            return None
        return canonical

    processor = CaseProcessor(
        engine=engine,
        table=cases,
        index=index,
        effects=EffectSink(rt.topics, metrics),
        interrupted=lambda: not app.flow_control.is_active(),
        due_topic=names.due,
        sources={name: read_keyed for name in rt.keyed_sources},
        dead_letter=intake.dead_letter,
        on_write=gauges.change,
        on_revive=metrics.cases_revived.inc,
    )
    rt.processor = processor

    @app.agent(channel, name="slawatch.clocks")
    async def clock_agent(stream: Any) -> None:
        async for event in stream.events():
            try:
                await processor.process((event,))
            except SendFailed as exc:
                # Faust would restart the agent and go on past the unsent batch; stopping the
                # worker instead makes its supervisor restart it from the committed offset.
                log.critical("worker_stopping", reason="records could not be sent", error=str(exc))
                await app.crash(exc)
                return
            metrics.timer_index_size.set(len(index))

    def active_partitions() -> set[int]:
        changelog = cases.changelog_topic.get_topic_name()
        return {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == changelog}

    def standby_partitions() -> set[int]:
        changelog = cases.changelog_topic.get_topic_name()
        return {tp.partition for tp in app.assignor.assigned_standbys() if tp.topic == changelog}

    @cases.on_recover
    async def rebuild_index() -> None:
        started = time.monotonic()
        actives = active_partitions()
        keep = actives | standby_partitions()
        entries: list[DueEntry] = []
        zombies: list[str] = []
        counted: dict[str, tuple[int, list[str], list[str]]] = {}
        reviews = 0
        for case_id, stored in cases.items():
            row = decode_row(stored)
            if not row:
                continue
            partition = row.get("p")
            if partition in actives:
                due = row.get("due")
                if row.get("open") and _needs_review(engine, row):
                    due = time.time()  # a policy change touches it now (docs/design.md)
                    reviews += 1
                if due is not None:
                    entries.append(DueEntry(due, case_id, partition))
                counted[case_id] = (partition, row.get("open") or [], row.get("near") or [])
            elif partition not in keep:
                zombies.append(case_id)
        if settings.store.startswith("memory") and zombies:
            data = cases.data.data  # type: ignore[attr-defined]
            for case_id in zombies:
                data.pop(case_id, None)  # store level: writes no changelog tombstone
        index.keep_only(actives)
        index.rebuild(entries, actives)
        gauges.reset(counted.values())
        metrics.timer_index_size.set(len(index))
        rt.extra["recovered"] = {
            "actives": sorted(actives),
            "cases": len(counted),
            "index": len(index),
            "zombies_dropped": len(zombies) if settings.store.startswith("memory") else 0,
            "policy_reviews": reviews,
        }
        log.info(
            "deadline_index_rebuilt",
            actives=sorted(actives),
            cases=len(counted),
            index=len(index),
            overdue=sum(1 for e in entries if e.due_at <= time.time()),
            zombies=len(zombies),
            policy_reviews=reviews,
            seconds=round(time.monotonic() - started, 3),
        )

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def drop_revoked(app_: Any, revoked: Any, **kwargs: Any) -> None:
        changelog = cases.changelog_topic.get_topic_name()
        mine = {names.events, names.due, changelog, *rt.keyed_sources}
        gone = {tp.partition for tp in revoked if tp.topic in mine}
        index.drop_partitions(gone)
        gauges.drop_partitions(gone)
        metrics.timer_index_size.set(len(index))

    def ready() -> bool:
        return bool(not app.rebalancing and app.tables.actives_ready)

    @app.task  # type: ignore[untyped-decorator]
    async def due_timer() -> None:
        await run_due_timer(
            index,
            due_sender(due_topic),
            ready=ready,
            stopped=lambda: app.should_stop,
            max_sleep=settings.timer_max_sleep,
        )

    @app.task  # type: ignore[untyped-decorator]
    async def consumer_lag() -> None:
        while not app.should_stop:
            try:
                _update_lag(rt)
            except Exception as exc:  # metrics must never stop the worker
                log.debug("lag_update_failed", error=repr(exc))
            await asyncio.sleep(LAG_INTERVAL_S)

    rt.extra.update(
        clock_agent=clock_agent,
        gauges=gauges,
        active_partitions=active_partitions,
        ready=ready,
    )


def _update_lag(rt: Runtime) -> None:
    """Consumer lag per assigned source/internal partition: Fetch highwater - next to read."""
    consumer: Any = rt.app.consumer
    names = rt.settings.topic_names
    topics = set(rt.mappings) | {names.events, names.due}
    lag = rt.metrics.consumer_lag
    for tp in consumer.assignment():
        if tp.topic not in topics:
            continue
        try:
            highwater = consumer.highwater(tp)
        except Exception:
            highwater = None
        if highwater is None:
            continue
        read = consumer._read_offset.get(tp)
        if read is not None:
            position = read + 1
        else:
            committed = consumer._committed_offset.get(tp)
            if committed is None:
                continue
            position = committed
        lag.labels(tp.topic, str(tp.partition)).set(max(int(highwater) - int(position), 0))
