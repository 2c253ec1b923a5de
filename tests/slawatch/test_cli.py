"""The command line from anywhere: SLAWATCH_* settings honoured, package defaults, --version,
and one-line errors with a non-zero exit for a worker or broker that cannot be reached."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from slawatch import __version__
from slawatch.cli import app
from streams.settings import PACKAGE_CONFIG, CommandDefaults, SettingsError
from tests.slawatch.test_replay_cli import POLICY, TOPICS, files  # noqa: F401 (fixture)

REPO = Path(__file__).resolve().parents[2]


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def invoke(args: list[str]) -> Result:
    return CliRunner().invoke(app, args)


def one_line_error(result: Result) -> str:
    """The command failed with exactly one line of output and no traceback."""
    assert result.exit_code != 0, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output
    return lines[0]


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in an empty directory with a decoy config/ and no SLAWATCH_* variables."""
    for name in list(__import__("os").environ):
        if name.startswith("SLAWATCH_"):
            monkeypatch.delenv(name)
    work = tmp_path / "work"
    (work / "config").mkdir(parents=True)
    (work / "config" / "policies.yaml").write_text("not: a policy\n", encoding="utf-8")
    monkeypatch.chdir(work)
    return work


class TestVersion:
    def test_version(self) -> None:
        result = invoke(["--version"])
        assert (result.exit_code, result.output.strip()) == (0, f"slawatch {__version__}")

    def test_installed_command_from_another_directory(self, tmp_path: Path) -> None:
        """The console script itself, started in a directory without config/."""
        command = Path(sys.executable).with_name("slawatch")
        done = subprocess.run(
            [str(command), "rules", "--out", str(tmp_path / "rules")],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert (tmp_path / "rules" / "slawatch.alerts.yaml").exists()


class TestDefaults:
    def test_package_config_not_the_current_directory(self, elsewhere: Path) -> None:
        """A config/ in the current directory is not read: the package's is."""
        result = invoke(["rules", "--out", str(elsewhere / "rules")])
        assert result.exit_code == 0, result.output
        defaults = CommandDefaults.from_env({})
        assert defaults.policies == PACKAGE_CONFIG / "policies.yaml"
        assert defaults.policies.read_bytes() == (REPO / "config" / "policies.yaml").read_bytes()

    def test_check_config_without_files_checks_the_workers(self, elsewhere: Path) -> None:
        result = invoke(["check-config"])
        assert result.exit_code == 0, result.output
        assert "topics.yaml: ok, 2 topics" in result.output
        assert "alerts.yaml: ok" in result.output

    def test_check_config_follows_the_settings(
        self, elsewhere: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("SLAWATCH_POLICIES", str(elsewhere / "config" / "policies.yaml"))
        result = invoke(["check-config"])
        assert result.exit_code == 1
        assert str(elsewhere / "config" / "policies.yaml") in result.output

    def test_rules_read_slawatch_policies(
        self, elsewhere: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        policy = tmp_path / "p.yaml"
        policy.write_text(POLICY, encoding="utf-8")
        monkeypatch.setenv("SLAWATCH_POLICIES", str(policy))
        assert invoke(["rules", "--out", "rules"]).exit_code == 0
        assert "first_response" in (elsewhere / "rules" / "slawatch.alerts.yaml").read_text()
        assert (
            "complaint_first_response"
            not in (elsewhere / "rules" / "slawatch.alerts.yaml").read_text()
        )

    def test_replay_explain_report_read_policies_and_topics(
        self,
        elsewhere: Path,
        monkeypatch: pytest.MonkeyPatch,
        files: dict[str, Path],  # noqa: F811
    ) -> None:
        """No -p/-t: SLAWATCH_POLICIES and SLAWATCH_TOPICS, as the worker reads them."""
        monkeypatch.setenv("SLAWATCH_POLICIES", str(files["policy"]))
        monkeypatch.setenv("SLAWATCH_TOPICS", str(files["topics"]))
        log = str(files["log"])
        replay = invoke(["replay", log, "--no-progress"])
        assert replay.exit_code == 0 and "policy cli-1" in replay.output, replay.output
        explain = invoke(["explain", "A", log])
        assert explain.exit_code == 0 and "started" in explain.output, explain.output
        report = invoke(["report", "monthly", "--log", log, "--all", "--tz", "UTC"])
        assert report.exit_code == 0, report.output

    def test_settings_read_for_commands(self) -> None:
        env = {
            "SLAWATCH_BROKER": "kafka://h1:9092;h2:9092",
            "SLAWATCH_TOPIC_OUTCOMES": "x.outcomes",
            "SLAWATCH_WEB_HOST": "0.0.0.0",
            "SLAWATCH_WEB_PORT": "7000",
            "SLAWATCH_ALERTS": "/etc/slawatch/alerts.yaml",
        }
        d = CommandDefaults.from_env(env)
        assert (d.bootstrap, d.outcomes_topic, d.worker_url, d.alerts) == (
            "h1:9092,h2:9092",
            "x.outcomes",
            "http://127.0.0.1:7000",
            Path("/etc/slawatch/alerts.yaml"),
        )
        url = CommandDefaults.from_env({**env, "SLAWATCH_WORKER_URL": "http://w:1"})
        assert (url.worker_url, url.worker_from) == ("http://w:1", "SLAWATCH_WORKER_URL")

    def test_bad_broker_setting_is_one_line(self, monkeypatch: pytest.MonkeyPatch) -> None:
        with pytest.raises(SettingsError, match="SLAWATCH_BROKER='h1:9092': use kafka://"):
            CommandDefaults.from_env({"SLAWATCH_BROKER": "h1:9092"})
        monkeypatch.setenv("SLAWATCH_BROKER", "h1:9092")
        line = one_line_error(invoke(["report", "weekly"]))
        assert "SLAWATCH_BROKER='h1:9092'" in line


class TestUnreachable:
    @pytest.mark.parametrize(
        ("command", "expected"),
        [
            (
                ["explain", "C-1", "--worker", "http://127.0.0.1:{port}"],
                "worker http://127.0.0.1:{port} (from --worker): cannot reach it",
            ),
            (
                ["report", "weekly", "--kafka", "127.0.0.1:{port}"],
                "cannot reach the broker at 127.0.0.1:{port} within 4 s",
            ),
        ],
        ids=["explain", "report"],
    )
    def test_named_on_the_command_line(self, command: list[str], expected: str) -> None:
        port = closed_port()
        result = invoke([arg.format(port=port) for arg in command])
        assert result.exit_code == 1
        assert expected.format(port=port) in one_line_error(result)

    def test_explain_without_logs_asks_the_configured_worker(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        url = f"http://127.0.0.1:{closed_port()}"
        monkeypatch.setenv("SLAWATCH_WORKER_URL", url)
        line = one_line_error(invoke(["explain", "C-1"]))
        assert f"worker {url} (from SLAWATCH_WORKER_URL): cannot reach it" in line

    def test_report_from_the_workers_broker(self, monkeypatch: pytest.MonkeyPatch) -> None:
        port = closed_port()
        monkeypatch.setenv("SLAWATCH_BROKER", f"kafka://127.0.0.1:{port}")
        line = one_line_error(invoke(["report", "weekly"]))
        assert f"cannot reach the broker at 127.0.0.1:{port}" in line

    def test_report_with_bad_kafka_security_settings(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The worker's SASL settings are used for --kafka; wrong ones are named, exit 2."""
        monkeypatch.setenv("SLAWATCH_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
        result = invoke(["report", "weekly", "--kafka", f"127.0.0.1:{closed_port()}"])
        assert (result.exit_code, "Traceback" in result.output) == (2, False)
        assert "SASL_SSL needs SLAWATCH_KAFKA_SASL_USERNAME" in result.output
