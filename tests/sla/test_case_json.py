"""A case's attribute times in JSON: each distinct time converted once, the same text as before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from sla.case import CaseState
from sla.clock import format_time, parse_time

_TIMES = st.builds(
    lambda at, hours: at.replace(tzinfo=UTC).astimezone(timezone(timedelta(hours=hours))),
    st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2199, 1, 1)),
    st.sampled_from([0, 8, -5]),
)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(st.sampled_from("abcdefghij"), st.sampled_from([0, 1, 2]), max_size=10),
    st.lists(_TIMES, min_size=3, max_size=3),
)
def test_attribute_times_round_trip(keys: dict[str, int], times: list[datetime]) -> None:
    """to_json writes every key's own time as format_time does; from_json reads it back."""
    state = CaseState("C-1", "complaint")
    state.attribute_times = {key: times[pick] for key, pick in keys.items()}
    data = state.to_json()
    assert {k: format_time(v) for k, v in state.attribute_times.items()} == data["attribute_times"]
    rebuilt = CaseState.from_json(data)
    assert {k: parse_time(format_time(v)) for k, v in state.attribute_times.items()} == (
        rebuilt.attribute_times
    )
    assert all(v.tzinfo is UTC for v in rebuilt.attribute_times.values())
