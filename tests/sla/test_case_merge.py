"""Merging attributes: per key the value from the latest event time wins, in any arrival order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from sla.case import CaseState, JsonScalar

T0 = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)

_EVENTS = st.lists(
    st.tuples(
        st.dictionaries(st.sampled_from("abcde"), st.integers(0, 9), max_size=4),
        st.integers(0, 6).map(lambda minutes: T0 + timedelta(minutes=minutes)),
        st.sampled_from(["merge", "step", "reload"]),
    ),
    max_size=12,
)


def reference(
    events: list[tuple[dict[str, int], datetime, str]],
) -> dict[str, tuple[int, datetime]]:
    """Key by key, the newest value; at equal times the later arrival wins."""
    kept: dict[str, tuple[int, datetime]] = {}
    for attributes, at, _ in events:
        for key, value in attributes.items():
            if key not in kept or at >= kept[key][1]:
                kept[key] = (value, at)
    return kept


@settings(max_examples=300, deadline=None)
@given(_EVENTS)
def test_merge_keeps_the_newest_value_of_each_key(
    events: list[tuple[dict[str, int], datetime, str]],
) -> None:
    """In time order (two dict updates) or not (a comparison per key), across the copies an
    engine step makes and a state written and read back, the same values and times."""
    state = CaseState("C-1", "complaint")
    for attributes, at, then in events:
        values: dict[str, JsonScalar] = dict(attributes)
        state.merge(values, at)
        if then == "step":
            state = state.step_copy(True)
        elif then == "reload":
            state = CaseState.from_json(state.to_json())
    expected = reference(events)
    assert {k: v for k, (v, _) in expected.items()} == state.attributes
    assert {k: at for k, (_, at) in expected.items()} == state.attribute_times
