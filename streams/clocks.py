"""The clock agent: one channel of events and timer commands, one table of case states.

``slawatch.events`` and ``slawatch.due`` are co-partitioned (same partition count, both keyed
by the raw ``case_id`` bytes), and one agent reads both as one channel, so every event and
every timer command of a case is handled in order by the worker that owns the case. The agent
calls the pure engine (``apply`` for an event, ``advance`` for a due command), then maps the
effects to topic sends, metrics and log lines, writes the new state to the ``cases`` table and
tells the deadline index the case's next due time.

Effects are sent before the table write: with at-least-once delivery a crash can repeat a
record (ids are deterministic, readers dedupe) but the state never runs ahead of the records
it implies.

Each table value is ``{"p": partition, "due": unix seconds | None, "open": [clock ids],
"near": [clock ids], "s": CaseState JSON}``. The partition lets the worker keep only active
keys (the memory store's iteration also yields standby and stale keys, notes R3); ``due``,
``open`` and ``near`` let it rebuild the index and gauges after a recovery without the engine.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
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
from sla.engine import CaseState, Step
from sla.records import BreachRecord, OutcomeRecord, WarningRecord
from streams.codec import decode_due, decode_event, encode_due, encode_model, key_bytes
from streams.deadlines import DeadlineIndex, DueEntry, run_due_timer
from streams.metrics import Metrics, label

if TYPE_CHECKING:
    from streams.app import Runtime

__all__ = ["EffectSink", "OpenClockGauges", "register", "summarize"]

log = structlog.get_logger("slawatch.clocks")

#: How often the consumer-lag gauge is refreshed, in seconds.
LAG_INTERVAL_S = 5.0


class OpenClockGauges:
    """Counts of open and near-breach clocks in active partitions, kept up to date per write."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self._cases: dict[str, tuple[int, tuple[str, ...], tuple[str, ...]]] = {}
        self._open: Counter[str] = Counter()
        self._near: Counter[str] = Counter()
        self._seen: set[str] = set()

    def update(
        self, case_id: str, partition: int, open_: Iterable[str], near: Iterable[str]
    ) -> None:
        """Record the open and near-breach clocks of one case (empty: none).

        Only the gauges of clocks whose counts this changes are set again (most events change
        none, or one or two clocks).
        """
        open_t, near_t = tuple(open_), tuple(near)
        old = self._cases.get(case_id)
        if old is not None and old[1] == open_t and old[2] == near_t:
            self._cases[case_id] = (partition, open_t, near_t)
            return
        if old is None and not open_t and not near_t:
            return
        changed = {*open_t, *near_t}
        if old is not None:
            changed.update(old[1])
            changed.update(old[2])
        self._forget(case_id)
        if open_t or near_t:
            self._cases[case_id] = (partition, open_t, near_t)
            self._open.update(open_t)
            self._near.update(near_t)
        self._publish(changed)

    def drop_partitions(self, partitions: Iterable[int]) -> None:
        """Forget the cases of revoked partitions."""
        gone = set(partitions)
        for case_id in [c for c, (p, _, _) in self._cases.items() if p in gone]:
            self._forget(case_id)
        self._publish()

    def _forget(self, case_id: str) -> None:
        old = self._cases.pop(case_id, None)
        if old is not None:
            self._open.subtract(old[1])
            self._near.subtract(old[2])

    def _publish(self, clocks: Iterable[str] | None = None) -> None:
        """Set the gauges of ``clocks`` (default: every clock seen so far)."""
        self._seen.update(self._open)
        self._seen.update(self._near)
        for clock in self._seen if clocks is None else clocks:
            self._metrics.clocks_open.labels(clock).set(max(self._open[clock], 0))
            self._metrics.clocks_near_breach.labels(clock).set(max(self._near[clock], 0))


