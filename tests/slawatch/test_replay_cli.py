"""``slawatch replay`` and ``slawatch report`` on small files: inputs, outputs, rendering."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sla.readmodels.reports import Chart, Report, Table
from sla.records import BreachRecord, OpenCycleRecord, OutcomeRecord
from slawatch.cli import app
from slawatch.replay import ReplayResult, replay_files
from slawatch.report import read_outcomes_file
from slawatch.report_render import report_html
from sources.recorded import DecodeStats, Source, parse_sources, read_records
from sources.topics import load_topics

POLICY = """\
version: "cli-1"
clocks:
  - id: first_response
    name: {zh-CN: 首次回复, en: First response}
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
        rows = [json.loads(x) for x in (out / "outcomes.jsonl").open()]
        outcomes = [OutcomeRecord.model_validate(r) for r in rows if r["type"] == "outcome"]
        breaches = [BreachRecord.model_validate_json(x) for x in (out / "breaches.jsonl").open()]
        assert ([("A", "met")], [("B", "breach")]) == (
            [(r.case_id, r.outcome) for r in outcomes],
            [(r.case_id, r.type) for r in breaches],
        )

    def test_clocks_still_running_are_open_rows_with_elapsed_time(
        self, files: dict[str, Path]
    ) -> None:
        """B (breached, still running) and C (running) are `open` rows; A ended; D never began.

        The watermark is C's start (the last event, lateness 5 minutes after it is the
        default): B has run 3 days - 1 hour - 5 minutes, C not at all yet.
        """
        out = files["dir"] / "out"
        args = ["-t", str(files["topics"]), "-p", str(files["policy"]), "--no-progress"]
        result = CliRunner().invoke(app, ["replay", str(files["log"]), *args, "--out", str(out)])
        assert 0 == result.exit_code, result.output
        rows = [json.loads(x) for x in (out / "outcomes.jsonl").open()]
        still = [OpenCycleRecord.model_validate(r) for r in rows if r["outcome"] == "open"]
        watermark = T0 + timedelta(days=3) - timedelta(minutes=5)
        assert [(r.case_id, r.breached, r.elapsed_seconds, r.as_of) for r in still] == [
            ("B", True, (watermark - T0 - timedelta(hours=1)).total_seconds(), watermark),
            ("C", False, 0.0, watermark),
        ]
        assert still[0].outcome_id == "B/first_response/1/outcome"
        assert "2 of them clocks still open" in result.output

    def test_summary_warns_of_cases_seen_again_after_retention(
        self, files: dict[str, Path]
    ) -> None:
        """A comes back 5 days after its cycle ended; retention of 1 day had forgotten it."""
        again = {**json.loads(line("A", "complaint_registered", T0 + timedelta(days=5)))}
        again["event_id"] = "A-again"
        with files["log"].open("a", encoding="utf-8") as log:
            log.write(json.dumps(again) + "\n")
        out = files["dir"] / "out"
        args = ["-t", str(files["topics"]), "-p", str(files["policy"]), "--no-progress"]
        result = CliRunner().invoke(
            app,
            ["replay", str(files["log"]), *args, "--retention-days", "1", "--out", str(out)],
        )
        assert 0 == result.exit_code, result.output
        assert "warning: 1 cases got events again after retention forgot them" in result.output
        ids = [json.loads(x)["outcome_id"] for x in (out / "outcomes.jsonl").open()]
        assert "A/first_response/2/outcome" in ids
        assert len(ids) == len(set(ids))

    def test_report_from_the_file_skips_open_rows(self, files: dict[str, Path]) -> None:
        """`report --outcomes` reads a replay's file: the open rows are not outcomes."""
        out = files["dir"] / "out"
        args = ["-t", str(files["topics"]), "-p", str(files["policy"])]
        CliRunner().invoke(
            app, ["replay", str(files["log"]), *args, "--out", str(out), "--no-progress"]
        )
        assert [r.case_id for r in read_outcomes_file(out / "outcomes.jsonl")] == ["A"]

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


CSV_TOPICS = """\
version: 1
topics:
  - name: tickets.csv
    format: csv
    csv: {columns: [ticket, kind, at, note]}
    case_kind: complaint
    fields:
      case_id: $.ticket
      event_type: $.kind
      occurred_at: $.at
    event_id_from: [case_id, event_type, occurred_at]
"""


