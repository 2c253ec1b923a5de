"""Faust glue of the alerts: agents on warnings, breaches, outcomes and acks; the ack page.

The agents are thin: decode the records of a fetch and hand them, a chunk at a time, to
:class:`alerts.service.AlertService`, which writes to the Redis outbox and escalation timers
and returns. Delivery to channels runs in a
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
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TypeVar

import faust
import structlog
from faust.types import Message, StreamT
from faust.web import Request, Response
from pydantic import ValidationError
from redis.exceptions import RedisError

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
from alerts.config import AlertsSpec, load_alerts, policy_ids
from alerts.metrics import AlertMetrics
from alerts.runtime import AlertRuntime, until_redis_answers
from sla.policy import PolicySpec
from sla.timesource import SystemTime
from streams import batches
from streams.label_values import LabelValues, bound_metrics
from streams.metrics import Metrics
from streams.runtime import Runtime
from streams.settings import Settings
from streams.wire import WireTopic

__all__ = ["ALERTS_ENV", "alerts_path", "build", "register"]

log = structlog.get_logger("slawatch.alerts")

#: Path of the alerts file; ``off`` disables alerts.
ALERTS_ENV = "SLAWATCH_ALERTS"

#: How many records of a fetch the alerts take in one step (a round trip to Redis per step).
ALERT_CHUNK = 256

#: How long one step may wait for Redis in the fetch loop before its records go to the agent.
ALERT_STEP_TIMEOUT_S = 10.0

#: How long a stopping worker waits for the notification it is delivering, in seconds.
DRAIN_TIMEOUT_S = 10.0

R = TypeVar("R")


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


def build(
    settings: Settings,
    policy: PolicySpec,
    metrics: Metrics,
    *,
    spec: AlertsSpec | None = None,
    env: Mapping[str, str] | None = None,
) -> AlertRuntime | None:
    """The worker's alert runtime (Redis outbox, escalation, sinks), or None when alerts are off.

    Args:
        settings: the worker's settings (Redis, ack links, app id).
        policy: the live policy (its clocks and teams are checked against the alerts file).
        metrics: the worker's metrics (the alert counters join its registry).
        spec: the alerts configuration; read from :func:`alerts_path` when None.
        env: environment for ``${VAR}`` references and ``SLAWATCH_ACK_SECRET``; ``os.environ``.
    """
    import redis.asyncio as aioredis

    env = os.environ if env is None else env
    if spec is None:
        path = alerts_path(Path(settings.policies), env)
        if path is None:
            log.warning("alerts_disabled", reason="no alerts file beside the policy file")
            return None
        spec = load_alerts(path, *policy_ids(policy))
    ack_base_url = (
        spec.ack.base_url
        or settings.ack_base_url
        or f"http://{settings.web_host}:{settings.web_port}"
    )
    if AckSigner.from_env(env) is not None:
        check_base_url(ack_base_url, allow_loopback=settings.allow_loopback_ack_links)
    redis = aioredis.Redis.from_url(settings.redis_url, decode_responses=True)
    alert_metrics = AlertMetrics(metrics.registry)
    bound_metrics(alert_metrics, LabelValues.of(policy))  # a breach's team may be any value
    return AlertRuntime.build(
        spec,
        redis,
        env,
        SystemTime(),
        prefix=settings.app_id,
        metrics=alert_metrics,
        ack_base_url=ack_base_url,
        clock_names={c.id: c.name for c in policy.clocks},
    )


def _alert_agent(
    app: faust.App,
    topic: WireTopic[R],
    name: str,
    handle: Callable[[Sequence[R]], Awaitable[object]],
) -> None:
    """An agent that hands the records of ``topic`` to ``handle``, waiting for Redis.

    In a running worker the records come a fetch at a time (:func:`record_batches`), and only
    those a fetch could not hand over (Redis did not answer) reach the stream agent, which
    waits for Redis one record at a time; the agent also declares the topic to Faust and takes
    the records where Faust delivers to it (its agent test context).
    """

    async def agent(stream: StreamT[bytes]) -> None:
        value: bytes
        async for value in stream:
            record = _decoded(topic, value)
            if record is not None:
                await until_redis_answers(partial(handle, [record]))

    app.agent(topic.topic, name=name)(agent)
    interrupted = partial(_flow_stopped, app)
    batches.route(app, [topic.name], record_batches(topic, handle, interrupted), rest_to_agent=True)


def record_batches(
    topic: WireTopic[R],
    handle: Callable[[Sequence[R]], Awaitable[object]],
    interrupted: Callable[[], bool],
    step_timeout: float = ALERT_STEP_TIMEOUT_S,
) -> batches.BatchHandler:
    """A fetch of one partition of ``topic`` handed to ``handle`` :data:`ALERT_CHUNK` at a time.

    Without Faust's delivery of each message (:mod:`streams.batches`), and with one Redis
    round trip per step for a chunk of records instead of one per record: in a deadline storm
    the alerts keep up with the breaches (bench/README.md, 2026-12-07). Records that do not
    decode are logged and passed over. Returns how many messages were handled: all, unless a
    rebalance began (the rest is read again by the partition's next owner) or Redis did not
    answer within ``step_timeout`` seconds (a Redis that accepts connections and never
    answers must not hold the fetch loop either). Then the rest goes on to the stream agent,
    which waits for Redis while Faust's flow control pauses only the alert partitions: this
    handler runs in the fetch loop, where waiting would hold up the clocks as well. A step cut
    short is done again in full by the agent; every write of it is idempotent.
    """

    async def take(messages: Sequence[Message]) -> int:
        done = 0
        while done < len(messages) and not interrupted():
            chunk = messages[done : done + ALERT_CHUNK]
            records = [r for r in (_decoded(topic, m.value) for m in chunk) if r is not None]
            try:
                await asyncio.wait_for(handle(records), step_timeout)
            except (RedisError, OSError, TimeoutError) as exc:
                log.warning(
                    "alert_redis_unavailable",
                    error=type(exc).__name__,
                    waiting=len(messages) - done,
                )
                break
            done += len(chunk)
        return done

    return take


def _decoded(topic: WireTopic[R], value: bytes | None) -> R | None:
    """The record ``value`` holds, or None (logged) when it is not one."""
    try:
        return topic.decode(value if value is not None else b"")
    except (ValidationError, ValueError) as exc:
        errors = exc.error_count() if isinstance(exc, ValidationError) else 1
        log.error("alert_record_invalid", topic=topic.name, errors=errors)
        return None


def _flow_stopped(app: faust.App) -> bool:
    """Whether a rebalance has begun (the flow of messages is suspended)."""
    return not app.flow_control.is_active()


def register(rt: Runtime, env: Mapping[str, str] | None = None) -> None:
    """Add the alert agents, the delivery task and the ack page to the worker's app.

    Does nothing when alerts are off (``rt.alerts`` is None).

    Args:
        rt: the worker runtime.
        env: environment for ``SLAWATCH_ACK_SECRET``; ``os.environ``.
    """
    runtime = rt.alerts
    if runtime is None:
        return
    env = os.environ if env is None else env
    app = rt.app
    service = runtime.service
    topics = rt.topics
    _alert_agent(app, topics.warnings, "slawatch.alerts.warnings", service.on_warnings)
    _alert_agent(app, topics.breaches, "slawatch.alerts.breaches", service.on_breaches)
    _alert_agent(app, topics.outcomes, "slawatch.alerts.outcomes", service.on_outcomes)
    _alert_agent(app, topics.acks, "slawatch.alerts.acks", service.on_acks)
    stop, finished = asyncio.Event(), asyncio.Event()

    async def alert_delivery() -> None:
        try:
            await runtime.run(stop)
        finally:
            await runtime.close()
            finished.set()

    app.task(alert_delivery)

    async def finish_deliveries(sender: faust.App, **kwargs: object) -> None:
        """On SIGTERM, let the delivery in flight end before the task is cancelled: a webhook
        call cut off mid-way is sent again by the next owner of its lease (a repeat)."""
        stop.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(finished.wait(), timeout=DRAIN_TIMEOUT_S)

    app.on_before_shutdown.connect(finish_deliveries)  # type: ignore[arg-type]  # mode signal
    _ack_page(app, topics.acks, AckSigner.from_env(env))


def _ack_page(app: faust.App, acks: WireTopic[AckRecord], signer: AckSigner | None) -> None:
    """``/ack``: confirm (GET) and record (POST) an acknowledgement from an alert's link."""

    class AckView(faust.web.View):
        """Acknowledge a breach from the link in an alert (alerts/ack_page.py)."""

        def _answer(self, text: str, status: int) -> Response:
            return self.html(message_page(text), status=status, headers=dict(PAGE_HEADERS))

        async def get(self, request: Request) -> Response:
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

        async def post(self, request: Request) -> Response:
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
            await acks.send(record, key=record.case_id)
            log.info(
                "ack_received", breach_id=record.breach_id, ack_level=record.level, by=record.by
            )
            done = record.breach_id
            return self._answer(
                f"已确认 {done}，升级停止。谢谢！ Acknowledged {done}. Escalation stops. Thanks.",
                200,
            )

    app.page("/ack", name="slawatch_ack")(AckView)
