"""The generated rules and Alertmanager configuration pass the Prometheus project's own checks.

``promtool`` and ``amtool`` come from Debian's ``prometheus`` and ``prometheus-alertmanager``
packages (``make tools`` installs them); a missing tool fails the test with that advice
rather than skipping it, because CI must run these checks.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from generators.objectives import load_spec
from generators.rules import write_rules
from tests.generators._policies import ROOT, default_with_new_clock

RULES = ROOT / "deploy" / "prometheus" / "rules"
PROMTOOL_TESTS = ROOT / "deploy" / "prometheus" / "tests"
ALERTMANAGER = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"


def tool(name: str) -> str:
    """The path of ``name``, or a failure that says how to install it."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: run `make tools` (Debian's prometheus packages)")
    return path


def run(*args: str, cwd: Path = ROOT, stdout_only: bool = False) -> str:
    """Run a tool; fail with its output when it fails."""
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    assert 0 == result.returncode, output
    return result.stdout if stdout_only else output


class TestPromtool:
    def test_committed_rules_check(self) -> None:
        """`promtool check rules` accepts every committed rule file (syntax and lint)."""
        files = sorted(str(p) for p in RULES.glob("*.yaml"))
        assert 3 == len(files)
        output = run(tool("promtool"), "check", "rules", *files)
        assert 3 == output.count("SUCCESS")

    def test_rules_with_a_new_clock_check(self, tmp_path: Path) -> None:
        """Rules regenerated with one more clock still pass `promtool check rules`."""
        policies = default_with_new_clock(tmp_path)
        written = write_rules(load_spec(policies), tmp_path / "rules")
        run(tool("promtool"), "check", "rules", *(str(p) for p in written))

    def test_unit_tests_pass(self) -> None:
        """`promtool test rules` fires and holds back each kind of alert as its tests expect."""
        files = sorted(str(p) for p in PROMTOOL_TESTS.glob("*.test.yaml"))
        assert files, f"no promtool tests in {PROMTOOL_TESTS}"
        output = run(tool("promtool"), "test", "rules", *files)
        assert len(files) == output.count("SUCCESS")


class TestAmtool:
    def test_config_checks(self) -> None:
        """`amtool check-config` accepts the generated Alertmanager configuration."""
        output = run(tool("amtool"), "check-config", str(ALERTMANAGER))
        assert "SUCCESS" in output

    @pytest.mark.parametrize(
        ("labels", "receiver"),
        [
            (["team=cs-frontline", "severity=page", "category=slo"], "cs-frontline-page"),
            (["team=cs-frontline", "severity=ticket", "category=slo"], "cs-frontline-ticket"),
            (["team=complaints-desk", "severity=page"], "complaints-desk-page"),
            (["team=complaints-desk", "severity=ticket"], "complaints-desk-ticket"),
            (["team=dispatch", "severity=ticket", "category=team"], "dispatch-ticket"),
            (["team=claims", "severity=page"], "claims-page"),
            (["team=transport-dept", "severity=ticket"], "transport-dept-ticket"),
            (["alertname=SlawatchTopicStalled", "category=pipeline", "severity=page"],
             "slawatch-platform"),
            (["alertname=SlawatchBudgetBurn", "team=none", "severity=page"], "slawatch-catch-all"),
            (["alertname=Unrelated"], "slawatch-catch-all"),
        ],
    )  # fmt: skip
    def test_routes(self, labels: list[str], receiver: str) -> None:
        """`amtool config routes test` sends each kind of alert to its team and severity."""
        output = run(
            tool("amtool"), "config", "routes", "test", f"--config.file={ALERTMANAGER}",
            f"--verify.receivers={receiver}", *labels, stdout_only=True,
        )  # fmt: skip
        assert receiver == output.strip().splitlines()[-1].strip()
