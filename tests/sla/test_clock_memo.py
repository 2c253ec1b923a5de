"""A cycle's remembered due times: the same answers as a fresh computation after every change."""

from __future__ import annotations

from dataclasses import MISSING, fields
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from sla.calendar import ElapsedCalendar
from sla.clock import Cycle, Mark, _scaled
from sla.limits import parse_limit
from sla.policy import ClockTerms
from tests.sla._clock_fakes import at

ELAPSED = ElapsedCalendar()


def _terms(limit: str) -> ClockTerms:
    return ClockTerms(
        limit=parse_limit(limit), calendar=None, target=0.95, standard="basic", warn_at=(0.5,)
    )


def _cycle(limit: str = "4h") -> Cycle:
    return Cycle(
        number=1, started_at=at(0), start_event_id="s", policy_version="v1", terms=_terms(limit)
    )


def _fresh(cycle: Cycle) -> list[datetime | None]:
    """Due times computed by a copy that has never remembered anything."""
    copy = Cycle(
        number=cycle.number,
        started_at=cycle.started_at,
        start_event_id=cycle.start_event_id,
        policy_version=cycle.policy_version,
        terms=cycle.terms,
        fixed_deadline=cycle.fixed_deadline,
        marks=list(cycle.marks),
    )
    return [copy.due_at(ELAPSED), copy.due_at(ELAPSED, 0.5)]


class TestCycleMemo:
    def test_a_pause_after_a_first_answer_moves_the_deadline(self) -> None:
        """A mark added after the deadline was asked for is taken into account."""
        cycle = _cycle()
        cycle.due_at(ELAPSED)
        cycle.add_mark(Mark(at(1), "pause", "p"))
        cycle.add_mark(Mark(at(2), "resume", "r"))
        assert [at(5), at(3)] == [cycle.due_at(ELAPSED), cycle.due_at(ELAPSED, 0.5)]

    def test_new_terms_give_new_due_times(self) -> None:
        """Terms replaced on the cycle (a policy re-evaluation) are not answered from memory."""
        cycle = _cycle("4h")
        cycle.due_at(ELAPSED)
        cycle.terms = _terms("8h")
        assert _fresh(cycle) == [cycle.due_at(ELAPSED), cycle.due_at(ELAPSED, 0.5)]

    def test_a_clone_and_its_original_change_apart(self) -> None:
        """A clone starts with the memo, and a pause on it leaves the original's answers alone."""
        original = _cycle()
        original.pending(ELAPSED)
        copy = original.clone()
        copy.add_mark(Mark(at(1), "pause", "p"))
        assert (None, at(4)) == (copy.due_at(ELAPSED), original.due_at(ELAPSED))

    def test_a_clone_carries_every_field(self) -> None:
        """``clone`` copies field by field (compiled classes have no ``__dict__`` to copy), so
        a field added to :class:`Cycle` and forgotten there fails here."""
        original = Cycle(
            number=3,
            started_at=at(0),
            start_event_id="s",
            policy_version="v1",
            terms=_terms("4h"),
            fixed_deadline=at(9),
            clock_team="cs",
            marks=[Mark(at(1), "pause", "p", 7)],
            warned=[0.5],
            breach_emitted=True,
            start_sequence=2,
        )
        unset = _cycle()  # the required fields only: every other one at its default
        left_at_default = [
            f.name
            for f in fields(Cycle)
            if f.compare
            and (f.default is not MISSING or f.default_factory is not MISSING)
            and getattr(original, f.name) == getattr(unset, f.name)
        ]
        assert ([], original) == (left_at_default, original.clone())

    def test_pending_follows_warnings_sent(self) -> None:
        """A threshold marked as warned leaves the pending list at once."""
        cycle = _cycle()
        cycle.pending(ELAPSED)
        cycle.warned.append(0.5)
        assert [None] == [d.threshold for d in cycle.pending(ELAPSED)]

    def test_memo_is_not_part_of_equality(self) -> None:
        """Two cycles with the same fields are equal whether or not one has computed anything."""
        asked = _cycle()
        asked.pending(ELAPSED)
        assert _cycle() == asked

    def test_a_resume_while_running_keeps_the_memo(self) -> None:
        """A mark that changes no pause interval keeps the remembered due times."""
        cycle = _cycle()
        cycle.pending(ELAPSED)
        memo = cycle._memo
        cycle.add_mark(Mark(at(1), "resume", "r"))
        assert (True, [at(4), at(2)]) == (
            cycle._memo is memo,
            [cycle.due_at(ELAPSED), cycle.due_at(ELAPSED, 0.5)],
        )

    def test_a_pause_after_a_kept_memo_still_counts(self) -> None:
        """After a mark kept the memo, a real pause is still taken into account."""
        cycle = _cycle()
        cycle.due_at(ELAPSED)
        cycle.add_mark(Mark(at(1), "resume", "r0"))
        cycle.due_at(ELAPSED)
        cycle.add_mark(Mark(at(1), "pause", "p"))
        cycle.add_mark(Mark(at(2), "resume", "r"))
        assert [at(5), at(3)] == [cycle.due_at(ELAPSED), cycle.due_at(ELAPSED, 0.5)]

    @settings(max_examples=200, deadline=None)
    @given(
        st.lists(
            st.tuples(st.integers(0, 12), st.sampled_from(["pause", "resume"]), st.booleans()),
            max_size=8,
        )
    )
    def test_answers_match_a_fresh_cycle_after_any_marks(
        self, marks: list[tuple[int, str, bool]]
    ) -> None:
        """Whatever marks come, asked for or not in between, the answers are a fresh cycle's."""
        cycle = _cycle()
        for number, (hour, kind, ask) in enumerate(marks):
            cycle.add_mark(Mark(at(hour), kind, f"m{number}"))  # type: ignore[arg-type]
            if ask:
                cycle.pending(ELAPSED)
            assert _fresh(cycle) == [cycle.due_at(ELAPSED), cycle.due_at(ELAPSED, 0.5)]
            fresh = _cycle()
            fresh.marks = list(cycle.marks)
            assert fresh.pending(ELAPSED) == cycle.pending(ELAPSED)


@settings(max_examples=300, deadline=None)
@given(
    amount=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=400)),
    fraction=st.floats(min_value=0.01, max_value=1.0),
)
def test_scaled_limit_is_the_product(amount: timedelta, fraction: float) -> None:
    """The remembered product is the one ``timedelta * float`` rounds to, asked twice."""
    assert _scaled(amount, fraction) == amount * fraction
    assert _scaled(amount, fraction) == amount * fraction
