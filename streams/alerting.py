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
import contextlib
import os
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import faust
import structlog
from pydantic import BaseModel, ValidationError

from alerts.ack import AckError, AckRecord, AckSigner, check_base_url
from alerts.ack_page import (
    CSRF_COOKIE,
    CSRF_FIELD,
    PAGE_HEADERS,
    confirm_page,
    message_page,
    nonce_cookie,
    nonce_from,
)
from alerts.config import AlertsSpec, load_alerts
from alerts.runtime import AlertRuntime, until_redis_answers
from sla.records import BreachRecord, OutcomeRecord, WarningRecord
from sla.timesource import SystemTime

if TYPE_CHECKING:
    from streams.app import Runtime

__all__ = ["ALERTS_ENV", "alerts_path", "register"]

log = structlog.get_logger("slawatch.alerts")

#: Path of the alerts file; ``off`` disables alerts.
ALERTS_ENV = "SLAWATCH_ALERTS"

#: How long a stopping worker waits for the notification it is delivering, in seconds.
DRAIN_TIMEOUT_S = 10.0

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
    ack_base_url = (
        spec.ack.base_url
        or settings.ack_base_url
        or f"http://{settings.web_host}:{settings.web_port}"
    )
    if AckSigner.from_env(env) is not None:
        check_base_url(ack_base_url, allow_loopback=settings.allow_loopback_ack_links)
    redis = aioredis.Redis.from_url(settings.redis_url, decode_responses=True)
    runtime = AlertRuntime.build(
        spec,
        redis,
        env,
        SystemTime(),
        prefix=settings.app_id,
        registry=rt.metrics.registry,
        ack_base_url=ack_base_url,
        clock_names={c.id: c.name for c in rt.policy.clocks},
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

    stop, finished = asyncio.Event(), asyncio.Event()

    @app.task
    async def alert_delivery() -> None:
        try:
            await runtime.run(stop)
        finally:
            await runtime.close()
            finished.set()

    @app.on_before_shutdown.connect  # type: ignore[misc]
    async def finish_deliveries(app_: Any, **kwargs: Any) -> None:
        """On SIGTERM, let the delivery in flight end before the task is cancelled: a webhook
        call cut off mid-way is sent again by the next owner of its lease (a repeat)."""
        stop.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(finished.wait(), timeout=DRAIN_TIMEOUT_S)

    signer = AckSigner.from_env(env)

    @app.page("/ack", name="slawatch_ack")
    class AckView(faust.web.View):
        """Acknowledge a breach from the link in an alert (alerts/ack_page.py)."""

        def _answer(self, text: str, status: int) -> Any:
            return self.html(message_page(text), status=status, headers=dict(PAGE_HEADERS))

        async def get(self, request: Any) -> Any:
            if signer is None:
                return self._answer("Acknowledgement links are not enabled.", 404)
            query = {str(k): str(v) for k, v in request.query.items()}
            try:
                ack = signer.verify(query)
            except AckError as exc:
                return self._answer(str(exc), 403)
            nonce = nonce_from(request.cookies.get(CSRF_COOKIE))
            page = confirm_page(query, ack, signer.csrf_token(nonce, query["sig"]))
            headers = {**PAGE_HEADERS, "Set-Cookie": nonce_cookie(nonce)}
            return self.html(page, headers=headers)

        async def post(self, request: Any) -> Any:
            if signer is None:
                return self._answer("Acknowledgement links are not enabled.", 404)
            try:
                form = {str(k): str(v) for k, v in (await request.post()).items()}
                ack = signer.verify(form)
                signer.check_csrf(
                    request.cookies.get(CSRF_COOKIE), form["sig"], form.get(CSRF_FIELD)
                )
            except AckError as exc:
                return self._answer(str(exc), 403)
            except ValueError:  # a form that does not parse (bad encoding, bad multipart)
                return self._answer("the confirmation form does not read; open the link again", 400)
            record = ack.record(SystemTime().now())
            await acks.send(key=record.case_id.encode(), value=record.model_dump_json().encode())
            log.info(
                "ack_received", breach_id=record.breach_id, ack_level=record.level, by=record.by
            )
            done = record.breach_id
            return self._answer(
                f"已确认 {done}，升级停止。谢谢！ Acknowledged {done}. Escalation stops. Thanks.",
                200,
            )

    return runtime
