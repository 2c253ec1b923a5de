"""Build the Faust app of one slawatch worker from :class:`~streams.settings.Settings`.

One function, :func:`create_app`, wires the parts: the ingest agent (source topics →
``slawatch.events``/``sla.deadletter``), the clock agent on ``slawatch.events`` +
``slawatch.due`` with the ``cases`` table, the deadline index and its due timer, metrics and
the web views. Everything a part needs is in one :class:`Runtime` value, so agents stay thin.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import faust

from sla.policy import PolicySpec
from slawatch import __version__
from streams.deadlines import DeadlineIndex
from streams.kafka_auth import broker_credentials
from streams.metrics import Metrics
from streams.settings import Settings

__all__ = [
    "CASES_TABLE",
    "PRODUCER_LINGER_S",
    "PRODUCER_MAX_BATCH_BYTES",
    "Runtime",
    "build_engine",
    "create_app",
    "faust_settings",
]

#: Name of the table of case states (its changelog is ``<app id>-cases-changelog``).
CASES_TABLE = "cases"

#: How long records wait to share a produce request, in seconds (bench/README.md).
PRODUCER_LINGER_S = 0.05

#: The largest record batch per partition. aiokafka's default (16 KiB) holds about ten case
#: states: a full batch makes every further send to that partition wait for a broker round
#: trip, which left the worker idle a fifth of the time (bench/README.md). Half the broker's
#: default ``message.max.bytes`` (1 MiB), so a batch is never refused for its size.
PRODUCER_MAX_BATCH_BYTES = 512 * 1024


@dataclass
class Runtime:
    """Everything the agents, the timer and the web views of one worker share."""

    settings: Settings
    app: faust.App
    policy: PolicySpec
    engine: Any
    mappings: dict[str, Any]
    metrics: Metrics
    index: DeadlineIndex = field(default_factory=DeadlineIndex)
    topics: dict[str, Any] = field(default_factory=dict)
    extra_topics: dict[str, int] = field(default_factory=dict)
    cases: Any = None
    keyed_sources: frozenset[str] = frozenset()
    processor: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    def topic_sizes(self) -> dict[str, int]:
        """Topics to create before the worker starts: name -> partitions."""
        n = self.settings.partitions
        names = self.settings.topic_names
        sizes = {
            names.events: n,
            names.due: n,
            names.warnings: n,
            names.breaches: n,
            names.outcomes: n,
            names.deadletter: n,
            names.acks: n,
        }
        sizes.update(self.extra_topics)
        sizes.update(dict.fromkeys(self.keyed_sources, n))
        return sizes


def faust_settings(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``faust.App`` (at-least-once; short timeouts on Tansu).

    Kafka security (SASL, TLS) comes in as ``broker_credentials``, see :mod:`streams.kafka_auth`.
    """
    conf: dict[str, Any] = {
        "broker": settings.broker,
        "store": settings.store,
        "datadir": str(settings.datadir),
        "topic_partitions": settings.partitions,
        "topic_replication_factor": settings.replication_factor,
        "table_standby_replicas": settings.standby_replicas,
        "processing_guarantee": "at_least_once",
        "consumer_auto_offset_reset": "earliest",
        # Lets aiokafka put more records (events, changelog, outcomes) in one produce
        # request; records, breaches included, wait up to 50 ms (bench/README.md).
        "producer_linger": PRODUCER_LINGER_S,
        "producer_max_batch_size": PRODUCER_MAX_BATCH_BYTES,
        "producer_acks": -1,
        "web_enabled": True,
        "web_bind": settings.web_host,
        "web_host": settings.web_host,
        "web_port": settings.web_port,
        "canonical_url": settings.advertised_url(),  # how the others reach it (streams/forward.py)
        "web_stats_enabled": False,
        "web_graph_enabled": False,
        "web_tables_enabled": False,
        "web_metrics_enabled": False,
        "autodiscover": False,
        "version": 1,
    }
    credentials = broker_credentials(settings)
    if credentials is not None:
        conf["broker_credentials"] = credentials
    if settings.tansu:
        conf.update(
            broker_session_timeout=6.0,
            broker_heartbeat_interval=1.0,
            broker_rebalance_timeout=6.0,
        )
    return conf


