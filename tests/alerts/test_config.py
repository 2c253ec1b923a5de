"""The alerts file: defaults load, mistakes are reported by file, line and field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from alerts._refs import resolve
from alerts.config import load_alerts, policy_ids
from sla.config_file import ConfigError
from sla.policy_file import load_policy
from tests.alerts.conftest import BASE_CONFIG, write_config

ROOT = Path(__file__).resolve().parents[2]


class TestShippedFiles:
    @pytest.mark.parametrize(
        ("alerts", "policies"),
        [
            ("config/alerts.yaml", "config/policies.yaml"),
            ("config/demo-alerts.yaml", "config/demo-policies.yaml"),
        ],
    )
    def test_loads_against_its_policy(self, alerts: str, policies: str) -> None:
        """The shipped alerts files name only clocks and teams of their policy file."""
        policy = load_policy(ROOT / policies)
        spec = load_alerts(ROOT / alerts, {c.id for c in policy.clocks}, set(policy.teams))
        assert set(policy.teams) == set(spec.teams)


class TestPolicyIds:
    """The worker and check-config check an alerts file against the same policy ids."""

    def test_a_policy_without_teams_leaves_team_ids_unchecked(self, tmp_path: Path) -> None:
        """No teams in the policy: any team is accepted; teams in it: an unknown one is not."""
        policy = tmp_path / "policies.yaml"
        clock = (
            "  - {id: reply, case_kind: complaint, start: [registered], stop: [answered], "
            "limit: 24h}\n"
        )
        policy.write_text(f'version: "p1"\nclocks:\n{clock}')
        without = policy_ids(load_policy(policy))
        policy.write_text(f'version: "p1"\nteams:\n  desk: {{}}\nclocks:\n{clock}')
        with_teams = policy_ids(load_policy(policy))

        assert ({"reply"}, None) == without
        assert ({"reply"}, {"desk"}) == with_teams


def problems_of(tmp_path: Path, data: dict[str, object]) -> list[str]:
    """The problems loading ``data`` as an alerts file reports (it must fail)."""
    with pytest.raises(ConfigError) as caught:
        load_alerts(write_config(tmp_path, data), clocks={"complaint_first_response"})
    return [str(p) for p in caught.value.problems]


class TestMistakes:
    def test_literal_secret_is_refused(self, tmp_path: Path) -> None:
        """A webhook secret written in the file is refused, naming the field and the fix."""
        channels = {"hook": {"type": "webhook", "url": "http://x", "secret": "hunter2"}}
        problems = problems_of(tmp_path, {**BASE_CONFIG, "channels": channels})
        assert 1 == len(problems)
        assert "channels.hook.secret" in problems[0]
        assert "${ENV_VAR}" in problems[0]

    def test_unknown_recipient_in_team_names_line(self, tmp_path: Path) -> None:
        """A team member who is not a recipient is reported at its line."""
        teams = {"cs-frontline": {"members": ["agent-1", "nobody"]}}
        problems = problems_of(tmp_path, {**BASE_CONFIG, "teams": teams})
        path = tmp_path / "alerts.yaml"
        lines = path.read_text().splitlines()
        line = next(i for i, text in enumerate(lines, 1) if "nobody" in text)
        assert [
            f"{path}:{line}: teams.cs-frontline.members[1]: unknown recipient 'nobody'"
        ] == problems

    def test_email_channel_needs_an_address(self, tmp_path: Path) -> None:
        """A recipient on an e-mail channel without an address is reported."""
        channels = {"mail": {"type": "email", "host": "localhost", "sender": "s@example.com"}}
        recipients = {r: {"channels": ["mail"]} for r in ("agent-1", "agent-2", "sup-1", "head-1")}
        problems = problems_of(
            tmp_path, {**BASE_CONFIG, "channels": channels, "recipients": recipients}
        )
        assert 4 == len(problems)
        assert all("is e-mail: give an address" in p for p in problems)

    def test_unknown_clock_in_ladder(self, tmp_path: Path) -> None:
        """A ladder for a clock the policy does not have is reported."""
        escalation = {"clocks": {"no_such_clock": [{"after": "1m", "to": ["supervisor"]}]}}
        problems = problems_of(tmp_path, {**BASE_CONFIG, "escalation": escalation})
        assert ["unknown clock 'no_such_clock'"] == [p.split(": ")[-1] for p in problems]

    def test_bad_hours(self, tmp_path: Path) -> None:
        """Working hours that are not HH:MM-HH:MM are refused with the bad value."""
        teams = {"cs-frontline": {"roster": {"hours": "9-18"}}}
        problems = problems_of(tmp_path, {**BASE_CONFIG, "teams": teams})
        assert 1 == len(problems)
        assert "'9-18'" in problems[0]


class TestHostileDurations:
    """Durations that pass a duration parser but break alerting at run time are refused."""

    @pytest.mark.parametrize(
        ("change", "field", "bounds"),
        [
            ({"lease": "0.0001s"}, "lease", "between 1s and 1h, got 0.0001s"),
            ({"lease": "36500d"}, "lease", "between 1s and 1h, got 36500d"),
            ({"dedupe_ttl": "0.0001s"}, "dedupe_ttl", "between 1h and 365d, got 0.0001s"),
            (
                {"channels": {"console": {"type": "console", "timeout": "36500d"}}},
                "channels.console.timeout",
                "between 1s and 5m, got 36500d",
            ),
            (
                {"channels": {"console": {"type": "console", "backoff": "0.001s"}}},
                "channels.console.backoff",
                "between 0.1s and 1d, got 0.001s",
            ),
            (
                {"escalation": {"default": [{"after": "0.0001s", "to": ["supervisor"]}]}},
                "escalation.default[0].after",
                "between 1s and 90d, got 0.0001s",
            ),
        ],
        ids=["lease_zero", "lease_century", "dedupe_zero", "timeout", "backoff", "escalation"],
    )
    def test_out_of_bounds(
        self, tmp_path: Path, change: dict[str, object], field: str, bounds: str
    ) -> None:
        """Each is one problem naming the line, the field and the accepted span."""
        problems = problems_of(tmp_path, {**BASE_CONFIG, **change})
        assert [(True, True)] == [(f": {field}: " in p, bounds in p) for p in problems]
        assert re.match(rf"{re.escape(str(tmp_path / 'alerts.yaml'))}:\d+: ", problems[0])

    def test_ladder_longer_than_dedupe_ttl(self, tmp_path: Path) -> None:
        """Levels Redis would forget before they fire are refused, naming the ladder."""
        ladder = [{"after": "20h", "to": ["supervisor"]}, {"after": "5h", "to": ["supervisor"]}]
        problems = problems_of(
            tmp_path, {**BASE_CONFIG, "dedupe_ttl": "1d", "escalation": {"default": ladder}}
        )
        assert [": escalation.default: its levels take 25h in all"] == [
            p[p.index(": escalation") :].split(", not")[0] for p in problems
        ]


class TestReferences:
    def test_environment_variable(self) -> None:
        """${NAME} reads the environment."""
        assert "s3cret" == resolve("${HOOK_SECRET}", {"HOOK_SECRET": "s3cret"}, "f")

    def test_secret_file(self, tmp_path: Path) -> None:
        """secret_file: reads a file, without its trailing newline."""
        path = tmp_path / "secret"
        path.write_text("from-file\n")
        assert "from-file" == resolve(f"secret_file:{path}", {}, "f")

    def test_missing_variable_names_it_not_the_value(self) -> None:
        """A missing variable is named with the field that needs it."""
        with pytest.raises(LookupError) as caught:
            resolve("${NOT_SET_ANYWHERE}", {}, "channels.hook.secret")
        assert "channels.hook.secret: environment variable NOT_SET_ANYWHERE is not set" in str(
            caught.value
        )
