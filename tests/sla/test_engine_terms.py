"""The engine remembers each clock's terms by what decides them (``Engine._terms_for``).

The answer must be the one ``ClockPolicy.terms_for`` gives for the same start, however the
calls before it went: attributes the overrides filter on, special periods in two zones, and
an override that moves the clock onto the calendar whose zone dates a later period.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from sla.engine import Engine
from sla.policy import PolicySpec

SPEC = PolicySpec.model_validate(
    {
        "version": "test",
        "calendars": {
            "shanghai": {"timezone": "Asia/Shanghai"},
            "new_york": {"timezone": "America/New_York"},
        },
        "special_periods": {
            "double_11": {"start": "2026-11-10", "end": "2026-11-12"},
            "black_friday": {"start": "2026-11-27", "end": "2026-11-27"},
        },
        "clocks": [
            {
                "id": "first_response",
                "case_kind": "complaint",
                "start": ["complaint_registered"],
                "stop": ["complaint_acknowledged"],
                "limit": "24h",
                "calendar": "shanghai",
                "overrides": [
                    {"when": {"priority": "high"}, "limit": "4h", "standard": "expedited"},
                    {"when": {"region": ["us", "ca"]}, "calendar": "new_york"},
                    {"during": "double_11", "limit": "36h", "standard": "special"},
                    {"during": "black_friday", "when": {"priority": "low"}, "target": 0.8},
                    {"when": {"priority": "True"}, "limit": "2h"},
                ],
            },
            {
                "id": "no_overrides",
                "case_kind": "complaint",
                "start": ["complaint_registered"],
                "stop": ["complaint_closed"],
                "limit": "3 days",
            },
        ],
    }
)

FIRST = datetime(2026, 11, 8, tzinfo=UTC)

starts = st.builds(lambda minutes: FIRST + timedelta(minutes=minutes), st.integers(0, 30 * 24 * 60))
attribute_sets = st.fixed_dictionaries(
    {},
    optional={
        "priority": st.sampled_from(["high", "low", "normal", 3, 1, True, 1.0, "True"]),
        "region": st.sampled_from(["us", "ca", "cn"]),
        "channel": st.sampled_from(["phone", "web"]),
    },
)


@settings(max_examples=200, deadline=None)
@given(calls=st.lists(st.tuples(attribute_sets, starts), min_size=1, max_size=20))
def test_remembered_terms_are_the_policys(calls: list[tuple[dict[str, object], datetime]]) -> None:
    engine = Engine.for_policy(SPEC)
    for attributes, start in calls:
        for policy in SPEC.clocks:
            expected = policy.terms_for(attributes, start, SPEC)
            assert engine._terms_for(policy, attributes, start) == expected


def test_the_same_inputs_give_the_same_terms_object() -> None:
    """Remembered, not worked out again: a cycle's due-time memo keys on the terms object."""
    engine = Engine.for_policy(SPEC)
    policy = SPEC.clocks[0]
    one = engine._terms_for(policy, {"priority": "high"}, FIRST)
    two = engine._terms_for(policy, {"priority": "high", "channel": "web"}, FIRST)
    assert one is two
    assert engine._terms_for(policy, {"priority": "low"}, FIRST) is not one


def test_a_period_is_dated_in_the_zone_an_override_moved_the_clock_to() -> None:
    """Both starts fall on 10 November in Shanghai; in New York only the second does."""
    engine = Engine.for_policy(SPEC)
    policy = SPEC.clocks[0]
    before = datetime(2026, 11, 10, 2, 0, tzinfo=UTC)  # 9 Nov, 21:00 in New York
    inside = datetime(2026, 11, 10, 6, 0, tzinfo=UTC)  # 10 Nov, 01:00 in New York
    us = {"region": "us"}
    assert engine._terms_for(policy, us, before).standard == "basic"
    assert engine._terms_for(policy, us, inside).standard == "special"
    assert engine._terms_for(policy, us, before) == policy.terms_for(us, before, SPEC)


def test_values_that_compare_equal_but_read_differently() -> None:
    """1 == True in Python, but a filter reads "1" and "True": different terms."""
    engine = Engine.for_policy(SPEC)
    policy = SPEC.clocks[0]
    assert engine._terms_for(policy, {"priority": 1}, FIRST).limit.text == "24h"
    assert engine._terms_for(policy, {"priority": True}, FIRST).limit.text == "2h"
