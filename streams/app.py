"""Build the Faust app of one slawatch worker from :class:`~streams.settings.Settings`.

One function, :func:`create_app`, builds the worker's :class:`~streams.runtime.Runtime` once
(policy, engine, topics with their codecs, the ``cases`` table, alerts) and hands it to each
part's ``register``: the ingest agent (source topics → ``slawatch.events``/``sla.deadletter``),
the clock agent on ``slawatch.events`` + ``slawatch.due`` with the deadline index and its due
timer, the shadow policy, the alert agents, the watchdog and the web views. This module imports
the parts only to register them; they import :mod:`streams.runtime`, never this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import faust

from sla.calendar import build_calendars
from sla.policy import PolicySpec
from streams import (
    alerting,
    clocks,
    deliveries,
    explain_view,
    ingest,
    reread,
    skipped_acks,
    watchdog,
    web,
)
from streams.kafka_auth import broker_credentials
from streams.label_values import LabelValues, bound_metrics
from streams.metrics import Metrics
from streams.runtime import (
    CASES_TABLE,
    Runtime,
    SourceMapping,
    build_engine,
    cases_table,
)
from streams.settings import Settings
from streams.version import __version__
from streams.wire import declare_topics

__all__ = [
    "CASES_TABLE",
    "PRODUCER_LINGER_S",
    "PRODUCER_MAX_BATCH_BYTES",
    "Runtime",
    "build_engine",
    "create_app",
    "faust_settings",
]

#: How long records wait to share a produce request, in seconds (bench/README.md).
PRODUCER_LINGER_S = 0.05

#: The largest record batch per partition. aiokafka's default (16 KiB) holds about ten case
#: states: a full batch makes every further send to that partition wait for a broker round
#: trip, which left the worker idle a fifth of the time (bench/README.md). Half the broker's
#: default ``message.max.bytes`` (1 MiB), so a batch is never refused for its size.
PRODUCER_MAX_BATCH_BYTES = 512 * 1024


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


def _load_policy(path: Path) -> PolicySpec:
    from sla.policy_file import load_policy

    return load_policy(path)


def _load_topics(path: Path) -> tuple[dict[str, SourceMapping], frozenset[str]]:
    """Source topic -> mapping, and the sources keyed by case id (read without a re-key hop)."""
    from sources.topics import load_topics

    config = load_topics(path)
    keyed = frozenset(topic.name for topic in config.topics if topic.keyed_by_case)
    return dict(config.mappings()), keyed


def create_app(
    settings: Settings,
    *,
    policy: PolicySpec | None = None,
    mappings: Mapping[str, SourceMapping] | None = None,
    keyed_sources: frozenset[str] = frozenset(),
    metrics: Metrics | None = None,
) -> Runtime:
    """Build the worker's app and runtime, and register its agents, timers, hooks and views.

    Args:
        settings: the validated settings.
        policy: the policy spec; read from ``settings.policies`` when None.
        mappings: source topic name -> mapping with ``decode(key, value)``; read from
            ``settings.topics`` when None.
        keyed_sources: with ``mappings``: the sources keyed by case id (``keyed_by_case``).
        metrics: the metrics holder; a fresh registry when None.
    """
    skipped_acks.install()  # a record skipped around a rebalance is never committed
    deliveries.install()  # nor is one whose record the broker refused: the worker stops
    from streams import batches, fetch_buffers, rewind

    rewind.install()  # nor are records dropped in a rebalance of a partition never committed
    batches.install()  # the clock channels are taken a fetch at a time (routes in clocks.py)
    fetch_buffers.install()  # records a rebalance drops are freed at once (no cycle)
    if settings.tansu:
        from streams import tansu

        tansu.install()
    policy = policy if policy is not None else _load_policy(settings.policies)
    if mappings is None:
        mappings, keyed_sources = _load_topics(settings.topics)
    metrics = metrics if metrics is not None else Metrics()
    metrics.build_info.labels(__version__, policy.version).set(1)
    metrics.prime(clock.id for clock in policy.clocks)
    bound_metrics(metrics, LabelValues.of(policy))  # unknown team/region/type: other
    app = faust.App(settings.app_id, **faust_settings(settings))
    runtime = Runtime(
        settings=settings,
        app=app,
        policy=policy,
        engine=build_engine(policy, reevaluate=settings.reevaluate, retention=settings.retention),
        calendars=build_calendars(policy),  # the worklist's
        mappings=mappings,
        keyed_sources=keyed_sources,
        metrics=metrics,
        topics=declare_topics(app, settings),
        cases=cases_table(
            app, CASES_TABLE, settings.partitions, "case id -> {p, due, open, near, s: CaseState}"
        ),
        alerts=alerting.build(settings, policy, metrics),  # None unless an alerts file is found
    )
    intake = ingest.SourceIntake(runtime)
    ingest.register(runtime, intake)
    clocks.register(runtime, intake)
    if settings.shadow_policies is not None:
        from streams import shadow

        shadow.register(runtime, _load_policy(settings.shadow_policies))
    web.register(runtime)
    watchdog.register(runtime)  # stops the worker when the broker lost its topics
    reread.register(runtime)  # reads a partition again whose committed message was passed over
    explain_view.register(runtime)
    alerting.register(runtime)
    return runtime
