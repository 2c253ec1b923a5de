"""Reading replay's compact JSON back gives exactly the events full validation gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sla.events import LifecycleEvent
from sources.recorded import canonical_events

_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), min_size=1, max_size=12
)
_ZONES = st.sampled_from(
    [UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5, minutes=-30))]
)
_TIMES = st.builds(
    lambda at, zone: at.replace(tzinfo=UTC).astimezone(zone),
    st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2199, 1, 1)),
    _ZONES,
)
_EXTRA = st.one_of(
    st.none(),
    _TEXT,
    st.integers(-(2**40), 2**40),
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False),
)


def _shape(event: LifecycleEvent) -> tuple[object, ...]:
    """Everything validation decides: values, types, field sets, extras and time zone objects."""
    attributes = event.attributes
    return (
        type(event),
        event,
        event.model_fields_set,
        event.__pydantic_extra__,
        type(attributes),
        attributes.model_fields_set,
        attributes.model_extra,
        repr(event.occurred_at),
        repr(attributes.promised_by),
        [(k, type(v)) for k, v in (attributes.model_extra or {}).items()],
    )


@settings(max_examples=200, deadline=None)
@given(
    at=_TIMES,
    sequence=st.one_of(st.none(), st.integers(-(2**40), 2**40)),
    declared=st.dictionaries(st.sampled_from(["channel", "team", "region", "priority"]), _TEXT),
    promised=st.one_of(st.none(), _TIMES),
    extra=st.dictionaries(st.sampled_from(["impact", "urgency", "count", "vip"]), _EXTRA),
)
def test_read_back_equals_full_validation(
    at: datetime,
    sequence: int | None,
    declared: dict[str, str],
    promised: datetime | None,
    extra: dict[str, Any],
) -> None:
    """Any mapped event, serialized as load_events does, reads back as validation reads it."""
    attributes: dict[str, Any] = {**declared, **extra}
    if promised is not None:
        attributes["promised_by"] = promised
    event = LifecycleEvent(
        event_id="e-1",
        case_id="C-1",
        case_kind="complaint",
        event_type="complaint_registered",
        occurred_at=at,
        sequence=sequence,
        attributes=attributes,
    )
    payload = LifecycleEvent.__pydantic_serializer__.to_json(event)
    (read,) = canonical_events([payload])
    assert _shape(LifecycleEvent.model_validate_json(payload)) == _shape(read)


def test_other_json_is_validated_in_full() -> None:
    """A payload not of load_events' shape still reads as validation reads it (or fails so)."""
    payload = (
        b'{"event_id":"e","case_id":"C","case_kind":"k","event_type":"t",'
        b'"occurred_at":"2026-01-01T00:00:00+08:00"}'
    )
    (read,) = canonical_events([payload])
    assert _shape(LifecycleEvent.model_validate_json(payload)) == _shape(read)


def _payload(event_id: str) -> bytes:
    return (
        b'{"event_id":"' + event_id.encode() + b'","case_id":"C","case_kind":"k",'
        b'"event_type":"t","occurred_at":"2026-01-01T00:00:00Z"}'
    )


def test_a_repeated_record_reads_as_its_first_copy() -> None:
    """Side-by-side copies of one record share a read; the next record is read afresh."""
    first, copy, other, again = canonical_events(
        [_payload("e-1"), _payload("e-1"), _payload("e-2"), _payload("e-1")]
    )
    assert copy is first
    assert other.event_id == "e-2"
    assert again == first and again is not first
    assert _shape(again) == _shape(LifecycleEvent.model_validate_json(_payload("e-1")))
