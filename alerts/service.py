"""What the alert agents do with each record: route it, enqueue notifications, start or end climbs.

No Faust here: the agents in ``streams/alerting.py`` call these coroutines, and tests call them
directly against a real Redis. Every step is idempotent, so a record delivered twice, or handled
again after a crash, changes nothing: notifications are deduplicated by key and timers by
breach id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import structlog

from alerts.ack import AckRecord, AckSigner
from alerts.config import AlertsSpec
from alerts.dedupe import AlertStore
from alerts.escalation import ladder_for
from alerts.metrics import AlertMetrics
from alerts.notification import Alert, Notification, alert_from
from alerts.routing import Delivery, Router
from alerts.storm import StormGuard
from alerts.timers import EscalationTimers
from sla.records import BreachRecord, OutcomeRecord, WarningRecord, breach_id
from sla.timesource import TimeSource

__all__ = ["AlertService"]

log = structlog.get_logger("slawatch.alerts")


#: Ends of a clock that mean the deadline was kept after all.
_MET = frozenset({"met", "retracted"})


@dataclass
class AlertService:
    """Turns warnings, breaches, outcomes and acks into notifications and escalation timers.

    Attributes:
        time_source: wall time live, a manual time in tests; ``now`` of every decision.
        signer: signs ack links; None leaves notifications without one.
        ack_base_url: where ack links point when the alerts file sets no ``ack.base_url``.
    """

    spec: AlertsSpec
    router: Router
    store: AlertStore
    timers: EscalationTimers
    storm: StormGuard
    metrics: AlertMetrics
    time_source: TimeSource
    signer: AckSigner | None = None
    ack_base_url: str = "http://localhost:6066"

    def __post_init__(self) -> None:
        self.ack_base_url = self.spec.ack.base_url or self.ack_base_url

    async def on_warning(self, record: WarningRecord) -> int:
        """Warn the owner (or whoever is on duty); returns how many notifications were new."""
        return await self.on_warnings([record])

    async def on_warnings(self, records: Sequence[WarningRecord]) -> int:
        """:meth:`on_warning` for each record, with one round trip to Redis for all of them."""
        now = self.time_source.now()
        planned = [
            (alert_from(r, kind="warning"), self.router.first_level(r, "warning", now))
            for r in records
        ]
        return await self._enqueue_all(planned, now, ack=False)

    async def on_breach(self, record: BreachRecord) -> int:
        """Level 1 now, and the first escalation timer; a retraction ends the climb."""
        return await self.on_breaches([record])

    async def on_breaches(self, records: Sequence[BreachRecord]) -> int:
        """:meth:`on_breach` for each record, in order; returns how many notifications were new.

        A run of breaches costs three round trips to Redis however long it is (how their
        clocks ended, the notifications, the timers), not three per breach: in a deadline
        storm the alerts keep up with the breaches. A retraction ends the run before it.
        """
        new = 0
        run: list[BreachRecord] = []
        for record in records:
            if record.type == "breach_retracted":
                new += await self._breaches(run)
                run = []
                await self.timers.stop(record.breach_id, "retracted")
            else:
                run.append(record)
        return new + await self._breaches(run)

    async def _breaches(self, records: Sequence[BreachRecord]) -> int:
        if not records:
            return 0
        stopped = await self.timers.stopped_as_many([r.breach_id for r in records])
        now = self.time_source.now()
        planned: list[tuple[Alert, list[Delivery]]] = []
        climbs: list[tuple[BreachRecord, int, datetime]] = []
        for record, why in zip(records, stopped, strict=True):
            if why in _MET:
                # The outcome (met in time: the breach was retracted) overtook the breach on
                # its way here; alerting now would only tell staff of a breach that did not
                # happen.
                log.info("alert_skipped_breach_met", breach_id=record.breach_id)
                continue
            deliveries = self.router.first_level(record, "breach", now)
            planned.append((alert_from(record, kind="breach", level=1), deliveries))
            following = ladder_for(self.spec, record.clock).next_due(record.emitted_at, 1)
            if following is not None:
                climbs.append((record, *following))
        new = await self._enqueue_all(planned, now, ack=True)
        await self.timers.schedule_many(climbs)
        return new

    async def on_outcome(self, record: OutcomeRecord) -> int:
        """The clock stopped: end escalation, and tell whoever was alerted if configured."""
        return await self.on_outcomes([record])

    async def on_outcomes(self, records: Sequence[OutcomeRecord]) -> int:
        """:meth:`on_outcome` for each record: the climbs ended in one round trip."""
        ids = [breach_id(r.case_id, r.clock, r.cycle) for r in records]
        await self.timers.stop_many([(bid, r.outcome) for bid, r in zip(ids, records, strict=True)])
        if not self.spec.resolved_notice:
            return 0
        new = 0
        for bid, record in zip(ids, records, strict=True):
            alerted = await self.store.alerted(bid)
            if not alerted:
                continue
            now = self.time_source.now()
            deliveries = [Delivery(r, c, "resolved") for r, c in alerted]
            planned = [(alert_from(record, kind="resolved"), deliveries)]
            new += await self._enqueue_all(planned, now, ack=False)
        return new

    async def on_acks(self, acks: Sequence[AckRecord]) -> int:
        """:meth:`on_ack` for each ack, in order (acks are few: one round trip each);
        returns how many stopped a pending level."""
        return sum([await self.on_ack(ack) for ack in acks])

    async def on_ack(self, ack: AckRecord) -> bool:
        """Stop escalating the acknowledged breach; True if a level was still pending."""
        breach = await self.timers.unacknowledged(ack.breach_id)
        pending = await self.timers.ack(ack.breach_id, ack.by)
        if breach is not None:
            waited = (self.time_source.now() - breach.emitted_at).total_seconds()
            self.metrics.ack_seconds.labels(clock=breach.clock, team=breach.team or "none").observe(
                max(waited, 0.0)
            )
        log.info("alert_acknowledged", breach_id=ack.breach_id, ack_level=ack.level, by=ack.by,
                 pending=pending)  # fmt: skip
        return pending

    async def escalate_due(self) -> int:
        """Fire every escalation level that is due; returns how many levels fired."""
        now = self.time_source.now()
        fired = 0
        for bid in await self.timers.due(now):
            pending = await self.timers.claim(bid, now, self.spec.lease)
            if pending is None:
                continue
            breach, level = pending.breach, pending.level
            deliveries = self.router.escalation(breach, level, now)
            alert = alert_from(breach, kind="breach", level=level)
            await self._enqueue(alert, deliveries, now, ack=True)
            following = ladder_for(self.spec, breach.clock).next_due(breach.emitted_at, level)
            await self.timers.advance(bid, level, following)
            log.info(
                "escalation_fired", breach_id=bid, alert_level=level, recipients=len(deliveries)
            )
            fired += 1
        self.metrics.escalations_pending.set(await self.timers.pending_count())
        return fired

    async def flush_digests(self) -> int:
        """Send each finished minute's storm digest; returns how many digests were enqueued."""
        now = self.time_source.now()
        sent = 0
        for digest_id in await self.storm.due(now):
            held = await self.storm.take(digest_id, self.spec.lease)
            if held is None:
                continue
            team = digest_id.rsplit("/", 1)[0]
            digest = Alert(
                kind="digest", stage="digest", level="digest", breach_id=f"digest/{digest_id}",
                case_id="", case_kind="", clock="", cycle=0, team=team, occurred_at=now,
            )  # fmt: skip
            for d in self.router.digest(team, now):
                n = Notification.to(digest, d.recipient, d.channel, now, digest=held)
                await self.store.enqueue(n, now)
            await self.storm.done(digest_id)
            log.info("storm_digest", team=team, alerts=len(held))
            sent += 1
        return sent

    async def _enqueue(
        self, alert: Alert, deliveries: list[Delivery], now: datetime, *, ack: bool
    ) -> int:
        return await self._enqueue_all([(alert, deliveries)], now, ack=ack)

    async def _enqueue_all(
        self, planned: Sequence[tuple[Alert, list[Delivery]]], now: datetime, *, ack: bool
    ) -> int:
        """Enqueue each alert for its deliveries, all in one round trip; how many were new."""
        notifications: list[Notification] = []
        for alert, deliveries in planned:
            if not deliveries:
                self.metrics.unrouted.labels(level=alert.level).inc()
                log.warning(
                    "alert_unrouted", breach_id=alert.breach_id, stage=alert.stage, team=alert.team
                )
                continue
            for d in deliveries:
                link = None
                if ack and self.signer is not None:
                    link = self.signer.link(
                        self.ack_base_url, alert.breach_id, int(alert.level), d.recipient, now=now
                    )
                notifications.append(
                    Notification.to(alert, d.recipient, d.channel, now, ack_url=link)
                )
        created = await self.store.enqueue_many(notifications, now)
        for n, new in zip(notifications, created, strict=True):
            if new:
                self.metrics.enqueued.labels(channel=n.channel, level=n.alert.level).inc()
            else:
                self.metrics.deduplicated.labels(channel=n.channel, level=n.alert.level).inc()
                log.debug("alert_deduplicated", key=n.key)
        return sum(created)
