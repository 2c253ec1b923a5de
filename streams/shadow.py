"""Shadow policies: a candidate policy judged on live traffic beside the live one, alerting no one.

A policy change is compared on real traffic before it is promoted. The shadow runs a second
:class:`~sla.engine.Engine` (the candidate policy) on the very same ``slawatch.events`` stream,
in its own agent with its own table (``cases_shadow``), deadline index and timer commands
(``slawatch.shadow.due``, co-partitioned with the events like ``slawatch.due``). Its outcomes
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

from sla.calendar import build_calendars
from sla.effects import Breached, BreachRetracted, ClockEnded, Effect
from sla.engine import CaseState, Engine
from sla.policy import PolicySpec
from sla.records import OutcomeRecord
from streams.codec import decode_due, decode_event, encode_due, encode_model, key_bytes
from streams.deadlines import DeadlineIndex, DueEntry, run_due_timer
from streams.metrics import label

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


@dataclass
class Shadow:
    """What :func:`register` built, for tests and the web views."""

    engine: Engine
    policy: PolicySpec
    metrics: ShadowMetrics
    index: DeadlineIndex
    table: Any
    agent: Any


def _unix(when: datetime | None) -> float | None:
    return None if when is None else when.timestamp()


def register(rt: Runtime, policy: PolicySpec) -> Shadow:
    """Run ``policy`` as a shadow beside the live policy of ``rt``.

    Args:
        rt: the worker's runtime (app, settings, metrics registry).
        policy: the candidate policy; its ``version`` labels every shadow metric.
    """
    app = rt.app
    settings = rt.settings
    n = settings.partitions
    engine = Engine(policy, build_calendars(policy))
    metrics = ShadowMetrics(rt.metrics.registry, policy.version)
    index = DeadlineIndex()
    table = app.Table(
        SHADOW_TABLE,
        default=None,
        partitions=n,
        key_type=str,
        value_type=None,
        help="case id -> {p, due, s: CaseState JSON} under the shadow (candidate) policy",
    )
    due_topic = app.topic(
        SHADOW_DUE_TOPIC, partitions=n, key_serializer="raw", value_serializer="raw"
    )
    outcomes = app.topic(SHADOW_OUTCOMES_TOPIC, partitions=n, internal=False)
    channel = app.topic(
        settings.topic_names.events,
        SHADOW_DUE_TOPIC,
        partitions=n,
        key_serializer="raw",
        value_serializer="raw",
    )

    @app.agent(channel, name="slawatch.shadow")
    async def shadow_agent(stream: Any) -> None:
        async for event in stream.events():
            message = event.message
            partition = message.partition
            now = datetime.now(UTC)
            try:
                if message.topic == SHADOW_DUE_TOPIC:
                    case_id, _ = decode_due(message.value)
                    row = table.get(case_id)
                    if row is None:
                        index.set(partition, case_id, None)
                        continue
                    step = engine.advance(CaseState.from_json(row["s"]), now)
                else:
                    canonical = decode_event(message.value)
                    case_id = canonical.case_id
                    row = table.get(case_id)
                    state = None if row is None else CaseState.from_json(row["s"])
                    step = engine.apply(state, canonical, now)
            except Exception as exc:  # the shadow must never disturb the live worker
                log.error("shadow_message_failed", error=f"{type(exc).__name__}: {exc}")
                continue
            for record in outcomes_of(step.effects):
                await outcomes.send(key=key_bytes(record.case_id), value=encode_model(record))
            metrics.count(step.effects)
            if step.state is None:
                if row is not None:
                    del table[case_id]
                index.set(partition, case_id, None)
            else:
                due = _unix(step.next_due)
                table[case_id] = {"p": partition, "due": due, "s": step.state.to_json()}
                index.set(partition, case_id, due)

    def active_partitions() -> set[int]:
        changelog = table.changelog_topic.get_topic_name()
        return {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == changelog}

    @table.on_recover
    async def rebuild_index() -> None:
        started = time.monotonic()
        actives = active_partitions()
        entries = [
            DueEntry(row["due"], case_id, row["p"])
            for case_id, row in table.items()
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

    async def send_due(entry: DueEntry) -> None:
        due_at = datetime.fromtimestamp(entry.due_at, UTC)
        await due_topic.send(
            key=key_bytes(entry.case_id),
            value=encode_due(entry.case_id, due_at),
            partition=entry.partition,
        )

    @app.task
    async def shadow_timer() -> None:
        await run_due_timer(
            index,
            send_due,
            ready=lambda: bool(not app.rebalancing and app.tables.actives_ready),
            stopped=lambda: app.should_stop,
            max_sleep=settings.timer_max_sleep,
        )

    shadow = Shadow(engine, policy, metrics, index, table, shadow_agent)
    rt.extra["shadow"] = shadow
    return shadow
