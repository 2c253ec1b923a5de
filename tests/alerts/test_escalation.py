"""The ladder: which level is due when, and that acks and stops end the climb."""

from __future__ import annotations

from datetime import timedelta

import pytest

from alerts.escalation import Ladder, ladder_for
from tests.alerts.conftest import T0, make_spec


class TestLadder:
    def test_delays_add_up_from_the_breach(self) -> None:
        """Level 2 after 30 s, level 3 a further 60 s."""
        ladder = ladder_for(make_spec(), "complaint_first_response")
        assert [T0, T0 + timedelta(seconds=30), T0 + timedelta(seconds=90)] == [
            ladder.due_at(T0, level) for level in (1, 2, 3)
        ]

    def test_next_due_after_a_level(self) -> None:
        """After level 2 fired, level 3 is next; after the top, nothing."""
        ladder = Ladder((timedelta(minutes=15), timedelta(hours=1)))
        assert (3, T0 + timedelta(minutes=75)) == ladder.next_due(T0, 2)
        assert ladder.next_due(T0, 3) is None

    def test_ack_or_stop_ends_the_climb(self) -> None:
        """An acknowledged or stopped breach has no next level."""
        ladder = Ladder((timedelta(minutes=15),))
        assert (None, None) == (
            ladder.next_due(T0, 1, acked=True),
            ladder.next_due(T0, 1, stopped=True),
        )

    def test_clock_ladder_overrides_the_default(self) -> None:
        """A clock's own ladder replaces the default; an empty one means no escalation."""
        spec = make_spec(
            escalation={"default": [{"after": "1m", "to": ["supervisor"]}], "clocks": {"quiet": []}}
        )
        assert (2, 1) == (ladder_for(spec, "loud").top, ladder_for(spec, "quiet").top)

    def test_level_off_the_ladder(self) -> None:
        """Asking for a level the ladder does not have names the range."""
        with pytest.raises(ValueError, match=r"level 4 is not on this ladder \(1\.\.2\)"):
            Ladder((timedelta(minutes=1),)).due_at(T0, 4)
