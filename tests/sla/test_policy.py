"""Tests for sla.policy: the terms a cycle is judged by, and the model's normalisations."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from sla.limits import parse_limit
from sla.policy import ClockPolicy, ClockTerms, Condition, PolicySpec

INSIDE_PEAK = datetime(2026, 11, 11, 2, 0, tzinfo=UTC)
OUTSIDE_PEAK = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


def make_spec(clock: dict[str, Any], **extra: Any) -> PolicySpec:
    """A policy with one calendar ``office``, the ``double_11`` period and the given clock."""
    base: dict[str, Any] = {
        "id": "first_response",
        "case_kind": "complaint",
        "start": ["complaint_registered"],
        "stop": ["complaint_acknowledged"],
        "limit": "24h",
    }
    return PolicySpec.model_validate(
        {
            "version": "test",
            "calendars": {"office": {}},
            "special_periods": {"double_11": {"start": "2026-11-10", "end": "2026-11-20"}},
            "clocks": [{**base, **clock}],
            **extra,
        }
    )


def terms(spec: PolicySpec, started_at: datetime = OUTSIDE_PEAK, **attributes: Any) -> ClockTerms:
    return spec.clocks[0].terms_for(attributes, started_at, spec)


class TestTermsFor:
    def test_no_overrides(self) -> None:
        """Without overrides a cycle gets the clock's own terms and its standard's target."""
        spec = make_spec({})
        expected = ClockTerms(
            limit=parse_limit("24h"),
            calendar=None,
            target=0.95,
            standard="basic",
            warn_at=(0.5, 0.8),
        )
        assert expected == terms(spec)

    @pytest.mark.parametrize(
        ("standard", "target"), [("basic", 0.95), ("special", 0.90), ("expedited", 0.98)]
    )
    def test_target_defaults_per_standard(self, standard: str, target: float) -> None:
        """A clock without its own target takes the target of its standard."""
        assert target == terms(make_spec({"standard": standard})).target

    def test_targets_section_changes_defaults(self) -> None:
        """The file's targets: section sets the per-standard defaults."""
        spec = make_spec({}, targets={"basic": 0.9, "special": 0.8, "expedited": 0.99})
        expected = 0.9
        assert expected == terms(spec).target

    def test_clock_target_beats_standard(self) -> None:
        """A target on the clock wins over its standard's default."""
        expected = 0.97
        assert expected == terms(make_spec({"target": 0.97})).target

    def test_matching_override_applies(self) -> None:
        """An override whose attributes match replaces limit and standard; target follows."""
        spec = make_spec(
            {
                "overrides": [
                    {"when": {"priority": "expedited"}, "limit": "4h", "standard": "expedited"}
                ]
            }
        )
        actual = terms(spec, priority="expedited")
        assert (parse_limit("4h"), "expedited", 0.98) == (
            actual.limit,
            actual.standard,
            actual.target,
        )

    def test_non_matching_override_ignored(self) -> None:
        """An override whose attributes do not match changes nothing."""
        spec = make_spec({"overrides": [{"when": {"priority": "expedited"}, "limit": "4h"}]})
        assert terms(make_spec({})) == terms(spec, priority="normal")

    def test_missing_attribute_does_not_match(self) -> None:
        """An event without the filtered attribute does not match the override."""
        spec = make_spec({"overrides": [{"when": {"priority": "expedited"}, "limit": "4h"}]})
        assert parse_limit("24h") == terms(spec).limit

    def test_later_override_wins(self) -> None:
        """When several overrides match, they apply in file order, so the last one wins."""
        spec = make_spec(
            {
                "overrides": [
                    {"when": {"priority": "expedited"}, "limit": "4h", "standard": "expedited"},
                    {"during": "double_11", "limit": "36h", "standard": "special"},
                ]
            }
        )
        actual = terms(spec, INSIDE_PEAK, priority="expedited")
        assert (parse_limit("36h"), "special", 0.90) == (
            actual.limit,
            actual.standard,
            actual.target,
        )

    def test_earlier_override_keeps_what_later_leaves(self) -> None:
        """A later override changes only the fields it sets."""
        spec = make_spec(
            {
                "overrides": [
                    {"when": {"priority": "expedited"}, "limit": "4h", "warn_at": [0.25]},
                    {"when": {"channel": "phone"}, "calendar": "office"},
                ]
            }
        )
        actual = terms(spec, priority="expedited", channel="phone")
        assert (parse_limit("4h"), "office", (0.25,)) == (
            actual.limit,
            actual.calendar,
            actual.warn_at,
        )

    def test_new_standard_resets_explicit_target(self) -> None:
        """A later override that changes the standard but not the target uses that standard's."""
        spec = make_spec(
            {
                "overrides": [
                    {"when": {"channel": "phone"}, "target": 0.99},
                    {"during": "double_11", "standard": "special"},
                ]
            }
        )
        expected = 0.90
        assert expected == terms(spec, INSIDE_PEAK, channel="phone").target

    def test_explicit_override_target(self) -> None:
        """An override's own target wins over its standard's default."""
        spec = make_spec(
            {"overrides": [{"during": "double_11", "standard": "special", "target": 0.85}]}
        )
        expected = 0.85
        assert expected == terms(spec, INSIDE_PEAK).target

    @pytest.mark.parametrize(
        ("started_at", "applies"),
        [
            (INSIDE_PEAK, True),
            (OUTSIDE_PEAK, False),
            # 2026-11-09 17:00 UTC is 2026-11-10 01:00 in Shanghai: the first day of the period.
            (datetime(2026, 11, 9, 17, 0, tzinfo=UTC), True),
            # 2026-11-20 16:30 UTC is 2026-11-21 00:30 in Shanghai: the day after the last.
            (datetime(2026, 11, 20, 16, 30, tzinfo=UTC), False),
        ],
    )
    def test_during_special_period(self, started_at: datetime, applies: bool) -> None:
        """A during: override applies when the cycle starts on a date of the period (Shanghai)."""
        spec = make_spec({"overrides": [{"during": "double_11", "limit": "36h"}]})
        expected = parse_limit("36h") if applies else parse_limit("24h")
        assert expected == terms(spec, started_at).limit

    def test_during_and_when_both_needed(self) -> None:
        """An override with during: and when: needs the period and the attributes."""
        spec = make_spec(
            {
                "overrides": [
                    {"during": "double_11", "when": {"product": "expedited"}, "limit": "2h"}
                ]
            }
        )
        assert parse_limit("24h") == terms(spec, INSIDE_PEAK, product="standard").limit
        assert parse_limit("2h") == terms(spec, INSIDE_PEAK, product="expedited").limit