class EffectSink:
    """Carries out the engine's effects: topic sends, counters, one log line per breach."""

    def __init__(self, topics: dict[str, Any], metrics: Metrics) -> None:
        self._topics = topics
        self._metrics = metrics

    async def emit(self, effects: Iterable[Effect], ctx: dict[str, Any]) -> None:
        """Carry out ``effects`` in order; ``ctx`` (topic, partition, offset) goes in logs."""
        for effect in effects:
            if isinstance(effect, EventIgnored):
                self._metrics.events_ignored.labels(effect.reason).inc()
                log.debug("event_ignored", reason=effect.reason, detail=effect.detail, **ctx)
            elif isinstance(effect, ClockStarted):
                ref = effect.ref
                self._metrics.clocks_started.labels(
                    ref.clock, label(ref.team), label(ref.region)
                ).inc()
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
        self._metrics.warnings.labels(
            rec.clock, label(rec.team), label(rec.region), f"{rec.threshold:g}"
        ).inc()

    async def _breach(self, rec: BreachRecord, ctx: dict[str, Any]) -> None:
        await self._send("breaches", rec.case_id, rec)
        team, region = label(rec.team), label(rec.region)
        self._metrics.breaches.labels(rec.clock, team, region, rec.standard).inc()
        self._metrics.clock_results.labels(rec.clock, team, region, rec.standard, "breached").inc()
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
        self._metrics.clock_results.labels(
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
        self._metrics.outcomes.labels(rec.clock, team, region, rec.outcome).inc()
        if rec.outcome == "met":
            self._metrics.clock_results.labels(rec.clock, team, region, rec.standard, "met").inc()
        if rec.outcome in ("met", "breached"):
            self._metrics.time_to_stop.labels(rec.clock).observe(rec.elapsed_seconds)


def summarize(state: CaseState) -> tuple[list[str], list[str]]:
    """Clock ids with an open cycle in ``state``, and those past their last warning.

    A clock is near breach when every warning threshold of its running cycle has passed and
    the breach has not been sent.
    """
    open_: list[str] = []
    near: list[str] = []
    for clock_id, cycle in state.running():
        open_.append(clock_id)
        warn_at = cycle.terms.warn_at
        if warn_at and not cycle.breach_emitted and max(warn_at) in cycle.warned:
            near.append(clock_id)
    return sorted(open_), sorted(near)


def _needs_review(engine: Any, row: dict[str, Any]) -> bool:
    """Whether a stored case has open cycles the current policy changes (engine.needs_review)."""
    try:
        return bool(engine.needs_review(CaseState.from_json(row["s"])))
    except (KeyError, TypeError, ValueError):
        return False  # unreadable: its own message will say so when it is processed


def _unix(when: datetime | None) -> float | None:
    return None if when is None else when.timestamp()


def register(rt: Runtime) -> None:
    """Register the ``cases`` table, the clock agent, recovery hooks, the timer and lag tasks."""
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
        value_type=None,
        help="case id -> {p, due, open, near, s: CaseState JSON}",
    )
    rt.cases = cases
    channel = app.topic(
        names.events,
        names.due,
        partitions=settings.partitions,
        key_serializer="raw",
        value_serializer="raw",
    )
    due_topic = rt.topics["due"]

    sink = EffectSink(rt.topics, metrics)

    def store(case_id: str, partition: int, row: Any, step: Step, loaded: CaseState | None) -> None:
        """Write the step's state; ``loaded`` is the state read from ``row`` (None: none)."""
        if step.state is None:
            if row is not None:
                del cases[case_id]
            index.set(partition, case_id, None)
            gauges.update(case_id, partition, (), ())
        else:
            open_, near = summarize(step.state)
            due = _unix(step.next_due)
            new: dict[str, Any] = {"p": partition, "due": due, "open": open_, "near": near}
            if row is not None and step.state is loaded:
                new["s"] = row["s"]  # an ignored or duplicate event: the state is as read
            else:
                new["s"] = step.state.to_json()
            if new != row:
                cases[case_id] = new
            index.set(partition, case_id, due)
            gauges.update(case_id, partition, open_, near)
        metrics.timer_index_size.set(len(index))

    @app.agent(channel, name="slawatch.clocks")
    async def clock_agent(stream: Any) -> None:
        async for event in stream.events():
            message = event.message
            partition = message.partition
            ctx = {"topic": message.topic, "partition": partition, "offset": message.offset}
            now = datetime.now(UTC)
            try:
                if message.topic == names.due:
                    case_id, _due_at = decode_due(message.value)
                    row = cases.get(case_id)
                    if row is None:
                        index.set(partition, case_id, None)
                        continue
                    loaded = CaseState.from_json(row["s"])
                    previous: CaseState | None = loaded
                    step = engine.advance(loaded, now)
                else:
                    canonical = decode_event(message.value)
                    case_id = canonical.case_id
                    row = cases.get(case_id)
                    previous = None if row is None else CaseState.from_json(row["s"])
                    step = engine.apply(previous, canonical, now)
            except Exception as exc:  # one poisoned message must not stop every clock
                log.error(
                    "clock_message_failed",
                    error=f"{type(exc).__name__}: {exc}",
                    exc_info=True,
                    **ctx,
                )
                metrics.events_ignored.labels("processing_error").inc()
                continue
            if row is not None and row.get("p") != partition:
                log.error(
                    "partition_mismatch",
                    case_id=case_id,
                    stored_partition=row.get("p"),
                    **ctx,
                )
            try:
                await sink.emit(step.effects, ctx)
                store(case_id, partition, row, step, previous)
            except Exception as exc:  # a bug here must not stop every clock of the worker
                log.error(
                    "clock_effects_failed",
                    error=f"{type(exc).__name__}: {exc}",
                    exc_info=True,
                    **ctx,
                )
                metrics.events_ignored.labels("processing_error").inc()

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
        for case_id, row in cases.items():
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
        gauges.drop_partitions(set(range(settings.partitions)))
        for case_id, (partition, open_, near) in counted.items():
            gauges.update(case_id, partition, open_, near)
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
        gone = {tp.partition for tp in revoked if tp.topic in (names.events, names.due, changelog)}
        index.drop_partitions(gone)
        gauges.drop_partitions(gone)
        metrics.timer_index_size.set(len(index))

    def ready() -> bool:
        return bool(not app.rebalancing and app.tables.actives_ready)

    async def send_due(entry: DueEntry) -> None:
        due_at = datetime.fromtimestamp(entry.due_at, UTC)
        await due_topic.send(
            key=key_bytes(entry.case_id),
            value=encode_due(entry.case_id, due_at),
            partition=entry.partition,
        )

    @app.task  # type: ignore[untyped-decorator]
    async def due_timer() -> None:
        await run_due_timer(
            index,
            send_due,
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
