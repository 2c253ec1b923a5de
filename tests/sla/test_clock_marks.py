"""Marks added one by one stay exactly as appending and sorting them all would leave them."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sla.clock import Cycle, Mark
from sla.limits import parse_limit
from sla.policy import ClockTerms
from tests.sla._clock_fakes import at

_MARKS = st.lists(
    st.tuples(
        st.integers(0, 6),  # hour: few values, so instants repeat
        st.sampled_from(["pause", "resume"]),
        st.sampled_from(["a", "b", "c", "d", "e"]),
        st.one_of(st.none(), st.integers(0, 3)),
        st.booleans(),  # source_order for this call
        st.booleans(),  # clone the cycle before this call
    ),
    max_size=30,
)


def _cycle() -> Cycle:
    terms = ClockTerms(
        limit=parse_limit("4h"), calendar=None, target=0.95, standard="basic", warn_at=(0.5,)
    )
    return Cycle(number=1, started_at=at(0), start_event_id="s", policy_version="v", terms=terms)


def _key(source_order: bool) -> Any:
    return (lambda m: (m.at, m.order())) if source_order else Mark.key


@settings(max_examples=300, deadline=None)
@given(_MARKS)
def test_add_mark_equals_append_and_sort(
    steps: list[tuple[int, str, str, int | None, bool, bool]],
) -> None:
    """Whatever the order, duplicates, mode changes and clones: the reference's result."""
    cycle = _cycle()
    expected: list[Mark] = []
    for hour, kind, event_id, sequence, source_order, clone in steps:
        if clone:
            cycle = cycle.clone()
        mark = Mark(at(hour), kind, event_id, sequence)  # type: ignore[arg-type]
        duplicate = any(m.event_id == event_id and m.kind == kind for m in expected)
        assert (not duplicate) == cycle.add_mark(mark, source_order)
        if not duplicate:
            expected.append(mark)
            expected.sort(key=_key(source_order))
        assert expected == cycle.marks
