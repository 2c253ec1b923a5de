"""The live explain view: a stored case state told in sentences, as JSON."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sla.engine import Engine
from sla.events import LifecycleEvent
from sla.policy import PolicySpec
from streams.explain_view import explain_row

SPEC = PolicySpec.model_validate(
    {
        "version": "live-1",
        "clocks": [
            {
                "id": "first_response",
                "case_kind": "complaint",
                "start": ["registered"],
                "stop": ["answered"],
                "limit": "24h",
            }
        ],
    }
)
T0 = datetime(2026, 11, 2, 1, tzinfo=UTC)


def row() -> dict[str, object]:
    event = LifecycleEvent(
        event_id="e1", case_id="C-1", case_kind="complaint", event_type="registered", occurred_at=T0
    )
    state = Engine(SPEC, {}).apply(None, event, T0).state
    assert state is not None
    return {"p": 0, "due": None, "s": state.to_json()}


class TestExplainRow:
    def test_tells_the_running_clock_in_the_asked_zone(self) -> None:
        """The answer lists sentences with times in the zone asked for."""
        body = explain_row("C-1", row(), SPEC, "Asia/Shanghai", T0 + timedelta(hours=2))
        assert (
            "live-1",
            "2026-11-02 09:00",
            "Now the first response clock is still open; deadline 2026-11-03 09:00 (22 h left).",
        ) == (body["policy_version"], body["sentences"][0]["when"], body["sentences"][-1]["text"])

    def test_unknown_zone_is_refused_with_the_value(self) -> None:
        """A bad tz parameter names the bad value."""
        with pytest.raises(ValueError, match="Mars/Olympus"):
            explain_row("C-1", row(), SPEC, "Mars/Olympus", T0)
