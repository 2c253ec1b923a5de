"""The clock agent: one channel of events, timer commands and keyed sources; one table of cases.

``slawatch.events``, ``slawatch.due`` and every source declared ``keyed_by_case`` are
co-partitioned (same partition count, keyed by the raw ``case_id`` bytes), and one agent reads
them as one channel, so every event and every timer command of a case is handled in order by
the worker that owns the case. The worker's fetch loop hands the channel a fetch at a time to
the :class:`~streams.processor.CaseProcessor` (decode → engine → effects → store → deadline
index; :mod:`streams.batches`).
This module adds what is Faust-specific around it: the table, the recovery hook that rebuilds
the deadline index, the revocation hook, the due timer and the lag gauge; and what the effects
become here (:class:`EffectSink`: records, counters, a log line per breach, and in a
deadline storm one line for the rest of a batch's breaches).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

import faust
import structlog
from faust.types import TP, AgentT, EventT, Message, StreamT, TopicT

from sla.effects import (
    Breached,
    BreachRetracted,
    ClockEnded,
    ClockStarted,
    Effect,
    EventIgnored,
    WarningDue,
)
from sla.engine import Engine
from sla.events import LifecycleEvent
from sla.records import BreachRecord, OutcomeRecord, WarningRecord
from streams import batches, deliveries
from streams.case_row import CaseRow, decode_row
from streams.codec import DueCommand, key_bytes
from streams.deadlines import DeadlineIndex, DueEntry, due_sender, run_due_timer
from streams.errors import DEFAULT as DEFAULT_ERRORS
from streams.errors import Failed, SendFailed
from streams.ingest import SourceIntake, partition_of
from streams.metrics import Children, Metrics, Tally, label
from streams.outbox import Outbox
from streams.positions import ConsumerOffsets, fetch_highwater, positions
from streams.processor import CaseProcessor, LogContext, SourceDecoder
from streams.rows import TableRows
from streams.runtime import CasesTable, RecoverySummary, Runtime, ready
from streams.wire import WireTopic, WorkerTopics, raw_topic

__all__ = [
    "CaseAgent",
    "EffectSink",
    "OpenClockGauges",
    "RowScan",
    "register",
    "register_case_agent",
    "scan_rows",
]

log = structlog.get_logger("slawatch.clocks")

R = TypeVar("R")

#: Breaches of one batch logged a line each; the batch's breaches past these are summed up in
#: one ``sla_breaches_summarized`` line. A deadline storm (100,000 cases due in one second)
#: would otherwise write 100,000 warning lines, a tenth of the worker's time, ahead of the
#: breach records still waiting; each breach is in ``sla.breaches`` and the metrics anyway.
BREACH_LINES_PER_BATCH = 20

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


def _breach_ids(rec: BreachRecord) -> dict[str, str | int]:
    """What names a breach in a log line: ids only, no personal data."""
    return {
        "breach_id": rec.breach_id,
        "case_id": rec.case_id,
        "clock": rec.clock,
        "cycle": rec.cycle,
    }


class EffectSink:
    """Carries out the engine's effects: records staged in the processor's outbox, counters,
    log lines for breaches.

    A case's records go to its own partition of each record topic: every worker topic has the
    partition count of ``slawatch.events`` (checked at start), and a case is processed in the
    partition its id hashes to (keyed sources are checked, and a misplaced event is re-keyed),
    which is where the producer's partitioner would put a record keyed by that id.

    Each breach gets a warning line, up to :data:`BREACH_LINES_PER_BATCH` in a batch; the rest
    of the batch's breaches get one summary line when the batch ends (:meth:`end_batch`).
    """

    def __init__(
        self,
        topics: WorkerTopics,
        metrics: Metrics,
        outbox: Outbox,
        lines: int = BREACH_LINES_PER_BATCH,
        tally: Tally | None = None,
    ) -> None:
        self._topics = topics
        self._outbox = outbox
        #: The batch's counts (shared with the source reader's), applied by :meth:`end_batch`.
        self._tally = tally if tally is not None else Tally()
        self._lines = lines
        self._logged = 0
        self._unlogged: Counter[str] = Counter()
        self._unlogged_lateness = 0.0
        self._ignored = Children(metrics.events_ignored)
        self._started = Children(metrics.clocks_started)
        self._warnings = Children(metrics.warnings)
        self._breaches = Children(metrics.breaches)
        self._results = Children(metrics.clock_results)
        self._outcomes = Children(metrics.outcomes)
        self._time_to_stop = Children(metrics.time_to_stop)

    async def emit(self, effects: Iterable[Effect], ctx: LogContext, partition: int) -> None:
        """Carry out ``effects`` in order; ``ctx`` (topic, partition, offset) goes in logs,
        records go to ``partition`` (the case's)."""
        for effect in effects:
            if isinstance(effect, EventIgnored):
                self._tally.inc(self._ignored(effect.reason))
            elif isinstance(effect, ClockStarted):
                ref = effect.ref
                self._tally.inc(self._started(ref.clock, label(ref.team), label(ref.region)))
            elif isinstance(effect, WarningDue):
                self._warning(effect.record, partition)
            elif isinstance(effect, Breached):
                self._breach(effect.record, ctx, partition)
            elif isinstance(effect, BreachRetracted):
                self._retraction(effect.record, ctx, partition)
            elif isinstance(effect, ClockEnded):
                self._outcome(effect.record, partition)

    def _stage(self, topic: WireTopic[R], record: R, case_id: str, partition: int) -> None:
        self._outbox.stage(topic.name, partition, key_bytes(case_id), topic.codec.encode(record))

    def _warning(self, rec: WarningRecord, partition: int) -> None:
        self._stage(self._topics.warnings, rec, rec.case_id, partition)
        threshold = f"{rec.threshold:g}"
        self._tally.inc(self._warnings(rec.clock, label(rec.team), label(rec.region), threshold))

    def _breach(self, rec: BreachRecord, ctx: LogContext, partition: int) -> None:
        self._stage(self._topics.breaches, rec, rec.case_id, partition)
        team, region = label(rec.team), label(rec.region)
        self._tally.inc(self._breaches(rec.clock, team, region, rec.standard))
        self._tally.inc(self._results(rec.clock, team, region, rec.standard, "breached"))
        lateness = (rec.emitted_at - rec.deadline).total_seconds()
        if self._logged >= self._lines:
            self._unlogged[rec.clock] += 1
            self._unlogged_lateness = max(self._unlogged_lateness, lateness)
            return
        self._logged += 1
        log.warning(
            "sla_breach",
            **_breach_ids(rec),
            standard=rec.standard,
            team=rec.team,
            region=rec.region,
            policy_version=rec.policy_version,
            started_at=rec.started_at.isoformat(),
            deadline=rec.deadline.isoformat(),
            emitted_at=rec.emitted_at.isoformat(),
            lateness_seconds=round(lateness, 3),
            **ctx,
        )

    def end_batch(self) -> None:
        """Apply the batch's counts; sum up its breaches that got no line of their own; then
        start counting anew."""
        self._tally.flush()
        if self._unlogged:
            log.warning(
                "sla_breaches_summarized",
                breaches=sum(self._unlogged.values()),
                by_clock=dict(sorted(self._unlogged.items())),
                max_lateness_seconds=round(self._unlogged_lateness, 3),
                logged_singly=self._logged,
            )
        self._logged = 0
        self._unlogged.clear()
        self._unlogged_lateness = 0.0

    def _retraction(self, rec: BreachRecord, ctx: LogContext, partition: int) -> None:
        self._stage(self._topics.breaches, rec, rec.case_id, partition)
        team, region = label(rec.team), label(rec.region)
        self._tally.inc(self._results(rec.clock, team, region, rec.standard, "retracted"))
        log.info("sla_breach_retracted", **_breach_ids(rec), **ctx)

    def _outcome(self, rec: OutcomeRecord, partition: int) -> None:
        self._stage(self._topics.outcomes, rec, rec.case_id, partition)
        team, region = label(rec.team), label(rec.region)
        self._tally.inc(self._outcomes(rec.clock, team, region, rec.outcome))
        if rec.outcome == "met":
            self._tally.inc(self._results(rec.clock, team, region, rec.standard, "met"))
        if rec.outcome in ("met", "breached"):
            self._time_to_stop(rec.clock).observe(rec.elapsed_seconds)


@dataclass
class RowScan:
    """What a scan of a recovered table of case rows found (:func:`scan_rows`)."""

    entries: list[DueEntry]
    #: case id -> (partition, open clocks, near-breach clocks) of the active cases.
    counted: dict[str, tuple[int, list[str], list[str]]]
    zombies: list[str]
    reviews: int


def scan_rows(
    rows: Iterable[tuple[str, bytes | None]],
    actives: set[int],
    keep: set[int],
    engine: Engine | None,
    now: float,
) -> RowScan:
    """Sort the rows of a recovered table: deadline entries of the active partitions, zombies.

    The memory store yields standby keys and keys of revoked partitions too (Faust's memory
    store records a key's partition only for keys it recovered), so rows carry their partition
    and only the active ones are indexed. A row of neither an active nor a standby partition
    (``keep``) is a zombie. With ``engine``, a case with open cycles the current policy changes
    is due ``now`` (a policy review, docs/design.md).
    """
    scan = RowScan([], {}, [], 0)
    for case_id, stored in rows:
        row = decode_row(stored)
        if not row:
            continue
        partition = row.get("p")
        if partition in actives:
            due = row.get("due")
            if engine is not None and row.get("open") and _needs_review(engine, row):
                due = now
                scan.reviews += 1
            if due is not None:
                scan.entries.append(DueEntry(due, case_id, partition))
            scan.counted[case_id] = (partition, row.get("open") or [], row.get("near") or [])
        elif partition not in keep:
            scan.zombies.append(case_id)
    return scan


def _needs_review(engine: Engine, row: CaseRow) -> bool:
    """Whether a stored case has open cycles the current policy changes (engine.needs_review)."""
    stored = row.get("s")
    if stored is None:
        return False  # a forgotten case's marker: no cycles
    outcome = DEFAULT_ERRORS.attempt(lambda: engine.stored_needs_review(stored))
    # unreadable: its own message will say so when it is processed
    return not isinstance(outcome, Failed) and bool(outcome)


@dataclass(frozen=True)
class CaseAgent:
    """One :class:`CaseProcessor` and the Faust parts around it (live clocks or the shadow).

    Attributes:
        name: the agent's name.
        channel: the topics it reads as one channel (events, its due topic, keyed sources).
        processor: decode → engine → effects → store → index.
        table: its table of case rows; ``index`` is derived from it.
        due: its timer-command topic.
        stop_on_send_failure: stop the worker when records cannot be sent (the live agent);
            otherwise log ``<name>_records_lost`` and go on (the shadow, which must never
            stop the live worker).
    """

    name: str
    channel: TopicT
    processor: CaseProcessor
    table: CasesTable
    index: DeadlineIndex
    due: WireTopic[DueCommand]
    stop_on_send_failure: bool


def register_case_agent(
    app: faust.App,
    agent: CaseAgent,
    *,
    max_sleep: float,
    on_revoked: Callable[[set[int]], None] = lambda gone: None,
) -> AgentT[bytes]:
    """Register ``agent``'s channel, its revocation hook and its due timer.

    In a running worker the channel's messages reach the processor a fetch at a time, from
    the fetch loop (:mod:`streams.batches`; ``take_events`` batches lost events around
    rebalances: docs/design.md). The stream agent declares the channel to Faust and takes
    one event at a time where Faust delivers to it (its agent test context). The due timer
    never writes the table (Faust lets only a stream write it): it sends commands to
    ``agent.due``, which the processor reads in order with the events.
    """
    processor, index = agent.processor, agent.index

    async def process(stream: StreamT[bytes]) -> None:
        event: EventT[bytes]
        async for event in stream.events():
            if deliveries.stopping(app):
                # a record was refused and the worker is stopping: what it would process now
                # is read again after the restart anyway
                await asyncio.Event().wait()
            try:
                await processor.process((event,))
            except SendFailed as exc:
                if not agent.stop_on_send_failure:
                    log.error("shadow_records_lost", error=str(exc))
                    continue
                # Faust would restart the agent and go on past the unsent message; stopping
                # the worker instead makes its supervisor restart it from the committed offset.
                log.critical("worker_stopping", reason="records could not be sent", error=str(exc))
                await app.crash(exc)
                return

    stream_agent: AgentT[bytes] = app.agent(agent.channel, name=agent.name)(process)

    async def take(messages: Sequence[Message]) -> int:
        """A fetch of one partition of the channel (:mod:`streams.batches`), as ``process``."""
        if deliveries.stopping(app):
            await asyncio.Event().wait()  # as in ``process``
        try:
            return await processor.process_messages(messages)
        except SendFailed as exc:
            if not agent.stop_on_send_failure:
                log.error("shadow_records_lost", error=str(exc), messages=len(messages))
                return len(messages)
            log.critical("worker_stopping", reason="records could not be sent", error=str(exc))
            await app.crash(exc)
            await asyncio.Event().wait()  # the crash stops the fetch loop; nothing is acked
            raise  # not reached
        except Exception as exc:
            if agent.stop_on_send_failure:
                raise  # the fetch loop stops the worker (streams/batches.py)
            # the shadow never stops the live worker
            log.error("shadow_batch_failed", error=repr(exc), messages=len(messages))
            return len(messages)

    batches.route(app, agent.channel.topics, take)

    async def drop_revoked(sender: faust.App, revoked: set[TP], **kwargs: object) -> None:
        changelog = agent.table.changelog_topic.get_topic_name()
        mine = {*agent.channel.topics, changelog}
        gone = {tp.partition for tp in revoked if tp.topic in mine}
        index.drop_partitions(gone)
        on_revoked(gone)

    app.on_partitions_revoked.connect(drop_revoked)  # type: ignore[arg-type]  # mode signal

    async def due_timer() -> None:
        await run_due_timer(
            index,
            due_sender(agent.due),
            ready=lambda: ready(app),
            stopped=lambda: app.should_stop,
            max_sleep=max_sleep,
        )

    app.task(due_timer)
    return stream_agent


async def flush_producer(app: faust.App) -> None:
    """Send every record the app's producer was handed now, and wait for the broker's answer.

    Faust's ``flush`` waits for aiokafka's batches to leave when their linger (50 ms) ends:
    awaited after every batch of the fetch loop, that idled the worker for most of it. The
    accumulator's ``flush_for_commit`` closes the open batches, so they leave at once, and
    waits for the same answers.
    """
    producer = app.producer
    await producer.buffer.flush()  # Faust's own queue (Topic.send_soon, other tables)
    client = getattr(producer, "_producer", None)  # aiokafka's producer, once started
    if client is None:
        return
    await client._message_accumulator.flush_for_commit()


def register(rt: Runtime, intake: SourceIntake) -> CaseProcessor:
    """Register the clock agent on ``cases``, its recovery and revocation hooks, the timer and
    the lag gauge; returns its processor.

    The agent reads ``slawatch.events``, ``slawatch.due`` and every source declared
    ``keyed_by_case`` as one channel and hands each message to the :class:`CaseProcessor`.
    """
    app, settings, metrics, index = rt.app, rt.settings, rt.metrics, rt.index
    gauges = OpenClockGauges(metrics)
    processor = build_processor(rt, intake, gauges)
    channel = raw_topic(
        app,
        rt.topics.events.name,
        rt.topics.due.name,
        *sorted(rt.keyed_sources),
        partitions=settings.partitions,
    )
    agent = CaseAgent("slawatch.clocks", channel, processor, rt.cases, index, rt.topics.due, True)
    deliveries.on_refusal(app, processor.undo_refused)  # before the worker stops on a refusal

    # read when Prometheus scrapes, not written after every message
    metrics.timer_index_size.set_function(lambda: len(index))
    register_case_agent(
        app, agent, max_sleep=settings.timer_max_sleep, on_revoked=gauges.drop_partitions
    )

    @rt.cases.on_recover
    async def rebuild_index() -> None:
        started = time.monotonic()
        actives = rt.active_partitions()
        keep = actives | _standby_partitions(app, rt.cases)
        scan = scan_rows(rt.cases.items(), actives, keep, rt.engine, time.time())
        memory = settings.store.startswith("memory")
        if memory and scan.zombies:
            data = rt.cases.data.data  # type: ignore[attr-defined]  # memory Store's dict
            for case_id in scan.zombies:
                data.pop(case_id, None)  # store level: writes no changelog tombstone
        index.keep_only(actives)
        index.rebuild(scan.entries, actives)
        processor.keep_partitions(actives)
        gauges.reset(scan.counted.values())
        rt.recovery.last = RecoverySummary(
            actives=sorted(actives),
            cases=len(scan.counted),
            index=len(index),
            zombies_dropped=len(scan.zombies) if memory else 0,
            policy_reviews=scan.reviews,
        )
        log.info(
            "deadline_index_rebuilt",
            actives=sorted(actives),
            cases=len(scan.counted),
            index=len(index),
            overdue=sum(1 for e in scan.entries if e.due_at <= time.time()),
            zombies=len(scan.zombies),
            policy_reviews=scan.reviews,
            seconds=round(time.monotonic() - started, 3),
        )

    async def consumer_lag() -> None:
        topics = set(rt.mappings) | {rt.topics.events.name, rt.topics.due.name}
        while not app.should_stop:
            rt.errors.attempt(  # metrics must never stop the worker
                lambda: _update_lag(app, metrics, topics), "lag_update_failed", level="debug"
            )
            await asyncio.sleep(LAG_INTERVAL_S)

    app.task(consumer_lag)
    return processor


def build_processor(
    rt: Runtime, intake: SourceIntake, gauges: OpenClockGauges, outbox: Outbox | None = None
) -> CaseProcessor:
    """The clock agent's processor: the live engine, the ``cases`` rows, the worker's record
    topics through one outbox (``outbox``: another one, e.g. a benchmark's), ``gauges``."""
    app = rt.app
    outbox = outbox if outbox is not None else Outbox(app)
    tally = Tally()  # the sources' and the effects' counts, applied as each batch ends
    return CaseProcessor(
        engine=rt.engine,
        rows=TableRows(rt.cases, outbox),
        index=rt.index,
        effects=EffectSink(rt.topics, rt.metrics, outbox, tally=tally),
        interrupted=lambda: not app.flow_control.is_active(),
        due_topic=rt.topics.due.name,
        sources=dict.fromkeys(rt.keyed_sources, _keyed_reader(rt, intake, tally)),
        dead_letter=intake.dead_letter,
        on_write=gauges.change,
        on_revive=rt.metrics.cases_revived.inc,
        errors=rt.errors,
        confirm_records=partial(flush_producer, app),
        outbox=outbox,
    )


def _keyed_reader(rt: Runtime, intake: SourceIntake, tally: Tally) -> SourceDecoder:
    """Keyed sources as the clock agent reads them: a misplaced event is re-keyed; counts go
    in the processor's ``tally``."""
    partitions = rt.settings.partitions

    async def read_keyed(message: Message) -> LifecycleEvent | None:
        """A keyed source's event, or None; one keyed by another case id is re-keyed."""
        canonical = await intake.canonical(message, tally)
        if canonical is None:
            return None
        if partition_of(canonical.case_id, partitions) != message.partition:
            rt.metrics.events_rekeyed.labels(message.topic).inc()
            await rt.topics.events.send(canonical, key=canonical.case_id)
            return None
        return canonical

    return read_keyed


def _standby_partitions(app: faust.App, table: CasesTable) -> set[int]:
    changelog = table.changelog_topic.get_topic_name()
    return {tp.partition for tp in app.assignor.assigned_standbys() if tp.topic == changelog}


def _update_lag(app: faust.App, metrics: Metrics, topics: set[str]) -> None:
    """Consumer lag per assigned source/internal partition: Fetch highwater - next to read."""
    consumer: ConsumerOffsets = app.consumer  # type: ignore[assignment]  # Faust's private offsets
    lag = metrics.consumer_lag
    for (topic, partition), position in positions(consumer, topics).items():
        highwater = fetch_highwater(consumer, TP(topic, partition))
        if highwater is not None:
            lag.labels(topic, str(partition)).set(max(highwater - position, 0))
