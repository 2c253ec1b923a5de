"""Tests for ``slawatch check-config``: exit codes, the summary and the problem lines."""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType

import pytest
from typer.testing import CliRunner, Result

from sla.config_file import ConfigError, Problem
from slawatch.cli import app

ROOT = Path(__file__).parents[2]
DEFAULT_PACK = ROOT / "config" / "policies.yaml"
CORPUS = ROOT / "tests" / "sla" / "policy_corpus"

TOPICS_YAML = "topics:\n  - name: complaints.lifecycle\n"


def check(*files: Path) -> Result:
    """Run ``slawatch check-config`` on ``files`` with a terminal wide enough for the table."""
    return CliRunner().invoke(
        app, ["check-config", *map(str, files)], env={"COLUMNS": "250", "NO_COLOR": "1"}
    )


def fake_topics_module(*, summary: bool = True) -> ModuleType:
    """A stand-in for ``sources.topics``: files whose text says ``bad`` fail on line 2."""
    module = ModuleType("sources.topics")

    def load_topics(path: Path) -> dict[str, str]:
        if "bad" in path.read_text(encoding="utf-8"):
            raise ConfigError([Problem(str(path), 2, "topics[0].name", "is bad")])
        return {"name": "complaints.lifecycle"}

    def topics_summary(config: dict[str, str]) -> list[dict[str, str]]:
        return [{"topic": config["name"], "mapping": "canonical"}]

    module.load_topics = load_topics  # type: ignore[attr-defined]
    if summary:
        module.topics_summary = topics_summary  # type: ignore[attr-defined]
    return module


