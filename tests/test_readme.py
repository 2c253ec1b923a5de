"""README promises: its two commands exist, and its configuration example is a valid file."""

from __future__ import annotations

import re
from pathlib import Path

from alerts.config import load_alerts

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _yaml_block_after(heading: str) -> str:
    section = README.split(heading, 1)[1]
    return section.split("```yaml\n", 1)[1].split("```", 1)[0]


class TestReadme:
    def test_two_commands_near_the_top(self) -> None:
        """The first code block holds exactly `make demo` and `make test`."""
        first = README.split("```sh\n", 1)[1].split("```", 1)[0]
        commands = [re.split(r"\s+#", line)[0].strip() for line in first.splitlines()]
        assert ["make demo", "make test"] == [c for c in commands if c]

    def test_ci_runs_the_test_command(self) -> None:
        """CI runs README's test command."""
        assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")

    def test_alerts_example_loads(self, tmp_path: Path) -> None:
        """The alerts example in README is a valid alerts file for the default policy's ids."""
        path = tmp_path / "alerts.yaml"
        path.write_text(_yaml_block_after("## Alerts: who hears about it"), encoding="utf-8")
        spec = load_alerts(path, {"complaint_first_response"}, {"cs-frontline"})
        assert ["console", "ops-webhook", "cs-dingtalk", "slack-cs", "mail"] == list(spec.channels)
