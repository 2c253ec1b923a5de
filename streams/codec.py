"""Bytes on the wire: one codec per kind of value slawatch's own topics carry (orjson, pydantic).

All of slawatch's own topics carry raw bytes keyed by the raw ``case_id`` bytes, so the events
and due topics are co-partitioned by the same partitioner input. Each topic names its codec
once, where it is declared (:mod:`streams.wire`); producers and consumers both use it.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar

import orjson
from pydantic import BaseModel

from sla.events import LifecycleEvent

__all__ = [
    "DEAD_LETTERS",
    "DUE_COMMANDS",
    "EVENTS",
    "Codec",
    "DeadLetter",
    "DeadLetterCodec",
    "DueCodec",
    "DueCommand",
    "ModelCodec",
    "b64",
    "decode_due",
    "decode_event",
    "dumps",
    "encode_due",
    "encode_model",
    "key_bytes",
    "loads",
]

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


class Codec(Protocol[T]):
    """How one kind of value is written to and read from a topic."""

    def encode(self, value: T) -> bytes:
        """The bytes of ``value``."""
        ...

    def decode(self, data: bytes) -> T:
        """The value of ``data``; raises ValueError (pydantic's ValidationError is one)."""
        ...


def dumps(value: Any) -> bytes:
    """Compact JSON; datetimes as ISO-8601 with offset."""
    return orjson.dumps(value)


def loads(data: bytes | str) -> Any:
    """Parse JSON."""
    return orjson.loads(data)


def encode_model(model: BaseModel) -> bytes:
    """A pydantic model (event or record) as JSON bytes."""
    return model.model_dump_json().encode()


@dataclass(frozen=True)
class ModelCodec(Generic[M]):
    """A pydantic model as its JSON (events, warning/breach/outcome records, acks).

    Example:
        >>> codec = ModelCodec(LifecycleEvent)
        >>> codec.model.__name__
        'LifecycleEvent'
    """

    model: type[M]

    def encode(self, value: M) -> bytes:
        """The model's JSON bytes."""
        return encode_model(value)

    def decode(self, data: bytes) -> M:
        """The model read from JSON bytes; ValidationError (a ValueError) when it does not fit."""
        return self.model.model_validate_json(data)


def decode_event(data: bytes) -> LifecycleEvent:
    """A canonical event from ``slawatch.events``."""
    return EVENTS.decode(data)


@dataclass(frozen=True)
class DueCommand:
    """A timer command: the cases of one partition due at or before ``due_at``.

    ``partition`` and ``due_at`` are None only in the one-case form of earlier versions
    that had no partition.
    """

    case_ids: list[str]
    partition: int | None = None
    due_at: datetime | None = None


class DueCodec:
    """Timer commands on ``slawatch.due``: ``{"p", "cases", "due_at"}``.

    One command carries many case ids (a deadline storm is one record per partition, not one
    per case); it is sent to ``partition`` of ``slawatch.due``, where the cases' events are.
    Decoding also reads the one-case form ``{"case_id", "due_at"}`` that workers before the
    batched commands wrote, so a rolling upgrade loses no timer.

    Example:
        >>> codec = DueCodec()
        >>> at = datetime(2026, 1, 1, tzinfo=UTC)
        >>> codec.decode(codec.encode(DueCommand(["C-1"], 0, at))) == DueCommand(["C-1"], 0, at)
        True
    """

    def encode(self, value: DueCommand) -> bytes:
        """The command's JSON bytes."""
        due_at = None if value.due_at is None else value.due_at.astimezone(UTC).isoformat()
        return orjson.dumps({"p": value.partition, "cases": list(value.case_ids), "due_at": due_at})

    def decode(self, data: bytes) -> DueCommand:
        """The command in ``data``; ValueError when it names no case."""
        obj = orjson.loads(data)
        if isinstance(obj, dict):
            cases = obj.get("cases")
            if not (isinstance(cases, list) and all(isinstance(c, str) for c in cases)):
                single = obj.get("case_id")
                cases = [single] if isinstance(single, str) else None
            if cases is not None:
                partition = obj.get("p")
                due_at = obj.get("due_at")
                return DueCommand(
                    cases,
                    partition if isinstance(partition, int) else None,
                    datetime.fromisoformat(due_at) if isinstance(due_at, str) else None,
                )
        raise ValueError(f"timer command without case ids: {data[:80]!r}")


@dataclass(frozen=True)
class DeadLetter:
    """A message that could not be processed, with where it came from and its original bytes."""

    reason: str
    detail: str
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    at: datetime


class DeadLetterCodec:
    """Dead letters on ``sla.deadletter``: ``{"reason", "detail", "topic", "partition",
    "offset", "key_b64", "value_b64", "at"}`` (docs/design.md)."""

    def encode(self, value: DeadLetter) -> bytes:
        """The dead letter's JSON bytes, the original key and value in base64."""
        return dumps(
            {
                "reason": value.reason,
                "detail": value.detail,
                "topic": value.topic,
                "partition": value.partition,
                "offset": value.offset,
                "key_b64": b64(value.key),
                "value_b64": b64(value.value),
                "at": value.at.isoformat(),
            }
        )

    def decode(self, data: bytes) -> DeadLetter:
        """The dead letter in ``data``; ValueError (or KeyError) when it is not one."""
        obj = orjson.loads(data)
        if not isinstance(obj, dict):
            raise ValueError(f"a dead letter is a JSON object, got {data[:80]!r}")
        return DeadLetter(
            reason=str(obj["reason"]),
            detail=str(obj["detail"]),
            topic=str(obj["topic"]),
            partition=int(obj["partition"]),
            offset=int(obj["offset"]),
            key=_unb64(obj.get("key_b64")),
            value=_unb64(obj.get("value_b64")),
            at=datetime.fromisoformat(obj["at"]),
        )


#: The codec of ``slawatch.events`` (and of keyed sources' canonical form).
EVENTS: ModelCodec[LifecycleEvent] = ModelCodec(LifecycleEvent)
#: The codec of ``slawatch.due`` and the shadow's due topic.
DUE_COMMANDS = DueCodec()
#: The codec of ``sla.deadletter``.
DEAD_LETTERS = DeadLetterCodec()


def encode_due(partition: int, case_ids: Sequence[str], due_at: datetime) -> bytes:
    """A timer command's bytes (:class:`DueCodec`)."""
    return DUE_COMMANDS.encode(DueCommand(list(case_ids), partition, due_at))


def decode_due(data: bytes) -> list[str]:
    """The case ids of a timer command's bytes; ValueError when malformed."""
    return DUE_COMMANDS.decode(data).case_ids


def key_bytes(case_id: str) -> bytes:
    """The message key of every slawatch topic keyed by case."""
    return case_id.encode()


def b64(data: bytes | None) -> str | None:
    """Base64 text of original bytes (for dead letters), or None."""
    return None if data is None else base64.b64encode(data).decode("ascii")


def _unb64(text: object) -> bytes | None:
    return base64.b64decode(text) if isinstance(text, str) else None
