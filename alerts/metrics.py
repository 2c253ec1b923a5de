"""Prometheus metrics of alert delivery. Labels are channel names and levels, never people.

``level`` is ``warning``, ``1``, ``2``, ``3``, ``resolved`` or ``digest``; ``channel`` is the
channel's name in the alerts file (e.g. ``console``, ``ops-webhook``), not an address.
"""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["AlertMetrics"]

_LATENCY_BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)


class AlertMetrics:
    """The alert metrics, registered once per registry (tests pass a fresh one)."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        labels = ("channel", "level")
        self.sent = Counter(
            "slawatch_alerts_sent_total",
            "Notifications a channel accepted.",
            labels,
            registry=registry,
        )
        self.failed = Counter(
            "slawatch_alerts_failed_total",
            "Notifications given up on after the last try (dead-lettered).",
            labels,
            registry=registry,
        )
        self.retried = Counter(
            "slawatch_alerts_retried_total",
            "Failed tries that will be retried.",
            labels,
            registry=registry,
        )
        self.enqueued = Counter(
            "slawatch_alerts_enqueued_total",
            "Notifications written to the outbox: handed to delivery.",
            labels,
            registry=registry,
        )
        self.deduplicated = Counter(
            "slawatch_alerts_deduplicated_total",
            "Notifications not enqueued because the same one was already (a repeated event).",
            labels,
            registry=registry,
        )
        self.digested = Counter(
            "slawatch_alerts_digested_total",
            "Notifications held back by storm control and listed in a digest instead.",
            labels,
            registry=registry,
        )
        self.unrouted = Counter(
            "slawatch_alerts_unrouted_total",
            "Alerts no route, role or fallback recipient could take.",
            ("level",),
            registry=registry,
        )
        self.latency = Histogram(
            "slawatch_alert_latency_seconds",
            "Time from a breach being emitted to its first notification being accepted.",
            ("clock",),
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.ack_seconds = Histogram(
            "slawatch_alert_ack_seconds",
            "Time from a breach being emitted to its first acknowledgement.",
            ("clock", "team"),
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.escalations_pending = Gauge(
            "slawatch_escalations_pending",
            "Breaches waiting for their next escalation level.",
            registry=registry,
        )
        self.outbox = Gauge(
            "slawatch_alerts_outbox",
            "Notifications waiting to be sent or retried.",
            registry=registry,
        )
