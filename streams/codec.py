"""Bytes on the wire: canonical JSON for events, records and commands (orjson).

All of slawatch's own topics carry raw bytes keyed by the raw ``case_id`` bytes, so the
events and due topics are co-partitioned by the same partitioner input.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import BaseModel

from sla.events import LifecycleEvent

__all__ = [
    "b64",
    "decode_due",
    "decode_event",
    "dumps",
    "encode_due",
    "encode_model",
    "key_bytes",
    "loads",
]


def dumps(value: Any) -> bytes:
    """Compact JSON; datetimes as ISO-8601 with offset."""
    return orjson.dumps(value)


def loads(data: bytes | str) -> Any:
    """Parse JSON."""
    return orjson.loads(data)


def encode_model(model: BaseModel) -> bytes:
    """A pydantic model (event or record) as JSON bytes."""
    return model.model_dump_json().encode()


def decode_event(data: bytes) -> LifecycleEvent:
    """A canonical event from ``slawatch.events``."""
    return LifecycleEvent.model_validate_json(data)


def encode_due(partition: int, case_ids: Sequence[str], due_at: datetime) -> bytes:
    """A timer command for every case of one partition due at or before ``due_at``.

    One command carries many case ids (a deadline storm is one record per partition, not one
    per case); it is sent to ``partition`` of ``slawatch.due``, where the cases' events are.
    """
    return orjson.dumps(
        {"p": partition, "cases": list(case_ids), "due_at": due_at.astimezone(UTC).isoformat()}
    )


def decode_due(data: bytes) -> list[str]:
    """The case ids of a timer command; ValueError when malformed.

    Also reads the one-case form ``{"case_id", "due_at"}`` that workers before the batched
    commands wrote, so a rolling upgrade loses no timer.
    """
    obj = orjson.loads(data)
    if isinstance(obj, dict):
        cases = obj.get("cases")
        if isinstance(cases, list) and all(isinstance(c, str) for c in cases):
            return cases
        if isinstance(obj.get("case_id"), str):
            return [obj["case_id"]]
    raise ValueError(f"timer command without case ids: {data[:80]!r}")


def key_bytes(case_id: str) -> bytes:
    """The message key of every slawatch topic keyed by case."""
    return case_id.encode()


def b64(data: bytes | None) -> str | None:
    """Base64 text of original bytes (for dead letters), or None."""
    return None if data is None else base64.b64encode(data).decode("ascii")