class TestBadRecords:
    """One bad record never stops a replay: it is counted with file and line, the run goes on."""

    def test_hostile_times_and_bytes_are_counted_and_skipped(self, files: dict[str, Path]) -> None:
        """Year 1 and 9999, a bare number, garbage and a BOM'd line around good events."""
        good = files["log"].read_text(encoding="utf-8").splitlines()
        hostile = [
            line("Y1", "complaint_registered", T0).replace(
                T0.isoformat(), "0001-01-01T00:00:00+08:00"
            ),
            line("Y9", "complaint_registered", T0).replace(
                T0.isoformat(), "9999-12-31T23:59:59-08:00"
            ),
            line("N", "complaint_registered", T0).replace(f'"{T0.isoformat()}"', "1794360600"),
            "{not json",
            "\ufeff" + line("D", "complaint_registered", T0 + timedelta(hours=5)),
        ]
        log = files["dir"] / "hostile.jsonl"
        log.write_text("\n".join([*good[:2], *hostile, *good[2:]]) + "\n", encoding="utf-8")
        result, stats = replay_files([str(log)], files["topics"], files["policy"])
        assert {
            "complaints.lifecycle: implausible_timestamp": 2,
            "complaints.lifecycle: ambiguous_timestamp": 1,
            "complaints.lifecycle: invalid_json": 1,
        } == dict(stats.rejected)
        assert [f"{log}:{n}" for n in (3, 4, 5, 6)] == [e.split(": ")[0] for e in stats.examples]
        assert (9, 5) == (stats.records, stats.decoded)
        assert {"A", "B", "C", "D"} == {o.case_id for o in result.outcomes} | {
            c.ref.case_id for c in result.open_clocks
        }

    def test_quoted_newline_and_bom_in_csv(self, tmp_path: Path, files: dict[str, Path]) -> None:
        """A quoted cell holding a line break is one record; a BOM starting a row is dropped."""
        result, stats, _ = replay_csv(
            tmp_path,
            files,
            b'T-1,complaint_registered,2026-11-02T09:00:00+00:00,"called back\nleft a message"\n'
            b"\xef\xbb\xbfT-2,complaint_registered,2026-11-02T10:00:00+00:00,\n"
            b"T-1,complaint_acknowledged,2026-11-02T11:00:00+00:00,done\n",
        )
        assert (3, 3, {}) == (stats.records, stats.decoded, dict(stats.rejected))
        assert [("T-1", "met")] == [(o.case_id, o.outcome) for o in result.outcomes]
        assert ["T-2"] == [c.ref.case_id for c in result.open_clocks]

    def test_quote_inside_a_plain_cell_is_a_character(
        self, tmp_path: Path, files: dict[str, Path]
    ) -> None:
        """``5" wide`` in an unquoted cell does not swallow the records below it; a quoted
        cell after a BOM opens as the mapping reads it (one record, refused for its LF)."""
        result, stats, _ = replay_csv(
            tmp_path,
            files,
            b'T-1,complaint_registered,2026-11-02T09:00:00+00:00,screen 5" wide\n'
            b'T-2,complaint_registered,2026-11-02T10:00:00+00:00,"a ""quoted"" word"\n'
            b'\xef\xbb\xbf"T-3\nX",complaint_registered,2026-11-02T10:00:00+00:00,\n'
            b"T-4,complaint_registered,2026-11-02T10:00:00+00:00,\n",
        )
        assert (4, 3, {"tickets.csv: control_character": 1}) == (
            stats.records,
            stats.decoded,
            dict(stats.rejected),
        )
        assert ["T-1", "T-2", "T-4"] == sorted(c.ref.case_id for c in result.open_clocks)

    def test_unclosed_quote_costs_at_most_max_bytes(
        self, tmp_path: Path, files: dict[str, Path]
    ) -> None:
        """A quote never closed ends its record at the topic's max_bytes; the rest is read."""
        rows = [f"T-{i:02},complaint_registered,2026-11-02T10:00:00+00:00,ok\n" for i in range(20)]
        result, stats, log = replay_csv(
            tmp_path,
            files,
            (
                'T-00,complaint_registered,2026-11-02T09:00:00+00:00,"never closed\n'
                + "".join(rows)
            ).encode(),
            topic_extra="    max_bytes: 200\n",
        )
        assert (18, 17, {"tickets.csv: too_large": 1}) == (
            stats.records,
            stats.decoded,
            dict(stats.rejected),
        )
        assert [f"{log}:2"] == [e.split(": ")[0] for e in stats.examples]
        assert 17 == len(result.open_clocks)