class TestClockPolicyModel:
    def test_string_conditions(self) -> None:
        """A bare event type in a list is a condition without attribute filter."""
        spec = make_spec({})
        expected = [Condition(event="complaint_registered")]
        assert expected == spec.clocks[0].start

    def test_scalar_filter_becomes_list(self) -> None:
        """``{priority: expedited}`` stands for ``{priority: [expedited]}``."""
        condition = Condition.model_validate({"event": "x", "when": {"priority": "expedited"}})
        expected = {"priority": ["expedited"]}
        assert expected == condition.when

    def test_warn_at_sorted_and_unique(self) -> None:
        """Warning thresholds are kept sorted and without repeats."""
        expected = [0.5, 0.8]
        assert expected == make_spec({"warn_at": [0.8, 0.5, 0.8]}).clocks[0].warn_at

    def test_event_types(self) -> None:
        """event_types lists every event the clock reacts to, whatever its role."""
        clock = ClockPolicy.model_validate(
            {
                "id": "c",
                "case_kind": "complaint",
                "start": ["a"],
                "stop": ["b"],
                "pause": ["c"],
                "resume": ["d"],
                "cancel": ["e"],
                "reset": ["f"],
                "limit": "1h",
            }
        )
        expected = {"a", "b", "c", "d", "e", "f"}
        assert expected == clock.event_types()

    def test_clock_id_pattern(self) -> None:
        """Clock ids are snake_case, because they become metric label values and rule names."""
        with pytest.raises(ValidationError):
            make_spec({"id": "First-Response"})


class TestLimitBounds:
    """Any number a policy writes is read or refused with a ValueError, never an overflow."""

    @settings(max_examples=300, deadline=None)
    @given(
        st.integers(min_value=1, max_value=10**30) | st.floats(min_value=1e-12, max_value=1e30),
        st.sampled_from(["s", "m", "h", "days", "w", "working days", "working hours"]),
    )
    def test_read_or_refused(self, amount: float, unit: str) -> None:
        """A huge or tiny amount gives a ValueError naming the text, or a positive limit."""
        text = f"{amount:f} {unit}" if isinstance(amount, float) else f"{amount} {unit}"
        try:
            limit = parse_limit(text)
        except ValueError as exc:
            assert repr(text) in str(exc)
            return
        span = limit.duration if limit.duration is not None else limit.working_days
        assert span


class TestInPeriod:
    """The period's span, worked out once, says what the start's local date says."""

    @settings(max_examples=300, deadline=None)
    @given(
        zone_name=st.sampled_from(
            ["Asia/Shanghai", "America/New_York", "Europe/London", "America/Sao_Paulo", "UTC"]
        ),
        first=st.dates(min_value=date(2000, 1, 1), max_value=date(2035, 12, 31)),
        days=st.integers(0, 40),
        offset=st.timedeltas(min_value=timedelta(days=-3), max_value=timedelta(days=45)),
        calendar=st.sampled_from(["office", None]),
    )
    def test_same_as_the_local_date(
        self, zone_name: str, first: date, days: int, offset: timedelta, calendar: str | None
    ) -> None:
        spec = PolicySpec.model_validate(
            {
                "version": "test",
                "calendars": {"office": {"timezone": zone_name}},
                "special_periods": {
                    "peak": {
                        "start": first.isoformat(),
                        "end": (first + timedelta(days)).isoformat(),
                    }
                },
                "clocks": [
                    {"id": "c", "case_kind": "k", "start": ["a"], "stop": ["b"], "limit": "1h"}
                ],
            }
        )
        when = datetime.combine(first, time(0), tzinfo=UTC) + offset
        local = ZoneInfo(zone_name if calendar == "office" else "Asia/Shanghai")
        day = when.astimezone(local).date()
        expected = first <= day <= first + timedelta(days)
        assert expected == spec.in_period("peak", when, calendar)
        assert expected == spec.in_period("peak", when, calendar)  # the remembered span

    def test_the_span_ends_at_local_midnight(self) -> None:
        spec = make_spec({})
        last = datetime(2026, 11, 20, 15, 59, 59, 999999, tzinfo=UTC)  # 23:59:59.999999 local
        assert spec.in_period("double_11", last, None)
        assert not spec.in_period("double_11", last + timedelta(microseconds=1), None)
        assert not spec.in_period("double_11", datetime(2026, 11, 9, 15, 59, tzinfo=UTC), None)
        assert spec.in_period("double_11", datetime(2026, 11, 9, 16, 0, tzinfo=UTC), None)