class TestPolicyFiles:
    def test_default_pack_ok(self) -> None:
        """The default pack exits 0 and prints its version and every clock."""
        result = check(DEFAULT_PACK)
        expected = 0
        assert expected == result.exit_code, result.output
        assert "policy version 2026.11" in result.stdout
        for clock in ("complaint_first_response", "tracking_update", "claim_settlement"):
            assert clock in result.stdout
        assert "ok, policy version 2026.11, 12 clocks" in result.stdout

    def test_filters_are_printed_verbatim(self) -> None:
        """Attribute filters in brackets are shown as text, not eaten as rich markup."""
        result = check(DEFAULT_PACK)
        assert "return_visit_done [satisfaction=dissatisfied|very_dissatisfied]" in result.stdout

    def test_bad_file_lists_problems(self) -> None:
        """A bad file exits 1 and prints each problem as file:line: field: message on stderr."""
        path = CORPUS / "bad" / "unknown_field.yaml"
        result = check(path)
        expected = 1
        assert expected == result.exit_code
        lines = result.stderr.splitlines()
        assert f"{path}:10: clocks[0].limt: is not a known field (check the spelling)" in lines
        assert f"{path}:6: clocks[0].limit: is required but missing" in lines
        assert f"{path}: 2 problems; nothing was loaded" in lines
        expected_stdout = ""
        assert expected_stdout == result.stdout

    def test_one_bad_file_fails_the_run(self) -> None:
        """With a good and a bad file, the good one is summarised and the exit code is 1."""
        result = check(CORPUS / "good" / "minimal.yaml", CORPUS / "bad" / "pause_is_stop.yaml")
        expected = 1
        assert expected == result.exit_code
        assert "first_response" in result.stdout
        assert "is both stop and pause" in result.stderr

    def test_missing_file(self, tmp_path: Path) -> None:
        """A missing file exits 1 with a message naming it."""
        path = tmp_path / "nope.yaml"
        result = check(path)
        expected = 1
        assert expected == result.exit_code
        assert f"{path}: cannot read the file: No such file or directory" in result.stderr

    def test_no_files(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        """Without files the command checks the ones the worker reads (SLAWATCH_POLICIES)."""
        path = tmp_path / "nope.yaml"
        monkeypatch.setenv("SLAWATCH_POLICIES", str(path))
        result = CliRunner().invoke(app, ["check-config"])
        assert 1 == result.exit_code
        assert f"{path}: cannot read the file" in result.stderr


class TestTopicFiles:
    @pytest.fixture
    def topics_file(self, tmp_path: Path) -> Path:
        path = tmp_path / "topics.yaml"
        path.write_text(TOPICS_YAML, encoding="utf-8")
        return path

    def test_summary(self, topics_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """A file with topics: is checked by sources.topics and its summary printed."""
        monkeypatch.setitem(sys.modules, "sources.topics", fake_topics_module())
        result = check(topics_file)
        expected = 0
        assert expected == result.exit_code, result.output
        assert "complaints.lifecycle" in result.stdout
        assert f"{topics_file}: ok, 1 topic" in result.stdout

    def test_without_summary(self, topics_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without topics_summary the file is still checked and reported ok."""
        monkeypatch.setitem(sys.modules, "sources.topics", fake_topics_module(summary=False))
        result = check(topics_file)
        assert f"{topics_file}: ok (topic mapping)" in result.stdout

    def test_problems(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """Problems found by sources.topics are printed like policy problems, exit 1."""
        monkeypatch.setitem(sys.modules, "sources.topics", fake_topics_module())
        path = tmp_path / "topics.yaml"
        path.write_text("topics:\n  - name: bad\n", encoding="utf-8")
        result = check(path)
        expected = (1, f"{path}:2: topics[0].name: is bad")
        assert expected == (result.exit_code, result.stderr.splitlines()[0])

    def test_module_missing(self, topics_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without sources.topics the file is skipped with a message, not failed."""
        monkeypatch.setitem(sys.modules, "sources.topics", None)
        result = check(topics_file)
        expected = 0
        assert expected == result.exit_code
        assert "skipped" in result.stderr

    def test_real_topics_module(self) -> None:
        """The shipped config/topics.yaml passes with the real sources.topics."""
        result = check(ROOT / "config" / "topics.yaml")
        expected = 0
        assert expected == result.exit_code, result.output
        assert "complaints.lifecycle" in result.stdout


class TestAlertsFiles:
    ALERTS = ROOT / "config" / "alerts.yaml"

    def test_default_alerts_checked_against_policy(self) -> None:
        """The default alerts file passes when checked with the policy file it belongs to."""
        result = check(self.ALERTS, DEFAULT_PACK)
        assert 0 == result.exit_code, result.output
        assert "checked against its policy file" in result.stdout

    def test_unknown_clock_in_route_fails(self, tmp_path: Path) -> None:
        """A route naming a clock the policy file lacks fails with the file and line."""
        text = self.ALERTS.read_text(encoding="utf-8").replace(
            "clock: objection_reply", "clock: objection_replly"
        )
        bad = tmp_path / "alerts.yaml"
        bad.write_text(text, encoding="utf-8")
        line = next(i for i, row in enumerate(text.splitlines(), 1) if "objection_replly" in row)
        result = check(DEFAULT_PACK, bad)
        assert 1 == result.exit_code
        assert f"{bad}:{line}" in result.stderr
        assert "objection_replly" in result.stderr


class TestHostilePolicies:
    """What check-config refuses, the worker refuses at start: it never meets it at run time."""

    @pytest.mark.parametrize("name", ["minute_a_week", "alias_bomb", "working_day_too_short"])
    def test_check_config_refuses(self, name: str) -> None:
        """check-config exits 1 naming the file for a hostile corpus file."""
        path = CORPUS / "bad" / f"{name}.yaml"
        result = check(path)
        assert (1, True) == (result.exit_code, str(path) in result.output)

    def test_worker_does_not_start(self, tmp_path: Path) -> None:
        """The worker exits 2 with the check's message before it touches the broker."""
        import subprocess

        path = CORPUS / "bad" / "minute_a_week.yaml"
        (tmp_path / "topics.yaml").write_text(
            "version: 1\ntopics:\n  - name: t\n    mapping: canonical\n"
        )
        env = {
            "PATH": str(Path(sys.executable).parent),
            "SLAWATCH_BROKER": "kafka://127.0.0.1:1",
            "SLAWATCH_POLICIES": str(path),
            "SLAWATCH_TOPICS": str(tmp_path / "topics.yaml"),
            "SLAWATCH_ALERTS": "off",
        }
        done = subprocess.run(
            [str(Path(sys.executable).parent / "slawatch"), "worker"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert (2, True) == (done.returncode, f"{path}:14: clocks[0].limit" in done.stderr)
