"""Run one slawatch stream worker: settings → logging → topics → Faust worker, until a signal.

The worker serves ``/metrics``, ``/health`` and ``/ready`` on ``SLAWATCH_WEB_HOST:PORT``. It
stops cleanly on SIGINT or SIGTERM (leaves the consumer group, flushes the producer). A bad
setting, policy or topics file stops it before it connects, with a message that says what to
fix.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import structlog

from slawatch.allocator import fix_mmap_threshold
from slawatch.collector import GcModeError, tune_gc
from slawatch.logs import configure_logging, logging_dict_config
from streams.settings import Settings, SettingsError

if TYPE_CHECKING:
    from streams.runtime import Runtime

__all__ = ["EVENT_LOOP_ENV", "StartupError", "event_loop", "prepare", "run_worker"]

#: ``asyncio`` (the default) or ``uvloop`` (``pip install uvloop``).
EVENT_LOOP_ENV = "SLAWATCH_EVENT_LOOP"

log = structlog.get_logger("slawatch.worker")


class StartupError(RuntimeError):
    """The worker cannot start; the message says why and what to change."""


def event_loop(environ: Mapping[str, str]) -> str:
    """The event loop the worker runs on: ``SLAWATCH_EVENT_LOOP``, by default ``asyncio``.

    ``uvloop`` is an opt-in: the Faust notes measured +15-25 % with it, but on the shared
    2-CPU development machine, with Tansu on the same CPUs, it made no difference that the
    benchmark could see (bench/README.md); measure it on the production broker first.

    Raises:
        StartupError: an unknown name, or ``uvloop`` asked for but not installed.
    """
    name = environ.get(EVENT_LOOP_ENV, "").strip().lower() or "asyncio"
    if name not in ("uvloop", "asyncio"):
        raise StartupError(f"{EVENT_LOOP_ENV}={name!r} is not 'uvloop' or 'asyncio'")
    if name == "uvloop" and importlib.util.find_spec("uvloop") is None:
        raise StartupError(
            f"{EVENT_LOOP_ENV}=uvloop but uvloop is not installed: pip install uvloop"
        )
    return name


def _use_event_loop(name: str) -> None:
    """Make new event loops of this process ``name`` loops (before the app exists)."""
    if name == "uvloop":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def prepare(settings: Settings) -> Runtime:
    """Build the app and create its topics; returns the worker's :class:`Runtime`."""
    from sla.config_file import ConfigError
    from streams.admin import TopicMismatch, ensure_topics, partition_counts
    from streams.app import create_app
    from streams.kafka_auth import client_security

    if settings.store.startswith("rocksdb"):
        import importlib.util

        if not any(importlib.util.find_spec(m) for m in ("rocksdict", "rocksdb")):
            raise StartupError(
                f"SLAWATCH_STORE={settings.store} needs rocksdict: pip install 'slawatch[rocksdb]'"
            )
    try:
        runtime = create_app(settings)
    except ConfigError as exc:
        raise StartupError(str(exc)) from exc
    except (OSError, ValueError) as exc:
        raise StartupError(f"cannot load the configuration: {exc}") from exc
    sizes = runtime.topic_sizes()
    security = client_security(settings)
    try:
        if settings.tansu:
            # Development broker: create missing source topics too, so a worker may start
            # before the first producer.
            existing = partition_counts(
                settings.bootstrap, sorted(runtime.mappings), security=security
            )
            for name in runtime.mappings:
                sizes.setdefault(name, existing.get(name, settings.partitions))
        _check_keyed_sources(runtime, security)
        ensure_topics(
            settings.bootstrap,
            sizes,
            strict=True,
            replication_factor=settings.replication_factor,
            security=security,
        )
    except (ConnectionError, TopicMismatch) as exc:
        raise StartupError(str(exc)) from exc
    return runtime


def _check_keyed_sources(runtime: Runtime, security: Mapping[str, Any]) -> None:
    """Refuse a ``keyed_by_case`` source whose partition count differs from the events topic's.

    The clock agent reads such a source as if it were ``slawatch.events``: partition p of both
    must hold the same cases, which needs the same count (and keys that are the case id).
    """
    from streams.admin import partition_counts

    settings = runtime.settings
    keyed = sorted(runtime.keyed_sources)
    if not keyed:
        return
    counts = partition_counts(settings.bootstrap, keyed, security=security)
    wrong = {name: count for name, count in counts.items() if count != settings.partitions}
    if wrong:
        listed = ", ".join(f"{name} has {count}" for name, count in sorted(wrong.items()))
        raise StartupError(
            f"topics declared keyed_by_case must have SLAWATCH_PARTITIONS="
            f"{settings.partitions} partitions, like slawatch.events, but {listed}; remove "
            "keyed_by_case from those topics in the topics file (their events are then "
            "re-keyed), or give them the same partition count"
        )


def run_worker(
    environ: Mapping[str, str] | None = None,
    *,
    loglevel: str | None = None,
    reevaluate: bool = False,
) -> int:
    """Run the worker in this process until it is stopped; returns the exit code.

    Args:
        environ: where to read ``SLAWATCH_*`` from; the process environment when None.
        loglevel: overrides ``SLAWATCH_LOG_LEVEL``.
        reevaluate: re-judge running cycles of older policy versions (as
            ``SLAWATCH_REEVALUATE=1``); False leaves the setting as it is.
    """
    try:
        settings = Settings.from_env(environ)
    except SettingsError as exc:
        print(f"slawatch worker: {exc}", file=sys.stderr)
        return 2
    if loglevel is not None:
        settings = settings.model_copy(update={"log_level": loglevel.lower()})
    if reevaluate:
        settings = settings.model_copy(update={"reevaluate": True})
    configure_logging(settings.log_format, settings.log_level)
    try:
        loop_name = event_loop(os.environ if environ is None else environ)
        _use_event_loop(loop_name)
        runtime = prepare(settings)
        gc_mode = tune_gc(os.environ if environ is None else environ)
        mmap_threshold = fix_mmap_threshold(os.environ if environ is None else environ)
    except (StartupError, GcModeError) as exc:
        log.error("startup_failed", error=str(exc))
        print(f"slawatch worker: {exc}", file=sys.stderr)
        return 2
    import faust

    log.info(
        "worker_starting",
        app_id=settings.app_id,
        broker=settings.broker,
        store=settings.store,
        partitions=settings.partitions,
        sources=sorted(runtime.mappings),
        policy_version=runtime.policy.version,
        reevaluate=settings.reevaluate,
        kafka_security=settings.kafka_security_protocol,
        web=f"http://{settings.web_host}:{settings.web_port}",
        tansu=settings.tansu,
        event_loop=loop_name,
        gc=gc_mode,
        mmap_threshold=mmap_threshold,
    )
    worker = faust.Worker(
        runtime.app,
        loglevel=settings.log_level,
        logging_config=logging_dict_config(settings.log_format, settings.log_level),
        quiet=True,
        redirect_stdouts=False,
    )
    # Faust's terminal spinner sets the root logger to DEBUG (every message sent would build
    # a log record) and writes escape codes; a worker logs structured lines instead.
    worker.spinner = None
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        return int(exc.code or 0) if isinstance(exc.code, int | None) else 1
    return 0
