"""Alertmanager configuration generated from a small policy: routes and working hours."""

# The project writes `assert expected == actual`, which ruff's SIM300 calls a Yoda condition.

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from generators.alertmanager import (
    CATCH_ALL,
    AlertmanagerOptions,
    build_config,
    calendar_intervals,
    load_receivers,
    receiver_names,
    render_config,
)
from generators.objectives import load_spec
from sla.config_file import ConfigError
from sla.policy import CalendarSpec, PolicySpec
from tests.generators._policies import small_policy


@pytest.fixture
def spec(tmp_path: Path) -> PolicySpec:
    return load_spec(small_policy(tmp_path))


@pytest.fixture
def config(spec: PolicySpec) -> dict[str, Any]:
    return build_config(spec, AlertmanagerOptions(years=(2026,)))


class TestTimeIntervals:
    def test_weekly_hours_in_the_calendars_zone(self, spec: PolicySpec) -> None:
        """Monday to Friday with a lunch break, in Asia/Shanghai."""
        working, _ = calendar_intervals("office", spec.calendars["office"], (2026,))
        assert {
            "weekdays": ["monday:friday"],
            "times": [{"start_time": "09:00", "end_time": "12:00"},
                      {"start_time": "13:00", "end_time": "18:00"}],
            "location": "Asia/Shanghai",
        } == working["time_intervals"][0]  # fmt: skip

    def test_extra_workday_is_active(self, spec: PolicySpec) -> None:
        """A Saturday made a working day is an extra active day with the standard hours."""
        working, _ = calendar_intervals("office", spec.calendars["office"], (2026,))
        assert {
            "times": [{"start_time": "09:00", "end_time": "12:00"},
                      {"start_time": "13:00", "end_time": "18:00"}],
            "days_of_month": ["10"], "months": ["october"], "years": ["2026"],
            "location": "Asia/Shanghai",
        } == working["time_intervals"][1]  # fmt: skip

    def test_holidays_merged_into_ranges(self, spec: PolicySpec) -> None:
        """Consecutive days off become one range."""
        _, off = calendar_intervals("office", spec.calendars["office"], (2026,))
        assert off is not None
        assert [{"days_of_month": ["1:2"], "months": ["october"], "years": ["2026"],
                 "location": "Asia/Shanghai"}] == off["time_intervals"]  # fmt: skip

    def test_seven_day_week(self) -> None:
        """A service open every day is one Sunday-to-Saturday range, as Alertmanager counts."""
        every_day = {d: ["08:00-22:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
        working, off = calendar_intervals(
            "desk", CalendarSpec(working_hours=every_day, holidays="none"), (2026,)
        )  # fmt: skip
        assert ["sunday:saturday"] == working["time_intervals"][0]["weekdays"]
        assert off is None

    def test_china_holidays(self) -> None:
        """With China's holidays, the National Day week is off and make-up days are worked."""
        working, off = calendar_intervals("cn", CalendarSpec(holidays="china"), (2025,))
        assert off is not None
        october = [e["days_of_month"][0] for e in off["time_intervals"]
                   if e["months"] == ["october"]]  # fmt: skip
        assert ["1:3", "6:8"] == october  # the weekend between is off anyway
        worked = [e for e in working["time_intervals"] if "days_of_month" in e]
        assert ("september", "28") in {(e["months"][0], e["days_of_month"][0]) for e in worked}


class TestRoutes:
    def test_tickets_only_in_working_hours(self, config: dict[str, Any]) -> None:
        """A team with a calendar gets tickets in its hours, muted on its days off."""
        desk = next(r for r in config["route"]["routes"] if r["matchers"] == ['team="desk"'])
        page, ticket = desk["routes"]
        assert ("desk-page", None) == (page["receiver"], page.get("active_time_intervals"))
        assert (["working-hours-office"], ["days-off-office"]) == (
            ticket["active_time_intervals"],
            ticket["mute_time_intervals"],
        )

    def test_team_without_calendar_any_hour(self, config: dict[str, Any]) -> None:
        """A team without a calendar gets tickets at any hour."""
        route = next(r for r in config["route"]["routes"] if r["matchers"] == ['team="couriers"'])
        assert "active_time_intervals" not in route["routes"][1]

    def test_explicit_catch_all_last(self, config: dict[str, Any]) -> None:
        """The last route matches everything and goes to the catch-all receiver."""
        assert {"receiver": CATCH_ALL, "matchers": []} == config["route"]["routes"][-1]

    def test_stall_inhibits_slo_alerts(self, config: dict[str, Any]) -> None:
        """A stalled topic or a down worker inhibits the SLO and team alerts."""
        stall = config["inhibit_rules"][0]
        assert "SlawatchTopicStalled" in stall["source_matchers"][0]
        assert ['category=~"slo|team"'] == stall["target_matchers"]

    def test_webhook_receivers(self, spec: PolicySpec) -> None:
        """With a webhook URL every receiver posts to it, naming itself."""
        config = build_config(spec, AlertmanagerOptions(years=(2026,), webhook_url="http://h/x"))
        urls = {r["name"]: r["webhook_configs"][0]["url"] for r in config["receivers"]}
        assert "http://h/x?receiver=desk-page" == urls["desk-page"]


class TestReceivers:
    """Receivers are the user's: a file merged into every generation, never wiped."""

    OWN = """\
receivers:
  - name: desk-page
    webhook_configs:
      - url: http://pager.example.test/desk
"""

    def generate(self, policies: Path, out: Path) -> dict[str, Any]:
        from typer.testing import CliRunner

        from slawatch.cli import app

        args = ["alertmanager", "--policies", str(policies), "--out", str(out), "--years", "2026"]
        result = CliRunner().invoke(app, args)
        assert 0 == result.exit_code, result.output
        loaded: dict[str, Any] = yaml.safe_load((out / "alertmanager.yml").read_text("utf-8"))
        return loaded

    def test_regenerating_keeps_the_users_receivers(self, tmp_path: Path) -> None:
        """receivers.yml beside the output is merged in, and still there after regenerating."""
        policies = small_policy(tmp_path)
        out = tmp_path / "am"
        out.mkdir()
        (out / "receivers.yml").write_text(self.OWN, encoding="utf-8")
        first = self.generate(policies, out)
        second = self.generate(policies, out)
        hooks = {
            r["name"]: r.get("webhook_configs", [{}])[0].get("url") for r in second["receivers"]
        }
        assert first == second
        assert ("http://pager.example.test/desk", None) == (
            hooks["desk-page"],
            hooks["desk-ticket"],
        )

    def test_unknown_receiver_is_refused_with_its_line(self, tmp_path: Path) -> None:
        """A receiver no route uses (a typo) is refused, naming the file, line and choices."""
        policies = small_policy(tmp_path)
        own = tmp_path / "receivers.yml"
        own.write_text(self.OWN.replace("desk-page", "desk-pager"), encoding="utf-8")
        with pytest.raises(ConfigError) as caught:
            load_receivers(own, receiver_names(load_spec(policies)))
        assert str(caught.value).startswith(
            f"{own}:2: receivers[0].name: no route uses 'desk-pager'; use one of slawatch-catch-all"
        )

    def test_header_never_claims_an_uncovered_year(self, spec: PolicySpec) -> None:
        """A year the holiday data does not know is said to lack it, not claimed covered."""
        text = render_config(spec, AlertmanagerOptions(years=(2026, 2099)))
        header = [line for line in text.splitlines() if line.startswith("#")]
        assert "# Holidays and make-up days from chinesecalendar: 2026." in header
        assert any(line.startswith("# No holiday data for 2099") for line in header)
