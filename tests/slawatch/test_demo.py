"""`slawatch demo`: its printed lines, and (integration) a whole run against the real broker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from slawatch.demo import ROBOT_NAMES, DemoOptions, describe, run
from streams.settings import TopicNames

REPO = Path(__file__).resolve().parents[2]
NAMES = TopicNames()

RECORD = {
    "case_id": "CP-000012",
    "case_kind": "complaint",
    "clock": "complaint_first_response",
    "cycle": 1,
    "team": "cs-frontline",
    "region": "cn-gd",
    "assignee": "agent-gd-007",
    "started_at": "2026-11-11T09:00:00+08:00",
    "deadline": "2026-11-11T09:00:30+08:00",
    "due_at": "2026-11-11T09:00:30+08:00",
}


class TestDescribe:
    def test_breach(self) -> None:
        """A breach line names clock, case, team, region and how late."""
        record = {**RECORD, "type": "breach", "emitted_at": "2026-11-11T09:00:33+08:00"}
        line, kind = describe(NAMES.breaches, record, NAMES)
        assert ("breach", True) == (
            kind,
            all(
                part in (line or "")
                for part in ("BREACH", "complaint_first_response", "CP-000012", "cs-frontline")
            )
            and "cn-gd" in (line or "")
            and "passed 3.0s ago" in (line or ""),
        )

    def test_warning_at_80_printed(self) -> None:
        """A warning at 80 % is printed with the time left."""
        record = {**RECORD, "type": "warning", "threshold": 0.8}
        record["emitted_at"] = "2026-11-11T09:00:24+08:00"
        line, kind = describe(NAMES.warnings, record, NAMES)
        assert ("warning", True) == (kind, "due in 6.0s" in (line or ""))

    def test_warning_at_50_counted_only(self) -> None:
        """A warning at 50 % is counted, not printed."""
        record = {**RECORD, "type": "warning", "threshold": 0.5}
        assert (None, "warning") == describe(NAMES.warnings, record, NAMES)

    def test_retraction(self) -> None:
        """A retraction says the clock was met after all."""
        record = {**RECORD, "type": "breach_retracted", "stopped_at": "2026-11-11T09:00:20+08:00"}
        line, kind = describe(NAMES.breaches, record, NAMES)
        assert ("retracted", True) == (kind, "met 10.0s early" in (line or ""))

    def test_met_outcome_counted_only(self) -> None:
        """A met outcome is counted, not printed."""
        record = {**RECORD, "type": "outcome", "outcome": "met"}
        assert (None, "met") == describe(NAMES.outcomes, record, NAMES)

    def test_late_outcome(self) -> None:
        """A breached outcome says how long after the deadline the case was handled."""
        record = {
            **RECORD,
            "type": "outcome",
            "outcome": "breached",
            "ended_at": "2026-11-11T09:01:42+08:00",
        }
        line, _ = describe(NAMES.outcomes, record, NAMES)
        assert True is ("handled 1m12s after" in (line or ""))

    def test_no_staff_id_printed(self) -> None:
        """Lines carry team and region, not the assignee."""
        record = {**RECORD, "type": "breach", "emitted_at": "2026-11-11T09:00:33+08:00"}
        line, _ = describe(NAMES.breaches, record, NAMES)
        assert False is ("agent-gd-007" in (line or ""))

    def test_dead_letter(self) -> None:
        """A dead letter shows its topic and reason."""
        record = {"reason": "invalid_json", "detail": "not JSON", "topic": "shipments.lifecycle"}
        line, kind = describe(NAMES.deadletter, record, NAMES)
        assert ("dead_letter", True) == (kind, "shipments.lifecycle: invalid_json" in (line or ""))


class TestInputs:
    def test_bad_policy_file(self, tmp_path: Path) -> None:
        """A broken policy file stops the demo before anything starts, exit code 2."""
        bad = tmp_path / "p.yaml"
        bad.write_text("version: 1\nclocks: []\n", encoding="utf-8")
        assert 2 == run(DemoOptions(policies=bad, run_dir=tmp_path / "run"))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.integration
class TestWholeDemo:
    def test_run_shows_warnings_and_breaches(self, tmp_path: Path) -> None:
        """A 40 s demo prints warnings, breaches, alerts and an escalation, acknowledges one
        breach from its link, delivers to the three chat robots (signatures checked) and
        reports the worklist; no process is left."""
        from streams.broker import free_port

        command = [sys.executable, "-m", "slawatch.cli", "demo", "--duration", "40"]
        command += ["--port", str(free_port()), "--run-dir", str(tmp_path)]
        result = subprocess.run(
            command,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=280,
        )
        out = result.stdout
        worker_pid = int(out.split("worker  pid ", 1)[1].split(",", 1)[0])
        assert (0, True, True, True, True, True, True, True, False) == (
            result.returncode,
            " WARN " in out,
            " BREACH " in out,
            "[alert 1 -> " in out,
            "] 【升级 第 2 级】" in out,
            "✔ acknowledged " in out,
            " to chase · " in out,
            all(f"{robot} ✔ 【已超时】" in out for robot in ROBOT_NAMES.values())
            and " refused" not in out,
            _alive(worker_pid),
        ), out + result.stderr
