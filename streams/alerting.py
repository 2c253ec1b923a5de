"""Faust glue of the alerts: agents on warnings, breaches, outcomes and acks; the ack page.

The agents are thin: decode the record, hand it to :class:`alerts.service.AlertService`, which
writes to the Redis outbox and escalation timers and returns. Delivery to channels runs in a
background task (:meth:`alerts.runtime.AlertRuntime.run`), never in an agent, so a slow or
broken channel cannot hold up a topic. When Redis is down an alert agent waits (retrying) before
acknowledging its record, so nothing is lost; only the alert agents' own partitions are paused
by Faust's flow control, the clock agents keep running.

Escalation timers live in a Redis sorted set rather than a Faust table: see
:mod:`alerts.timers` for why.

The ack page: ``GET /ack?b=..&level=..&r=..&sig=..`` (the link in each alert) verifies the
signature and shows a confirmation button; ``POST /ack`` writes the ack event to
``slawatch.acks``, keyed by case id. Acknowledging on POST only means a chat tool that previews
the link does not acknowledge the breach by itself.
"""

from __future__ import annotations

import asyncio
import html
import os
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import faust
import structlog
from pydantic import BaseModel, ValidationError

from alerts.ack import AckError, AckRecord, AckSigner
from alerts.config import AlertsSpec, load_alerts
from alerts.runtime import AlertRuntime, until_redis_answers
from sla.records import BreachRecord, OutcomeRecord, WarningRecord
from sla.timesource import SystemClock

if TYPE_CHECKING:
    from streams.app import Runtime

__all__ = ["ALERTS_ENV", "alerts_path", "register"]

log = structlog.get_logger("slawatch.alerts")

#: Path of the alerts file; ``off`` disables alerts.
ALERTS_ENV = "SLAWATCH_ALERTS"

Model = TypeVar("Model", bound=BaseModel)


def alerts_path(policies: Path, env: Mapping[str, str]) -> Path | None:
    """Where the alerts file is: ``SLAWATCH_ALERTS``, else beside the policy file.

    Beside ``x/demo-policies.yaml`` it looks for ``x/demo-alerts.yaml`` and then
    ``x/alerts.yaml``; None when there is none (alerts are off) or ``SLAWATCH_ALERTS=off``.
    """
    given = env.get(ALERTS_ENV, "").strip()
    if given.lower() in ("off", "none", "false", "0"):
        return None
    if given:
        return Path(given)
    candidates = []
    if policies.stem.endswith("policies") and policies.stem != "policies":
        candidates.append(
            policies.with_name(policies.stem.removesuffix("policies") + "alerts.yaml")
        )
    candidates.append(policies.with_name("alerts.yaml"))
    return next((c for c in candidates if c.exists()), None)


def _decode(model: type[Model], value: Any) -> Model | None:
    try:
        if isinstance(value, bytes | str):
            return model.model_validate_json(value)
        return model.model_validate(value)
    except ValidationError as exc:
        log.error("alert_record_invalid", model=model.__name__, errors=exc.error_count())
        return None


def _confirm_page(query: Mapping[str, str], breach_id: str, level: int) -> str:
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(query[k], quote=True)}">'
        for k in ("b", "level", "r", "exp", "sig")
        if k in query
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Acknowledge breach</title></head>"
        f"<body><p>Acknowledge breach <strong>{html.escape(breach_id)}</strong> (level {level})? "
        "Escalation of this breach stops.</p>"
        f'<form method="post" action="/ack">{hidden}<button type="submit">Acknowledge</button>'
        "</form></body></html>"
    )


