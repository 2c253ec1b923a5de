"""Fixtures for the alerts tests: a real Redis (db 11, a key prefix per test), a small config.

Tests are synchronous and run their scenario with :func:`run_with_redis`, which opens an
asyncio Redis client inside the scenario's event loop and deletes the test's keys afterwards.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from alerts.config import AlertsSpec
from sla.records import BreachRecord, OutcomeRecord, WarningRecord, breach_id, warning_id
from slawatch.testing import redis_url

T = TypeVar("T")

REDIS_URL = redis_url(11)
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday, 18:00 in Shanghai

BASE_CONFIG: dict[str, Any] = {
    "version": "test",
    "locale": "en",  # the tests read English lines; tests/alerts/test_message.py covers zh-CN
    "lease": "1s",
    "channels": {"console": {"type": "console", "retries": 2, "backoff": "1s"}},
    "recipients": {
        "agent-1": {"channels": ["console"]},
        "agent-2": {"channels": ["console"]},
        "sup-1": {"role": "supervisor", "channels": ["console"]},
        "head-1": {"role": "department_head", "channels": ["console"]},
    },
    "teams": {
        "cs-frontline": {
            "members": ["agent-1", "agent-2"],
            "supervisor": "sup-1",
            "department_head": "head-1",
            "roster": {
                "timezone": "UTC",
                "hours": "00:00-24:00",
                "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
            },
        }
    },
    "routes": [{"to": ["assignee"]}],
    "escalation": {
        "default": [
            {"after": "30s", "to": ["supervisor"]},
            {"after": "60s", "to": ["department_head"]},
        ]
    },
}


def make_spec(**changes: Any) -> AlertsSpec:
    """The base test configuration with top-level keys replaced."""
    data = {**BASE_CONFIG, **changes}
    return AlertsSpec.model_validate(data)


def write_config(tmp_path: Path, data: dict[str, Any], name: str = "alerts.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def ref(**kw: Any) -> dict[str, Any]:
    base = {
        "case_id": "C-1",
        "case_kind": "complaint",
        "clock": "complaint_first_response",
        "cycle": 1,
        "policy_version": "test",
        "standard": "basic",
        "target": 0.95,
        "team": "cs-frontline",
        "region": "sh",
        "department": None,
        "assignee": "agent-1",
    }
    base.update(kw)
    return base


def breach(at: datetime = T0, **kw: Any) -> BreachRecord:
    r = ref(**kw)
    return BreachRecord(
        **r,
        breach_id=breach_id(r["case_id"], r["clock"], r["cycle"]),
        started_at=at - timedelta(hours=1),
        deadline=at,
        emitted_at=at,
    )


def warning(at: datetime = T0, threshold: float = 0.8, **kw: Any) -> WarningRecord:
    r = ref(**kw)
    return WarningRecord(
        **r,
        warning_id=warning_id(r["case_id"], r["clock"], r["cycle"], threshold),
        threshold=threshold,
        started_at=at - timedelta(hours=1),
        due_at=at,
        deadline=at + timedelta(hours=1),
        emitted_at=at,
    )


def outcome(at: datetime, outcome: str = "met", **kw: Any) -> OutcomeRecord:
    r = ref(**kw)
    return OutcomeRecord(
        **r,
        outcome_id=breach_id(r["case_id"], r["clock"], r["cycle"]),
        outcome=outcome,  # type: ignore[arg-type]
        started_at=at - timedelta(hours=1),
        deadline=at,
        ended_at=at,
        elapsed_seconds=3600.0,
        paused_seconds=0.0,
    )


async def _drop_prefix(redis: Any, prefix: str) -> None:
    async for key in redis.scan_iter(match=f"{prefix}:*", count=500):
        await redis.delete(key)


def run_with_redis(scenario: Callable[[Any, str], Awaitable[T]], url: str = REDIS_URL) -> T:
    """Run ``scenario(redis, prefix)`` in a fresh loop with a unique key prefix; clean up after."""
    import redis.asyncio as aioredis

    async def main() -> T:
        prefix = f"test-{uuid.uuid4().hex[:10]}"
        client = aioredis.Redis.from_url(url, decode_responses=True)
        try:
            return await scenario(client, prefix)
        finally:
            try:
                await _drop_prefix(client, prefix)
            finally:
                await client.aclose()

    return asyncio.run(main())


@pytest.fixture
def redis_available() -> Iterator[None]:
    """Skip nothing: the alerts integration tests need the real Redis (tests/conftest.py)."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.ping()
    yield
    client.close()