def replay_csv(
    tmp_path: Path, files: dict[str, Path], rows: bytes, topic_extra: str = ""
) -> tuple[ReplayResult, DecodeStats, Path]:
    """Replay ``rows`` (below a header line) as the CSV topic ``tickets.csv``."""
    topics = tmp_path / "csv-topics.yaml"
    topics.write_text(CSV_TOPICS + topic_extra, encoding="utf-8")
    log = tmp_path / "tickets.csv"
    log.write_bytes(b"ticket,kind,at,note\n" + rows)
    result, stats = replay_files([str(log)], topics, files["policy"])
    return result, stats, log


class TestReportLanguage:
    def run_report(self, files: dict[str, Path], kind: str, *extra: str) -> Path:
        out = files["dir"] / f"{kind}{'-'.join(extra)}.out"
        args = ["report", kind, "--log", str(files["log"]), "-p", str(files["policy"])]
        args += ["-t", str(files["topics"]), "--all", "-o", str(out), *extra]
        result = CliRunner().invoke(app, args)
        assert 0 == result.exit_code, result.output
        return out

    def test_csv_opens_in_excel_with_chinese_titles(self, files: dict[str, Path]) -> None:
        """The CSV starts with a UTF-8 byte-order mark (Excel reads it as UTF-8) and is Chinese."""
        raw = self.run_report(files, "weekly", "--format", "csv", "--case-kind", "complaint")
        data = raw.read_bytes()
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
        assert (b"\xef\xbb\xbf", ["# 投诉周报", "全部数据"]) == (data[:3], rows[0])
        header = rows.index(["# 各时限按时率"]) + 1
        assert ["时限", "周期数", "按时", "超时"] == rows[header][:4]
        assert "首次回复" == rows[header + 1][0]  # the clock by its name in the policy

    def test_english_on_request(self, files: dict[str, Path]) -> None:
        """--lang en keeps the English titles (and still the byte-order mark)."""
        raw = self.run_report(files, "monthly", "--format", "csv", "--lang", "en")
        text = raw.read_bytes().decode("utf-8-sig")
        assert text.startswith("# Monthly responsibility report,all data")

    @pytest.mark.parametrize("kind", ["weekly", "monthly"])
    def test_every_label_is_translated(self, files: dict[str, Path], kind: str) -> None:
        """Every title, heading and note of both reports reads in Chinese (none left English)."""
        from slawatch.report import ReportOptions, build
        from slawatch.report_locale import localize

        options = ReportOptions(
            kind=kind,  # type: ignore[arg-type]
            logs=(str(files["log"]),),
            topics=files["topics"],
            policies=files["policy"],
            everything=True,
        )
        report = localize(build(options))
        texts = [report.title, *report.notes]
        for table in report.tables:
            texts += [table.title, *table.columns, *([table.note] if table.note else [])]
        assert [] == [t for t in texts if not re.search(r"[\u4e00-\u9fff]", t)]

    def test_html_page_declares_its_language(self, files: dict[str, Path]) -> None:
        """The HTML report says lang="zh-CN" so browsers pick Chinese fonts."""
        page = self.run_report(files, "weekly", "--format", "html").read_text("utf-8")
        assert '<html lang="zh-CN">' in page


class TestCanonicalEvents:
    def test_read_back_equals_full_validation(self) -> None:
        """Events read back without the Python checks are the ones full validation gives."""
        from sla.events import LifecycleEvent
        from sources.recorded import canonical_events

        events = [
            LifecycleEvent(
                event_id="e-1",
                case_id="C-1",
                case_kind="complaint",
                event_type="complaint_registered",
                occurred_at=datetime(2026, 3, 1, 9, 30, 0, 250000, tzinfo=UTC),
                attributes={"channel": "phone", "promised_by": "2026-03-02T09:00:00+08:00"},
            ),
            LifecycleEvent.model_validate(
                {
                    "event_id": "e-2",
                    "case_id": "C-1",
                    "case_kind": "complaint",
                    "event_type": "complaint_closed",
                    "occurred_at": "2026-03-01T18:00:00+02:00",
                    "sequence": 3,
                    "attributes": {"team": "T1", "impact": "2 - Medium", "count": 4, "vip": True},
                }
            ),
        ]
        payloads = [LifecycleEvent.__pydantic_serializer__.to_json(e) for e in events]
        expected = [LifecycleEvent.model_validate_json(p) for p in payloads]
        read = list(canonical_events(payloads))

        def shape(e: LifecycleEvent) -> tuple[object, ...]:
            return (type(e), e, e.model_fields_set, e.attributes.model_fields_set)

        assert [shape(e) for e in expected] == [shape(e) for e in read]
        assert [repr(e.occurred_at) for e in expected] == [repr(e.occurred_at) for e in read]
