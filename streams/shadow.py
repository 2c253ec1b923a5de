"""Shadow policies: a candidate policy judged on live traffic beside the live one, alerting no one.

A policy change is compared on real traffic before it is promoted. The shadow runs a second
:class:`~sla.engine.Engine` (the candidate policy) on the very same events (``slawatch.events``
and the sources keyed by case id), through the same :class:`~streams.processor.CaseProcessor`
as the live clock agent, in its own agent with its own table (``cases_shadow``), deadline index
and timer commands (``slawatch.shadow.due``, co-partitioned with the events like
``slawatch.due``). Its outcomes
go to ``sla.shadow.outcomes`` (never ``sla.outcomes``), and its counters are separate metric
families labelled with the candidate's ``policy_version``:

* ``slawatch_shadow_clock_results_total{clock, team, region, standard, result, policy_version}``
* ``slawatch_shadow_outcomes_total{clock, team, region, outcome, policy_version}``

so a dashboard can set live attainment and candidate attainment side by side, with the same
``increase()`` formula. Nothing the shadow does reaches ``sla.warnings`` or ``sla.breaches``,
so no alert agent ever sees it.

Wiring (in :func:`streams.app.create_app`, after ``clocks.register(runtime)``)::

    if settings.shadow_policies is not None:
        from streams import shadow
        shadow.register(runtime, _load_policy(settings.shadow_policies))
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

import structlog
from faust.types import AgentT, Message
from prometheus_client import CollectorRegistry, Counter

from sla.effects import Breached, BreachRetracted, ClockEnded, Effect
from sla.engine import Engine
from sla.events import LifecycleEvent
from sla.policy import PolicySpec
from sla.records import OutcomeRecord
from sources.mapping import TimeWindow
from streams import deliveries
from streams.clocks import CaseAgent, flush_producer, register_case_agent, scan_rows
from streams.codec import DUE_COMMANDS, key_bytes
from streams.deadlines import DeadlineIndex
from streams.errors import Failed
from streams.ingest import partition_of
from streams.label_values import LabelValues, bound_metrics
from streams.metrics import label
from streams.outbox import Outbox
from streams.processor import CaseProcessor, LogContext, SourceDecoder
from streams.rows import TableRows
from streams.runtime import (
    SHADOW_DUE_TOPIC,
    SHADOW_OUTCOMES_TOPIC,
    CasesTable,
    Runtime,
    active_partitions,
    cases_table,
)
from streams.wire import OUTCOMES, WireTopic, raw_topic

__all__ = [
    "SHADOW_DUE_TOPIC",
    "SHADOW_OUTCOMES_TOPIC",
    "SHADOW_TABLE",
    "Shadow",
    "ShadowMetrics",
    "outcomes_of",
    "register",
]

log = structlog.get_logger("slawatch.shadow")

SHADOW_TABLE = "cases_shadow"


class ShadowMetrics:
    """The shadow's counters, labelled with the candidate policy's version."""

    def __init__(self, registry: CollectorRegistry, policy_version: str) -> None:
        self.policy_version = policy_version
        self.clock_results = Counter(
            "slawatch_shadow_clock_results",
            "Shadow (candidate) policy: met, breached and retracted clock results.",
            ["clock", "team", "region", "standard", "result", "policy_version"],
            registry=registry,
        )
        self.outcomes = Counter(
            "slawatch_shadow_outcomes",
            "Shadow (candidate) policy: clock cycles ended, by outcome.",
            ["clock", "team", "region", "outcome", "policy_version"],
            registry=registry,
        )

    def count(self, effects: Iterable[Effect]) -> None:
        """Count what the candidate decided; warnings and starts are not needed for attainment."""
        version = self.policy_version
        for effect in effects:
            if isinstance(effect, Breached | BreachRetracted):
                rec = effect.record
                result = "breached" if isinstance(effect, Breached) else "retracted"
                self.clock_results.labels(
                    rec.clock, label(rec.team), label(rec.region), rec.standard, result, version
                ).inc()
            elif isinstance(effect, ClockEnded):
                out = effect.record
                team, region = label(out.team), label(out.region)
                self.outcomes.labels(out.clock, team, region, out.outcome, version).inc()
                if out.outcome == "met":
                    self.clock_results.labels(
                        out.clock, team, region, out.standard, "met", version
                    ).inc()


def outcomes_of(effects: Iterable[Effect]) -> list[OutcomeRecord]:
    """The outcome records among ``effects``: all the shadow sends anywhere."""
    return [e.record for e in effects if isinstance(e, ClockEnded)]


class ShadowEffects:
    """The shadow's effects: its outcome records to ``sla.shadow.outcomes`` and its counters.

    Nothing else: no warning or breach record, so no alert ever comes from a candidate policy.
    """

    def __init__(
        self, outcomes: WireTopic[OutcomeRecord], metrics: ShadowMetrics, outbox: Outbox
    ) -> None:
        self._outcomes = outcomes
        self._metrics = metrics
        self._outbox = outbox

    async def emit(self, effects: Iterable[Effect], ctx: LogContext, partition: int) -> None:
        """Stage the outcomes among ``effects`` (to the case's ``partition``) and count what
        the candidate decided."""
        effects = list(effects)
        topic = self._outcomes
        for record in outcomes_of(effects):
            value = topic.codec.encode(record)
            self._outbox.stage(topic.name, partition, key_bytes(record.case_id), value)
        self._metrics.count(effects)

    def end_batch(self) -> None:
        """Nothing to sum up: the shadow writes no log line per record."""


@dataclass(frozen=True)
class Shadow:
    """What :func:`register` built, for tests."""

    engine: Engine
    policy: PolicySpec
    metrics: ShadowMetrics
    index: DeadlineIndex
    table: CasesTable
    agent: AgentT[bytes]


def _quiet_decoder(rt: Runtime) -> SourceDecoder:
    """Keyed sources as the shadow reads them: the live agent dead-letters and counts bad input
    and re-keys misplaced events onto ``slawatch.events`` (which the shadow reads too), so here
    they are just passed over."""
    window = TimeWindow(rt.settings.event_max_age, rt.settings.event_max_future)
    partitions = rt.settings.partitions

    def mapped(message: Message, value: bytes) -> LifecycleEvent | None:
        mapping = rt.mappings.get(message.topic)
        if mapping is None:
            return None
        canonical = mapping.decode(message.key, value)
        window.check(canonical, datetime.now(UTC), message.topic)
        return canonical

    async def decode(message: Message) -> LifecycleEvent | None:
        value = message.value
        if value is None:
            return None
        canonical = rt.errors.attempt(lambda: mapped(message, value))  # the live agent reports it
        if canonical is None or isinstance(canonical, Failed):
            return None
        if partition_of(canonical.case_id, partitions) != message.partition:
            return None
        return canonical

    return decode


def register(rt: Runtime, policy: PolicySpec) -> Shadow:
    """Run ``policy`` as a shadow beside the live policy of ``rt``.

    Args:
        rt: the worker's runtime (app, settings, metrics registry).
        policy: the candidate policy; its ``version`` labels every shadow metric.
    """
    app = rt.app
    settings = rt.settings
    n = settings.partitions
    engine = Engine.for_policy(policy, retention=settings.retention)
    metrics = ShadowMetrics(rt.metrics.registry, policy.version)
    bound_metrics(metrics, LabelValues.of(policy))  # unknown team/region: "other"
    index = DeadlineIndex()
    table = cases_table(
        app,
        SHADOW_TABLE,
        n,
        "case id -> {p, due, open, near, s: CaseState JSON} under the shadow policy",
    )
    due = WireTopic(raw_topic(app, SHADOW_DUE_TOPIC, partitions=n), DUE_COMMANDS)
    outcomes = WireTopic(raw_topic(app, SHADOW_OUTCOMES_TOPIC, partitions=n), OUTCOMES)
    channel = raw_topic(
        app, rt.topics.events.name, SHADOW_DUE_TOPIC, *sorted(rt.keyed_sources), partitions=n
    )

    async def pass_over(message: Message, reason: str, detail: str) -> None:
        log.error("shadow_message_failed", reason=reason, topic=message.topic)

    outbox = Outbox(app)
    processor = CaseProcessor(
        engine=engine,
        rows=TableRows(table, outbox),
        index=index,
        effects=ShadowEffects(outcomes, metrics, outbox),
        interrupted=lambda: not app.flow_control.is_active(),
        due_topic=SHADOW_DUE_TOPIC,
        sources=dict.fromkeys(rt.keyed_sources, _quiet_decoder(rt)),
        dead_letter=pass_over,
        errors=rt.errors,
        undo_refusals=False,  # its topics are exempt: a refusal stops nothing, nothing to undo
        confirm_records=partial(flush_producer, app),
        outbox=outbox,
    )
    # a candidate policy never stops the live worker, not even when the broker refuses its records
    deliveries.exempt(
        app, {SHADOW_DUE_TOPIC, SHADOW_OUTCOMES_TOPIC, table.changelog_topic.get_topic_name()}
    )
    case_agent = CaseAgent("slawatch.shadow", channel, processor, table, index, due, False)
    agent = register_case_agent(app, case_agent, max_sleep=settings.timer_max_sleep)

    @table.on_recover
    async def rebuild_index() -> None:
        started = time.monotonic()
        actives = active_partitions(app, table)
        scan = scan_rows(table.items(), actives, set(range(n)), None, time.time())
        index.keep_only(actives)
        index.rebuild(scan.entries, actives)
        processor.keep_partitions(actives)
        log.info(
            "shadow_index_rebuilt",
            policy_version=policy.version,
            index=len(index),
            seconds=round(time.monotonic() - started, 3),
        )

    return Shadow(engine, policy, metrics, index, table, agent)
