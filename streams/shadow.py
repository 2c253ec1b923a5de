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
from typing import TYPE_CHECKING, Any

import structlog
from prometheus_client import CollectorRegistry, Counter

from sla.effects import Breached, BreachRetracted, ClockEnded, Effect
from sla.engine import Engine
from sla.events import LifecycleEvent
from sla.policy import PolicySpec
from sla.records import OutcomeRecord
from sources.mapping import TimeWindow
from streams.case_row import decode_row
from streams.codec import encode_model, key_bytes
from streams.deadlines import DeadlineIndex, DueEntry, due_sender, run_due_timer
from streams.ingest import partition_of
from streams.label_values import LabelValues, bound_metrics
from streams.metrics import label
from streams.processor import CaseProcessor, SendFailed

if TYPE_CHECKING:
    from streams.app import Runtime

__all__ = [
    "SHADOW_DUE_TOPIC",
    "SHADOW_OUTCOMES_TOPIC",
    "SHADOW_TABLE",
    "ShadowMetrics",
    "outcomes_of",
    "register",
]

log = structlog.get_logger("slawatch.shadow")

SHADOW_TABLE = "cases_shadow"
SHADOW_DUE_TOPIC = "slawatch.shadow.due"
SHADOW_OUTCOMES_TOPIC = "sla.shadow.outcomes"


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
                rec = effect.record
                team, region = label(rec.team), label(rec.region)
                self.outcomes.labels(rec.clock, team, region, rec.outcome, version).inc()
                if rec.outcome == "met":
                    self.clock_results.labels(
                        rec.clock, team, region, rec.standard, "met", version
                    ).inc()


def outcomes_of(effects: Iterable[Effect]) -> list[OutcomeRecord]:
    """The outcome records among ``effects``: all the shadow sends anywhere."""
    return [e.record for e in effects if isinstance(e, ClockEnded)]


class ShadowEffects:
    """The shadow's effects: its outcome records to ``sla.shadow.outcomes`` and its counters.

    Nothing else: no warning or breach record, so no alert ever comes from a candidate policy.
    """

    def __init__(self, outcomes: Any, metrics: ShadowMetrics) -> None:
        self._outcomes = outcomes
        self._metrics = metrics

    async def emit(self, effects: Iterable[Effect], ctx: dict[str, Any]) -> None:
        """Send the outcomes among ``effects`` and count what the candidate decided."""
        effects = list(effects)
        for record in outcomes_of(effects):
            await self._outcomes.send(key=key_bytes(record.case_id), value=encode_model(record))
        self._metrics.count(effects)


@dataclass
class Shadow:
    """What :func:`register` built, for tests and the web views."""

    engine: Engine
    policy: PolicySpec
    metrics: ShadowMetrics
    index: DeadlineIndex
    table: Any
    agent: Any


def _quiet_decoder(rt: Runtime) -> Any:
    """Keyed sources as the shadow reads them: the live agent dead-letters and counts bad input
    and re-keys misplaced events onto ``slawatch.events`` (which the shadow reads too), so here
    they are just passed over."""
    window = TimeWindow(rt.settings.event_max_age, rt.settings.event_max_future)
    partitions = rt.settings.partitions

    async def decode(message: Any) -> LifecycleEvent | None:
        mapping = rt.mappings.get(message.topic)
        if mapping is None or message.value is None:
            return None
        try:
            canonical: LifecycleEvent = mapping.decode(message.key, message.value)
            window.check(canonical, datetime.now(UTC), message.topic)
        except Exception:  # the live agent dead-letters it
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
    table = app.Table(
        SHADOW_TABLE,
        default=None,
        partitions=n,
        key_type=str,
        value_type=bytes,  # JSON bytes of a CaseRow (streams/case_row.py)
        help="case id -> {p, due, open, near, s: CaseState JSON} under the shadow policy",
    )
    due_topic = app.topic(
        SHADOW_DUE_TOPIC, partitions=n, key_serializer="raw", value_serializer="raw"
    )
    outcomes = app.topic(SHADOW_OUTCOMES_TOPIC, partitions=n, internal=False)
    channel = app.topic(
        settings.topic_names.events,
        SHADOW_DUE_TOPIC,
        *sorted(rt.keyed_sources),
        partitions=n,
        key_serializer="raw",
        value_serializer="raw",
    )
    decode = _quiet_decoder(rt)

    async def pass_over(message: Any, reason: str, detail: str) -> None:
        log.error("shadow_message_failed", reason=reason, topic=message.topic)

    processor = CaseProcessor(
        engine=engine,
        table=table,
        index=index,
        effects=ShadowEffects(outcomes, metrics),
        interrupted=lambda: not app.flow_control.is_active(),
        due_topic=SHADOW_DUE_TOPIC,
        sources=dict.fromkeys(rt.keyed_sources, decode),
        dead_letter=pass_over,
    )

    @app.agent(channel, name="slawatch.shadow")
    async def shadow_agent(stream: Any) -> None:
        async for event in stream.events():
            try:
                await processor.process((event,))
            except SendFailed as exc:  # a candidate policy must never stop the live worker
                log.error("shadow_records_lost", error=str(exc))

    def active_partitions() -> set[int]:
        changelog = table.changelog_topic.get_topic_name()
        return {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == changelog}

    @table.on_recover
    async def rebuild_index() -> None:
        started = time.monotonic()
        actives = active_partitions()
        rows = ((case_id, decode_row(stored)) for case_id, stored in table.items())
        entries = [
            DueEntry(row["due"], case_id, row["p"])
            for case_id, row in rows
            if row and row.get("p") in actives and row.get("due") is not None
        ]
        index.keep_only(actives)
        index.rebuild(entries, actives)
        log.info(
            "shadow_index_rebuilt",
            policy_version=policy.version,
            index=len(index),
            seconds=round(time.monotonic() - started, 3),
        )

    @app.on_partitions_revoked.connect
    async def drop_revoked(app_: Any, revoked: Any, **kwargs: Any) -> None:
        changelog = table.changelog_topic.get_topic_name()
        gone = {tp.partition for tp in revoked if tp.topic in (SHADOW_DUE_TOPIC, changelog)}
        index.drop_partitions(gone)

    @app.task
    async def shadow_timer() -> None:
        await run_due_timer(
            index,
            due_sender(due_topic),
            ready=lambda: bool(not app.rebalancing and app.tables.actives_ready),
            stopped=lambda: app.should_stop,
            max_sleep=settings.timer_max_sleep,
        )

    shadow = Shadow(engine, policy, metrics, index, table, shadow_agent)
    rt.extra["shadow"] = shadow
    return shadow
