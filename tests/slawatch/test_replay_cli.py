"""``slawatch replay`` and ``slawatch report`` on small files: inputs, outputs, rendering."""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sla.records import BreachRecord, OutcomeRecord
from sla.reports import Chart, Report, Table
from slawatch.cli import app
from slawatch.replay import Source, parse_sources, read_records
from slawatch.report_render import report_html
from streams.topics import load_topics

POLICY = """\
version: "cli-1"
clocks:
  - id: first_response
    case_kind: complaint
    start: [complaint_registered]
    stop: [complaint_acknowledged]
    limit: 24h
"""
TOPICS = """\
version: 1
topics:
  - name: complaints.lifecycle
    format: json
    mapping: canonical
"""
T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)


def line(case: str, kind: str, at: datetime) -> str:
    return json.dumps(
        {
            "event_id": f"{case}-{kind}",
            "case_id": case,
            "case_kind": "complaint",
            "event_type": kind,
            "occurred_at": at.isoformat(),
        }
    )


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    policy = tmp_path / "policies.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    topics = tmp_path / "topics.yaml"
    topics.write_text(TOPICS, encoding="utf-8")
    log = tmp_path / "log.jsonl"
    log.write_text(
        "\n".join(
            [
                line("B", "complaint_registered", T0 + timedelta(hours=1)),
                line("A", "complaint_registered", T0),
                line("A", "complaint_acknowledged", T0 + timedelta(hours=2)),
                line("C", "complaint_registered", T0 + timedelta(days=3)),
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    return {"policy": policy, "topics": topics, "log": log, "dir": tmp_path}


class TestReplayCommand:
    def test_writes_outcomes_and_breaches_as_json_lines(self, files: dict[str, Path]) -> None:
        """Outcomes and breach records are written in the schema of their topics."""
        out = files["dir"] / "out"
        result = CliRunner().invoke(
            app,
            [
                "replay",
                str(files["log"]),
                "-t",
                str(files["topics"]),
                "-p",
                str(files["policy"]),
                "--out",
                str(out),
                "--no-progress",
            ],
        )
        assert 0 == result.exit_code, result.output
        outcomes = [OutcomeRecord.model_validate_json(x) for x in (out / "outcomes.jsonl").open()]
        breaches = [BreachRecord.model_validate_json(x) for x in (out / "breaches.jsonl").open()]
        assert ([("A", "met")], [("B", "breach")]) == (
            [(r.case_id, r.outcome) for r in outcomes],
            [(r.case_id, r.type) for r in breaches],
        )

    def test_summary_reports_open_clocks(self, files: dict[str, Path]) -> None:
        """The summary says how many clocks were still running, and how many had breached."""
        result = CliRunner().invoke(
            app,
            [
                "replay",
                str(files["log"]),
                "-t",
                str(files["topics"]),
                "-p",
                str(files["policy"]),
                "--no-progress",
            ],
        )
        assert "2 clocks still running at the end of the log" in result.output
        assert "1 open, 1 breached" in result.output

    def test_compare_prints_the_change(self, files: dict[str, Path]) -> None:
        """A looser candidate turns the breach into an open clock: one breach fewer."""
        candidate = files["dir"] / "candidate.yaml"
        candidate.write_text(POLICY.replace("cli-1", "cli-2").replace("24h", "96h"), "utf-8")
        result = CliRunner().invoke(
            app,
            [
                "replay",
                str(files["log"]),
                "-t",
                str(files["topics"]),
                "-p",
                str(candidate),
                "--compare",
                str(files["policy"]),
                "--no-progress",
            ],
        )
        assert 0 == result.exit_code, result.output
        assert "current policy cli-1 → candidate cli-2" in result.output
        assert "-1" in result.output.split("Policy change")[1]


class TestInputs:
    def test_bare_path_goes_through_every_topic(self, files: dict[str, Path]) -> None:
        """A file without TOPIC= is read through each topic of the topics file."""
        mappings = load_topics(files["topics"]).mappings()
        sources = parse_sources([str(files["log"])], mappings)
        assert ["complaints.lifecycle"] == [s.topic for s in sources]

    def test_unknown_topic_names_the_known_ones(self, files: dict[str, Path]) -> None:
        """TOPIC=PATH with an unknown topic lists the topics the file has."""
        mappings = load_topics(files["topics"]).mappings()
        with pytest.raises(ValueError, match=r"complaints\.lifecycle"):
            parse_sources([f"nope={files['log']}"], mappings)

    def test_zip_members_and_csv_headers(self, tmp_path: Path) -> None:
        """A zip is read from its first member, and a CSV file's header line is skipped."""
        archive = tmp_path / "log.zip"
        with zipfile.ZipFile(archive, "w") as z:
            z.writestr("log.csv", "case,type\nA,x\n\nB,y\n")
        mapping = type("M", (), {"format": "csv"})()
        source = Source(archive, "t", mapping)  # type: ignore[arg-type]
        assert [(2, b"A,x"), (4, b"B,y")] == list(read_records(source))


class TestHtml:
    def test_page_is_self_contained_with_charts(self) -> None:
        """The HTML has inline SVG charts and loads nothing from elsewhere."""
        table = Table("T", ("clock", "rate"), ("text", "pct"), (("a", 0.9),), chart=Chart(0, 1))
        page = report_html(Report("R", None, None, (table,)))
        assert ("<svg" in page, "<script" in page, "src=" in page, "href=" in page) == (
            True,
            False,
            False,
            False,
        )