def build_engine(
    policy: PolicySpec, *, reevaluate: bool = False, retention: timedelta | None = None
) -> Any:
    """The clock engine for ``policy`` with its calendars.

    Args:
        policy: the policy new cycles are judged by.
        reevaluate: also re-judge running cycles started under another policy version
            (``SLAWATCH_REEVALUATE``, ``slawatch worker --reevaluate``; docs/design.md).
        retention: how long a case with no open clock is kept (``SLAWATCH_RETENTION``);
            the engine's default (7 days) when None.
    """
    from sla.engine import DEFAULT_RETENTION, Engine

    return Engine.for_policy(
        policy, reevaluate=reevaluate, retention=retention or DEFAULT_RETENTION
    )


def _load_policy(path: Path) -> PolicySpec:
    from sla.policy_file import load_policy

    return load_policy(path)


def _load_topics(path: Path) -> tuple[dict[str, Any], frozenset[str]]:
    """Source topic -> mapping, and the sources keyed by case id (read without a re-key hop)."""
    from sources.topics import load_topics

    config = load_topics(path)
    keyed = frozenset(topic.name for topic in config.topics if topic.keyed_by_case)
    return dict(config.mappings()), keyed


def create_app(
    settings: Settings,
    *,
    policy: PolicySpec | None = None,
    mappings: dict[str, Any] | None = None,
    keyed_sources: frozenset[str] = frozenset(),
    metrics: Metrics | None = None,
) -> Runtime:
    """Build the worker's app and register its agents, timer, hooks and web views.

    Args:
        settings: the validated settings.
        policy: the policy spec; read from ``settings.policies`` when None.
        mappings: source topic name -> mapping with ``decode(key, value)``; read from
            ``settings.topics`` when None.
        keyed_sources: with ``mappings``: the sources keyed by case id (``keyed_by_case``).
        metrics: the metrics holder; a fresh registry when None.
    """
    from streams import alerting, clocks, explain_view, ingest, skipped_acks, watchdog, web
    from streams.label_values import LabelValues, bound_metrics

    skipped_acks.install()  # a record skipped around a rebalance is never committed
    if settings.tansu:
        from streams import tansu

        tansu.install()
    policy = policy if policy is not None else _load_policy(settings.policies)
    if mappings is None:
        mappings, keyed_sources = _load_topics(settings.topics)
    app = faust.App(settings.app_id, **faust_settings(settings))
    runtime = Runtime(
        settings=settings,
        app=app,
        policy=policy,
        engine=build_engine(policy, reevaluate=settings.reevaluate, retention=settings.retention),
        mappings=mappings,
        metrics=metrics if metrics is not None else Metrics(),
        keyed_sources=keyed_sources,
    )
    runtime.metrics.build_info.labels(__version__, policy.version).set(1)
    runtime.metrics.prime(clock.id for clock in policy.clocks)
    bound_metrics(runtime.metrics, LabelValues.of(policy))  # unknown team/region/type: other
    names = settings.topic_names
    n = settings.partitions
    for role in ("warnings", "breaches", "outcomes", "deadletter"):
        runtime.topics[role] = app.topic(getattr(names, role), partitions=n, internal=False)
    runtime.topics["events"] = app.topic(names.events, partitions=n)
    runtime.topics["due"] = app.topic(names.due, partitions=n)
    intake = ingest.SourceIntake(runtime)
    ingest.register(runtime, intake)
    clocks.register(runtime, intake)
    if settings.shadow_policies is not None:
        from streams import shadow

        shadow.register(runtime, _load_policy(settings.shadow_policies))
        runtime.extra_topics[shadow.SHADOW_DUE_TOPIC] = n
        runtime.extra_topics[shadow.SHADOW_OUTCOMES_TOPIC] = n
    web.register(runtime)
    watchdog.register(runtime)  # stops the worker when the broker lost its topics
    explain_view.register(runtime)
    alerting.register(runtime)  # off unless an alerts file is found (streams/alerting.py)
    return runtime
