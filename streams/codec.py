"""Bytes on the wire: canonical JSON for events, records and commands (orjson).

All of slawatch's own topics carry raw bytes keyed by the raw ``case_id`` bytes, so the
events and due topics are co-partitioned by the same partitioner input.
"""

from __future__ import annotations

import base64
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


def encode_due(case_id: str, due_at: datetime) -> bytes:
    """A timer command: ``{"case_id", "due_at"}``."""
    return orjson.dumps({"case_id": case_id, "due_at": due_at.astimezone(UTC).isoformat()})


def decode_due(data: bytes) -> tuple[str, datetime]:
    """``(case_id, due_at)`` of a timer command; ValueError when malformed."""
    obj = orjson.loads(data)
    if not isinstance(obj, dict) or not isinstance(obj.get("case_id"), str):
        raise ValueError(f"timer command without a case_id: {data[:80]!r}")
    due_at = datetime.fromisoformat(str(obj["due_at"]))
    if due_at.tzinfo is None:
        raise ValueError(f"timer command due_at has no offset: {obj['due_at']!r}")
    return obj["case_id"], due_at


def key_bytes(case_id: str) -> bytes:
    """The message key of every slawatch topic keyed by case."""
    return case_id.encode()


def b64(data: bytes | None) -> str | None:
    """Base64 text of original bytes (for dead letters), or None."""
    return None if data is None else base64.b64encode(data).decode("ascii")
