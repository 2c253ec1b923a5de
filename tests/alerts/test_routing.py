"""Routing: records to (recipient, channel, level) by routes, roles, rosters and ladders."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from alerts.routing import Delivery, Router
from tests.alerts.conftest import BASE_CONFIG, T0, breach, make_spec, warning

OFFICE = {"timezone": "UTC", "hours": "09:00-18:00", "days": ["mon", "tue", "wed", "thu", "fri"]}
MONDAY_NOON = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
MONDAY_NIGHT = datetime(2026, 3, 2, 23, 0, tzinfo=UTC)


def team(**kw: Any) -> dict[str, Any]:
    return {"cs-frontline": {**BASE_CONFIG["teams"]["cs-frontline"], **kw}}


class TestFirstLevel:
    def test_default_goes_to_the_assignee(self) -> None:
        """A breach goes to its assignee on their channels at level 1."""
        router = Router(make_spec(routes=[]))
        assert [Delivery("agent-1", "console", "1")] == router.first_level(breach(), "breach", T0)

    def test_unknown_assignee_falls_back_to_the_team_channels(self) -> None:
        """A case whose assignee is not a recipient reaches the team's own channels."""
        channels = {"console": {"type": "console"}, "app": {"type": "redis_stream"}}
        router = Router(make_spec(channels=channels, teams=team(channels=["app"])))
        deliveries = router.first_level(warning(assignee="stranger"), "warning", T0)
        assert [Delivery("team:cs-frontline", "app", "warning")] == deliveries

    def test_routes_match_by_clock_and_region(self) -> None:
        """The first matching route wins; a region filter leaves other regions to later routes."""
        routes = [
            {"match": {"clock": "complaint_first_response", "region": "bj"}, "to": ["sup-1"]},
            {"match": {"region": ["sh", "gz"]}, "to": ["head-1"]},
            {"to": ["assignee"]},
        ]
        router = Router(make_spec(routes=routes))
        assert ["head-1"] == [d.recipient for d in router.first_level(breach(), "breach", T0)]
        assert ["sup-1"] == [
            d.recipient for d in router.first_level(breach(region="bj"), "breach", T0)
        ]

    def test_continue_adds_the_next_route(self) -> None:
        """``continue: true`` lets the next matching route add its recipients."""
        routes = [
            {"to": ["assignee"], "continue": True},
            {"match": {"kind": "breach"}, "to": ["supervisor"]},
        ]
        router = Router(make_spec(routes=routes))
        assert ["agent-1", "sup-1"] == [
            d.recipient for d in router.first_level(breach(), "breach", T0)
        ]
        assert ["agent-1"] == [d.recipient for d in router.first_level(warning(), "warning", T0)]

    def test_off_duty_assignee_is_covered_by_whoever_is_on_duty(self) -> None:
        """At night a warning for a day worker goes to the night worker instead."""
        roster = {**OFFICE, "shifts": {"agent-2": {"hours": "18:00-09:00", "days": ["mon"]}}}
        router = Router(make_spec(teams=team(roster=roster)))
        at_night = router.first_level(warning(), "warning", MONDAY_NIGHT)
        by_day = router.first_level(warning(), "warning", MONDAY_NOON)
        assert (["agent-2"], ["agent-1"]) == (
            [d.recipient for d in at_night],
            [d.recipient for d in by_day],
        )

    def test_nobody_on_duty_keeps_the_assignee(self) -> None:
        """With nobody on duty and no team channel the alert still reaches the assignee."""
        router = Router(make_spec(teams=team(roster=OFFICE)))
        assert ["agent-1"] == [
            d.recipient for d in router.first_level(warning(), "warning", MONDAY_NIGHT)
        ]

    def test_route_channels_select_among_the_recipients_channels(self) -> None:
        """A route's ``channels`` keeps only those of the recipient's channels."""
        channels = {"console": {"type": "console"}, "app": {"type": "redis_stream"}}
        recipients = {**BASE_CONFIG["recipients"], "agent-1": {"channels": ["console", "app"]}}
        routes = [{"to": ["assignee"], "channels": ["app"]}]
        router = Router(make_spec(channels=channels, recipients=recipients, routes=routes))
        assert [Delivery("agent-1", "app", "1")] == router.first_level(breach(), "breach", T0)

    def test_unrouted_alert_goes_to_the_fallback(self) -> None:
        """A team the file does not know, and no assignee: the ``unrouted`` recipients hear."""
        router = Router(make_spec(unrouted=["sup-1"]))
        got = router.first_level(breach(team="elsewhere", assignee=None), "breach", T0)
        assert [Delivery("sup-1", "console", "1")] == got


class TestEscalation:
    def test_levels_follow_the_ladder(self) -> None:
        """Level 2 reaches the supervisor, level 3 the department head, level 4 nobody."""
        router = Router(make_spec())
        levels = [router.escalation(breach(), level, T0) for level in (2, 3, 4)]
        assert [
            [Delivery("sup-1", "console", "2")],
            [Delivery("head-1", "console", "3")],
            [],
        ] == levels

    def test_department_head_comes_from_the_department(self) -> None:
        """A case's department names its own head, ahead of the team's."""
        recipients = {**BASE_CONFIG["recipients"], "head-2": {"channels": ["console"]}}
        router = Router(make_spec(recipients=recipients, departments={"legal": {"head": "head-2"}}))
        got = router.escalation(breach(department="legal"), 3, T0)
        assert ["head-2"] == [d.recipient for d in got]

    def test_escalation_ignores_the_roster(self) -> None:
        """An unacknowledged breach wakes the supervisor even off duty."""
        router = Router(make_spec(teams=team(roster=OFFICE)))
        assert ["sup-1"] == [d.recipient for d in router.escalation(breach(), 2, MONDAY_NIGHT)]