def register(
    rt: Runtime, *, spec: AlertsSpec | None = None, env: Mapping[str, str] | None = None
) -> AlertRuntime | None:
    """Add the alert agents, the delivery task and the ack page to the worker's app.

    Args:
        rt: the worker runtime (app, settings, policy, metrics).
        spec: the alerts configuration; read from :func:`alerts_path` when None.
        env: environment for ``${VAR}`` references and ``SLAWATCH_ACK_SECRET``; ``os.environ``.

    Returns:
        The alert runtime (also in ``rt.extra["alerts"]``), or None when alerts are off.
    """
    import redis.asyncio as aioredis

    env = os.environ if env is None else env
    settings = rt.settings
    if spec is None:
        path = alerts_path(Path(settings.policies), env)
        if path is None:
            log.warning("alerts_disabled", reason="no alerts file beside the policy file")
            return None
        spec = load_alerts(path, {c.id for c in rt.policy.clocks}, set(rt.policy.teams))
    app = rt.app
    redis = aioredis.Redis.from_url(settings.redis_url, decode_responses=True)
    runtime = AlertRuntime.build(
        spec,
        redis,
        env,
        SystemClock(),
        prefix=settings.app_id,
        registry=rt.metrics.registry,
        ack_base_url=f"http://{settings.web_host}:{settings.web_port}",
    )
    rt.extra["alerts"] = runtime
    service = runtime.service
    names = settings.topic_names
    partitions = settings.partitions

    def source(name: str) -> Any:
        return app.topic(name, partitions=partitions, value_serializer="raw", key_serializer="raw")

    acks = source(names.acks)
    rt.extra["acks_topic"] = acks

    @app.agent(source(names.warnings), name="slawatch.alerts.warnings")
    async def alert_warnings(stream: Any) -> None:
        async for value in stream:
            record = _decode(WarningRecord, value)
            if record is not None:
                await until_redis_answers(partial(service.on_warning, record))

    @app.agent(source(names.breaches), name="slawatch.alerts.breaches")
    async def alert_breaches(stream: Any) -> None:
        async for value in stream:
            record = _decode(BreachRecord, value)
            if record is not None:
                await until_redis_answers(partial(service.on_breach, record))

    @app.agent(source(names.outcomes), name="slawatch.alerts.outcomes")
    async def alert_outcomes(stream: Any) -> None:
        async for value in stream:
            record = _decode(OutcomeRecord, value)
            if record is not None:
                await until_redis_answers(partial(service.on_outcome, record))

    @app.agent(acks, name="slawatch.alerts.acks")
    async def alert_acks(stream: Any) -> None:
        async for value in stream:
            record = _decode(AckRecord, value)
            if record is not None:
                await until_redis_answers(partial(service.on_ack, record))

    @app.task
    async def alert_delivery() -> None:
        stop = asyncio.Event()
        rt.extra["alerts_stop"] = stop
        try:
            await runtime.run(stop)
        finally:
            await runtime.close()

    signer = AckSigner.from_env(env)

    @app.page("/ack", name="slawatch_ack")
    class AckView(faust.web.View):
        """Acknowledge a breach from the link in an alert."""

        def _verify(self, query: Mapping[str, str]) -> Any:
            if signer is None:
                return None, self.html("<p>Acknowledgement links are not enabled.</p>", status=404)
            try:
                return signer.verify(query), None
            except AckError as exc:
                return None, self.html(f"<p>{html.escape(str(exc))}</p>", status=403)

        async def get(self, request: Any) -> Any:
            query = dict(request.query)
            ack, refused = self._verify(query)
            if refused is not None:
                return refused
            return self.html(_confirm_page(query, ack.breach_id, ack.level))

        async def post(self, request: Any) -> Any:
            form = dict(await request.post()) or dict(request.query)
            ack, refused = self._verify({k: str(v) for k, v in form.items()})
            if refused is not None:
                return refused
            record = ack.record(SystemClock().now())
            await acks.send(key=record.case_id.encode(), value=record.model_dump_json().encode())
            log.info("ack_received", breach_id=record.breach_id, level=record.level, by=record.by)
            return self.html(
                f"<p>Acknowledged {html.escape(record.breach_id)}. Escalation stops. Thank you.</p>"
            )

    return runtime
