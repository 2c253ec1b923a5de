"""Tests for sla.policy_file: the policy corpus, the default pack, cross-field checks, summary."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from alerts.config import load_alerts
from sla.config_file import ConfigError, read_yaml
from sla.policy import PolicySpec
from sla.policy_file import PolicyError, load_policy, policy_summary
from sources.topics import load_topics

CORPUS = Path(__file__).parent / "policy_corpus"
ROOT = Path(__file__).parents[2]
DEFAULT_PACK = ROOT / "config" / "policies.yaml"
#: The brief's domain page, beside the shared data (``$SLAWATCH_TEST_DATA/..``).
DOMAIN = (
    Path(os.environ["SLAWATCH_TEST_DATA"]).parent
    if os.environ.get("SLAWATCH_TEST_DATA")
    else ROOT.parent / "shared"
) / "DOMAIN.md"

#: The DOMAIN.md table row (its first cell) -> the clock id the default pack gives it.
DOMAIN_CLOCKS = {
    "complaint first response": "complaint_first_response",
    "responsible department contact": "department_contact",
    "complaint resolution": "complaint_resolution",
    "return visit (回访)": "return_visit",
    "dissatisfied follow-up": "dissatisfied_follow_up",
    "e-mail / consultation reply": "email_reply",
    "objection (异议) reply": "objection_reply",
    "pickup arrival": "pickup_arrival",
    "promised delivery (次日达, 隔日达, 加急)": "promised_delivery",
    "exception notification": "exception_notification",
    "tracking update": "tracking_update",
    "claim settlement": "claim_settlement",
}


@dataclass(frozen=True)
class Expected:
    """One ``# error: <substring>`` header line, with the ``# line: N`` that follows it."""

    text: str
    line: int | None


def expectations(path: Path) -> list[Expected]:
    """The expected errors declared in the leading comment lines of a corpus file."""
    out: list[Expected] = []
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if not raw.startswith("#"):
            break
        if match := re.match(r"#\s*error:\s*(.+)$", raw):
            out.append(Expected(match.group(1).strip(), None))
        elif (match := re.match(r"#\s*line:\s*(\d+)\s*$", raw)) and out:
            out[-1] = Expected(out[-1].text, int(match.group(1)))
    return out


def corpus_files() -> list[Path]:
    return sorted(CORPUS.glob("good/*.yaml")) + sorted(CORPUS.glob("bad/*.yaml"))


class TestCorpus:
    @pytest.mark.parametrize("path", corpus_files(), ids=lambda p: f"{p.parent.name}/{p.stem}")
    def test_file(self, path: Path) -> None:
        """Good files load; bad files fail with each declared message, on the declared line."""
        if path.parent.name == "good":
            assert isinstance(load_policy(path), PolicySpec)
            return
        expected = expectations(path)
        assert expected, f"{path.name} declares no '# error:' line"
        with pytest.raises(ConfigError) as info:
            load_policy(path)
        problems = info.value.problems
        for want in expected:
            found = [p for p in problems if want.text in str(p)]
            assert found, f"no problem contains {want.text!r}; got:\n{info.value}"
            if want.line is not None:
                assert want.line in [p.line for p in found], f"wrong line; got:\n{info.value}"
            assert all(str(p).startswith(str(path)) for p in found)

    def test_corpus_is_not_empty(self) -> None:
        """The corpus has good and bad files, so the parametrized test checks something."""
        assert len(list(CORPUS.glob("good/*.yaml"))) >= 3
        assert len(list(CORPUS.glob("bad/*.yaml"))) >= 11


class TestLoadPolicy:
    def test_every_problem_at_once(self, tmp_path: Path) -> None:
        """Cross-field mistakes in several clocks are all reported in one error."""
        path = tmp_path / "p.yaml"
        path.write_text(
            'version: "1"\n'
            "clocks:\n"
            "  - {id: a, case_kind: c, start: [s], stop: [t], limit: 1 working day}\n"
            "  - {id: a, case_kind: c, start: [s], stop: [t], limit: 1h, calendar: x}\n"
            "  - {id: b, case_kind: c, start: [s], stop: [s], pause: [s], limit: 1h}\n",
            encoding="utf-8",
        )
        with pytest.raises(PolicyError) as info:
            load_policy(path)
        expected = [
            (3, "clocks[0].limit"),
            (4, "clocks[1].calendar"),
            (4, "clocks[1].id"),
            (5, "clocks[2].start[0]"),
            (5, "clocks[2].stop[0]"),
        ]
        assert expected == sorted((p.line, p.field) for p in info.value.problems)

    def test_policy_error_is_a_config_error(self, tmp_path: Path) -> None:
        """Schema errors also raise PolicyError, so callers catch one type for a policy file."""
        path = tmp_path / "p.yaml"
        path.write_text('version: "1"\nclocks: []\n', encoding="utf-8")
        with pytest.raises(PolicyError):
            load_policy(path)

    def test_missing_file(self, tmp_path: Path) -> None:
        """A missing file is a ConfigError naming the file, not an OSError."""
        path = tmp_path / "absent.yaml"
        with pytest.raises(ConfigError) as info:
            load_policy(path)
        assert f"{path}: cannot read the file: No such file or directory" == str(info.value)


