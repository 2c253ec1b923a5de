"""Burn-rate windows and factors for an attainment target."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from generators.burnrate import (
    WORKBOOK_WINDOWS,
    BurnRateError,
    Window,
    error_threshold,
    max_burn,
    plan,
    prometheus_duration,
)

targets = st.floats(min_value=0.01, max_value=0.9999, allow_nan=False)
headrooms = st.floats(min_value=0.05, max_value=0.99, allow_nan=False)


class TestWindow:
    def test_workbook_factors(self) -> None:
        """The workbook's table gives 14.4, 6, 3 and 1 over 30 days."""
        assert [14.4, 6.0, 3.0, 1.0] == [round(w.factor(), 6) for w in WORKBOOK_WINDOWS]

    def test_factor_scales_with_period(self) -> None:
        """A 7-day period needs a faster burn to spend the same share in an hour."""
        window = Window("page", timedelta(hours=1), timedelta(minutes=5), 0.02)
        assert 3.36 == round(window.factor(timedelta(days=7)), 6)


class TestMaxBurn:
    def test_ninety_percent(self) -> None:
        """At 90 % every case breaching burns the budget ten times too fast."""
        assert 10.0 == pytest.approx(max_burn(0.90))

    def test_threshold_at_basic_standard(self) -> None:
        """A 14.4x burn at 95 % means more than 72 % of the cases breach."""
        assert 0.72 == pytest.approx(error_threshold(14.4, 0.95))

    @pytest.mark.parametrize("target", [0.0, 1.0, 1.5, -0.1, float("nan")])
    def test_rejects_targets_without_budget(self, target: float) -> None:
        """Targets outside (0, 1) have no error budget to burn."""
        with pytest.raises(BurnRateError, match="target"):
            max_burn(target)

    def test_target_one_says_what_to_do(self) -> None:
        """A 100 % target is refused with a suggestion."""
        with pytest.raises(BurnRateError, match=r"0\.999"):
            plan(1.0)


class TestPlan:
    def test_basic_standard_keeps_workbook(self) -> None:
        """At 95 % the workbook's four alerts can all fire unchanged."""
        result = plan(0.95)
        assert [False] * 4 == [a.adapted for a in result.alerts]
        assert () == result.notes

    def test_special_standard_adapts_fast_page(self) -> None:
        """At 90 % the 14.4x page becomes 9x (90 % of the largest burn) and says why."""
        result = plan(0.90)
        first = result.alerts[0]
        assert (True, 9.0, 14.4) == (
            first.adapted,
            round(first.factor, 6),
            round(first.workbook_factor, 6),
        )
        assert "cannot exceed 10x" in first.note
        assert 1 == len(result.notes)

    def test_special_standard_refuses_fast_page(self) -> None:
        """In refuse mode the 14.4x page is dropped at 90 % and the refusal is noted."""
        result = plan(0.90, mode="refuse")
        assert [6.0, 3.0, 1.0] == [round(a.factor, 6) for a in result.alerts]
        assert "refused" in result.notes[0]

    def test_low_target_refuses_below_one(self) -> None:
        """A factor that would drop below 1 is refused: it would fire within budget."""
        result = plan(0.5)
        assert [1.8, 1.8, 1.8, 1.0] == [round(a.factor, 6) for a in result.alerts]
        assert () == result.refused
        with pytest.raises(BurnRateError, match="below 1"):
            plan(0.05)

    def test_nothing_left_is_an_error(self) -> None:
        """Refusing every window is an error that names the target."""
        with pytest.raises(BurnRateError, match=r"target 0\.05"):
            plan(0.05, mode="refuse")

    def test_windows_lists_every_window_once(self) -> None:
        """The plan names the windows its rules must record, shortest first."""
        expected = ["5m", "30m", "1h", "2h", "6h", "1d", "3d"]
        assert expected == [prometheus_duration(w) for w in plan(0.95).windows]

    @pytest.mark.parametrize("headroom", [0.0, 1.0, 1.5])
    def test_headroom_out_of_range(self, headroom: float) -> None:
        """Headroom is a share in (0, 1): at 1 an alert would need every case to breach and more."""
        with pytest.raises(BurnRateError, match="headroom"):
            plan(0.95, headroom=headroom)

    @given(target=targets, headroom=headrooms)
    def test_every_alert_can_fire(self, target: float, headroom: float) -> None:
        """Every planned alert asks for an error ratio below 1 and a burn of at least 1."""
        try:
            result = plan(target, headroom=headroom)
        except BurnRateError:
            return
        for alert in result.alerts:
            assert alert.error_threshold < 1
            assert alert.factor >= 1
            assert alert.factor <= alert.workbook_factor

    @given(target=targets, headroom=headrooms)
    def test_every_window_accounted_for(self, target: float, headroom: float) -> None:
        """Each workbook window is either planned or refused, never silently lost."""
        try:
            result = plan(target, headroom=headroom)
        except BurnRateError:
            return
        assert len(WORKBOOK_WINDOWS) == len(result.alerts) + len(result.refused)

    @given(target=targets)
    def test_adapted_exactly_when_out_of_reach(self, target: float) -> None:
        """An alert is adapted iff its workbook factor reaches 90 % of the largest burn."""
        try:
            result = plan(target)
        except BurnRateError:
            return
        for alert in result.alerts:
            assert (alert.workbook_factor >= 0.9 * max_burn(target)) == alert.adapted

    @given(low=targets, high=targets)
    def test_stricter_target_never_fewer_alerts(self, low: float, high: float) -> None:
        """Raising the target never removes an alert (more budget to detect burns in)."""
        low, high = sorted((low, high))
        try:
            fewer = plan(low)
        except BurnRateError:
            return
        assert len(fewer.alerts) <= len(plan(high).alerts)


class TestPrometheusDuration:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            (timedelta(minutes=5), "5m"),
            (timedelta(hours=6), "6h"),
            (timedelta(days=7), "7d"),
            (timedelta(seconds=90), "90s"),
        ],
    )
    def test_largest_whole_unit(self, value: timedelta, expected: str) -> None:
        """Durations use their largest whole unit."""
        assert expected == prometheus_duration(value)

    def test_rejects_fractions_of_a_second(self) -> None:
        """Prometheus windows are whole seconds."""
        with pytest.raises(BurnRateError, match="whole"):
            prometheus_duration(timedelta(milliseconds=1500))
