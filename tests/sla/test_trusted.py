"""Instances built without a second validation are those validation builds from the same values."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel

from sla.records import BreachRecord, ClockRef, OutcomeRecord, WarningRecord
from sla.trusted import record

AT = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
REF: dict[str, Any] = {
    "case_id": "C-1",
    "case_kind": "complaint",
    "clock": "first_response",
    "cycle": 2,
    "policy_version": "v3",
    "standard": "national",
    "target": 0.95,
    "team": "hotline",
    "region": None,
    "department": "D-7",
    "assignee": None,
}
CASES: list[tuple[type[BaseModel], dict[str, Any]]] = [
    (ClockRef, REF),
    (ClockRef, dict(reversed(REF.items()))),  # every field, not in field order
    (ClockRef, {k: v for k, v in REF.items() if v is not None}),
    (
        WarningRecord,
        {
            **REF,
            "warning_id": "w",
            "threshold": 0.8,
            "started_at": AT,
            "due_at": AT,
            "deadline": AT,
            "emitted_at": AT,
        },
    ),
    (
        BreachRecord,
        {**REF, "breach_id": "b", "started_at": AT, "deadline": AT, "emitted_at": AT},
    ),
    (
        BreachRecord,
        {
            **REF,
            "type": "breach_retracted",
            "breach_id": "b",
            "started_at": AT,
            "deadline": AT,
            "emitted_at": AT,
            "stopped_at": AT,
        },
    ),
    (
        OutcomeRecord,
        {
            **REF,
            "outcome_id": "o",
            "outcome": "met",
            "started_at": AT,
            "deadline": None,
            "ended_at": AT,
            "elapsed_seconds": 12.5,
            "paused_seconds": 0.0,
        },
    ),
]


@pytest.mark.parametrize(("cls", "values"), CASES)
def test_a_record_is_the_validated_one(cls: type[BaseModel], values: dict[str, Any]) -> None:
    validated = cls(**values)
    built = record(cls, dict(values))
    assert type(built) is cls
    assert built == validated
    assert built.__dict__ == validated.__dict__
    assert list(built.__dict__) == list(validated.__dict__)  # field order, for repr and dumps
    assert built.model_fields_set == validated.model_fields_set
    assert built.model_dump_json() == validated.model_dump_json()
    assert hash(built) == hash(validated)


def test_a_missing_field_is_named() -> None:
    values = dict(REF)
    del values["cycle"]
    with pytest.raises(TypeError, match=r"missing fields \['cycle'\]"):
        record(ClockRef, values)


def test_an_unknown_name_is_named() -> None:
    with pytest.raises(TypeError, match=r"unknown fields \['cycles'\]"):
        record(ClockRef, {**REF, "cycles": 1})


def test_the_record_is_frozen_like_a_validated_one() -> None:
    built = record(ClockRef, dict(REF))
    with pytest.raises(ValueError, match="frozen"):
        built.cycle = 3  # type: ignore[misc]


def test_a_misspelt_field_is_named_as_missing_and_unknown() -> None:
    """One name replaced by a wrong one keeps the count of fields: it is still refused."""
    values = dict(REF)
    del values["cycle"]
    with pytest.raises(TypeError, match=r"missing fields \['cycle'\], unknown fields \['cycles'\]"):
        record(ClockRef, {**values, "cycles": 2})


def test_every_field_in_order_is_taken_as_the_instance_dict() -> None:
    """The engine's records name every field in order: no merge into the defaults."""
    values = {**REF, "type": "warning", "warning_id": "w", "threshold": 0.8}
    values |= {"started_at": AT, "due_at": AT, "deadline": AT, "emitted_at": AT}
    built = record(WarningRecord, values)
    assert built.__dict__ is values
    assert built == WarningRecord(**values)