class TestDefaultPack:
    def test_loads(self) -> None:
        """config/policies.yaml passes every check, with a quoted string version."""
        spec = load_policy(DEFAULT_PACK)
        expected = "2026.11"
        assert expected == spec.version

    def test_clock_for_every_domain_row(self) -> None:
        """Every time limit in the DOMAIN.md table has its clock in the default pack."""
        clock_ids = {c.id for c in load_policy(DEFAULT_PACK).clocks}
        assert set(DOMAIN_CLOCKS.values()) <= clock_ids

    def test_domain_table_is_mapped(self) -> None:
        """Each row of the DOMAIN.md table is named in DOMAIN_CLOCKS (a new row needs a clock)."""
        assert DOMAIN.exists(), f"{DOMAIN} is absent: clone the shared/ folder beside the repo"
        rows = re.findall(r"^\| ([^|]+?) \|", DOMAIN.read_text(encoding="utf-8"), re.MULTILINE)
        names = [r for r in rows if r not in ("clock",) and not r.startswith("---")]
        assert sorted(DOMAIN_CLOCKS) == sorted(names)

    def test_targets_per_standard(self) -> None:
        """Targets are the documents': basic 95 %, special period 90 %, expedited 98 %."""
        spec = load_policy(DEFAULT_PACK)
        expected = {"basic": 0.95, "special": 0.90, "expedited": 0.98}
        assert expected == spec.targets

    def test_documents_numbers(self) -> None:
        """The limits the documents state are kept: 24 h, 3 working days, 24 h."""
        spec = load_policy(DEFAULT_PACK)
        limits = {c.id: c.limit.text for c in spec.clocks}
        expected = "24h"
        assert expected == limits["complaint_first_response"]
        expected = "3 working days"
        assert expected == limits["department_contact"]
        expected = "24h"
        assert expected == limits["objection_reply"]
        expected = "until promised_by"
        assert expected == limits["promised_delivery"]

    def test_event_types_listed_in_header(self) -> None:
        """Every event type a clock uses is listed in the comment block at the top of the file."""
        spec = load_policy(DEFAULT_PACK)
        header = DEFAULT_PACK.read_text(encoding="utf-8").split("\nversion:")[0]
        used = set().union(*(c.event_types() for c in spec.clocks))
        assert set() == {e for e in used if not re.search(rf"\b{e}\b", header)}


class TestPolicySummary:
    def test_rows(self) -> None:
        """One row per clock with its events, limit, calendar and target as text."""
        spec = load_policy(CORPUS / "good" / "full.yaml")
        expected = [
            {
                "clock": "complaint_resolution",
                "case_kind": "complaint",
                "starts_on": "complaint_registered",
                "stops_on": "complaint_resolved",
                "limit": "7 working days",
                "calendar": "office",
                "target": "95%",
                "standard": "basic",
                "team": "complaints-desk",
                "overrides": "2",
            },
            {
                "clock": "promised_delivery",
                "case_kind": "shipment",
                "starts_on": "picked_up",
                "stops_on": "signed_for",
                "limit": "until promised_by",
                "calendar": "-",
                "target": "95%",
                "standard": "basic",
                "team": "dispatch",
                "overrides": "0",
            },
        ]
        assert expected == policy_summary(spec)

    def test_filters_and_fractional_targets(self) -> None:
        """Attribute filters show in brackets; a target such as 97.5 % keeps its decimal."""
        spec = PolicySpec.model_validate(
            {
                "version": "1",
                "clocks": [
                    {
                        "id": "follow_up",
                        "case_kind": "complaint",
                        "start": [{"event": "visit", "when": {"satisfaction": ["bad", "worse"]}}],
                        "stop": ["done"],
                        "limit": "24h",
                        "target": 0.975,
                    }
                ],
            }
        )
        row = policy_summary(spec)[0]
        expected = ("visit [satisfaction=bad|worse]", "97.5%", "elapsed")
        assert expected == (row["starts_on"], row["target"], row["calendar"])


class TestHostileFiles:
    """Files too big or too deep to commit are generated; every loader refuses them cleanly."""

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("clocks: " + "[" * 100_000 + "]" * 100_000 + "\n", "nested more than 32 levels"),
            ("{" * 100_000, "nested more than 32 levels"),
            ("# padding\n" * 120_000 + 'version: "1"\n', "may hold at most 1048576 bytes"),
        ],
        ids=["100k_brackets", "100k_unclosed_braces", "1.2MB"],
    )
    def test_generated(self, tmp_path: Path, text: str, message: str) -> None:
        """100k nested brackets and a file over 1 MiB are ConfigErrors, not tracebacks."""
        path = tmp_path / "p.yaml"
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ConfigError, match=message):
            load_policy(path)

    @pytest.mark.parametrize("name", ["alias_bomb", "deep_nesting", "not_utf8"])
    def test_alerts_and_topics_files_refuse_them_too(self, name: str) -> None:
        """The alerts and topics loaders share the reader, so they refuse the same files."""
        path = CORPUS / "bad" / f"{name}.yaml"
        with pytest.raises(ConfigError):
            load_alerts(path, {"reply"}, set())
        with pytest.raises(ConfigError):
            load_topics(path)


class TestReader:
    @pytest.mark.parametrize(
        "path",
        [DEFAULT_PACK, ROOT / "config" / "alerts.yaml", *sorted(CORPUS.glob("good/*.yaml"))],
        ids=lambda p: p.name,
    )
    def test_same_data_as_pyyaml(self, path: Path) -> None:
        """One parse (libyaml's when PyYAML has it) gives what yaml.safe_load gives."""
        assert yaml.safe_load(path.read_text(encoding="utf-8")) == read_yaml(path)[0]
