"""``slawatch report weekly|monthly``: supervisors' reports from a replay or the outcomes topic.

The outcome records come from one of three places: a replay of event log files (``--log``,
which also gives each case's attributes for the counts by class and channel), a JSON-lines
file of outcomes (``--outcomes``, as ``slawatch replay --out`` writes it), or the
``sla.outcomes`` topic itself read over a time range (``--kafka``). The numbers are computed
by :mod:`sla.readmodels.reports` and drawn by :mod:`slawatch.report_render`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from rich.console import Console

from sla.readmodels.reports import Report, monthly_responsibility, weekly_summary
from sla.records import OutcomeRecord
from slawatch.replay import replay_files
from slawatch.report_locale import ReportLocale, localize
from slawatch.report_render import render_report, report_csv, report_html

__all__ = ["ReportOptions", "main", "period", "read_outcomes_file", "read_outcomes_topic"]

Kind = Literal["weekly", "monthly"]
Format = Literal["table", "csv", "html"]


@dataclass(frozen=True)
class ReportOptions:
    """What ``slawatch report`` was asked for."""

    kind: Kind
    logs: Sequence[str] = ()
    topics: Path = Path("config/topics.yaml")
    policies: Path = Path("config/policies.yaml")
    outcomes: Path | None = None
    kafka: str | None = None
    outcomes_topic: str = "sla.outcomes"
    since: str | None = None
    until: str | None = None
    everything: bool = False
    timezone: str = "Asia/Shanghai"
    case_kind: str | None = None
    resolution_clocks: Sequence[str] = field(default_factory=tuple)
    format: Format = "table"
    output: Path | None = None
    lang: ReportLocale = "zh-CN"


def read_outcomes_file(path: Path) -> Iterator[OutcomeRecord]:
    """Outcome records from a JSON-lines file (blank lines skipped).

    The ``outcome: open`` rows ``slawatch replay --out`` adds for clocks still running are
    skipped: reports count cycles that ended.
    """
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip() and not _is_open_row(line):
                yield OutcomeRecord.model_validate_json(line)


def _is_open_row(line: str) -> bool:
    row = json.loads(line)
    return isinstance(row, dict) and row.get("type") == "open"


#: How long ``--kafka`` waits for the broker before saying it cannot be reached.
BOOTSTRAP_TIMEOUT_MS = 4000


def kafka_security(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """The worker's Kafka SASL/TLS settings (``SLAWATCH_KAFKA_*``) as client arguments.

    Empty (plaintext) when none is set. Raises :class:`streams.settings.SettingsError` (a
    ValueError) naming a bad variable.
    """
    import os

    from streams.kafka_auth import client_security
    from streams.settings import ENV_PREFIX, Settings

    env = dict(os.environ) if environ is None else environ
    if not any(k.startswith(ENV_PREFIX + "KAFKA_") and v for k, v in env.items()):
        return {}
    return client_security(Settings.from_env(env))


def read_outcomes_topic(
    bootstrap: str,
    topic: str,
    since: datetime | None,
    until: datetime | None,
    security: dict[str, Any] | None = None,
) -> Iterator[OutcomeRecord]:
    """Outcome records of ``topic`` written from ``since`` (by record time) up to now.

    Reads every partition from the first offset at or after ``since`` to the end offset seen
    at the start; records whose cycle ended at or after ``until`` are left to the caller.
    ``security`` are kafka-python client arguments (:func:`kafka_security`).
    """
    from kafka import KafkaConsumer, TopicPartition
    from kafka.errors import KafkaError

    try:
        consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            enable_auto_commit=False,
            consumer_timeout_ms=5000,
            value_deserializer=None,
            bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS,
            **(security or {}),
        )
    except KafkaError as error:
        raise ConnectionError(
            f"cannot reach the broker at {bootstrap} within {BOOTSTRAP_TIMEOUT_MS / 1000:.0f} s "
            f"({type(error).__name__}); check --kafka or SLAWATCH_BROKER and that the broker "
            "is up"
        ) from None
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not partitions:
            raise ValueError(f"topic {topic} does not exist on {bootstrap}")
        consumer.assign(partitions)
        ends = consumer.end_offsets(partitions)
        if since is not None:
            starts = consumer.offsets_for_times(
                {tp: int(since.timestamp() * 1000) for tp in partitions}
            )
            for tp in partitions:
                found = starts.get(tp)
                consumer.seek(tp, found.offset if found is not None else ends[tp])
        else:
            consumer.seek_to_beginning(*partitions)
        remaining = {tp for tp in partitions if consumer.position(tp) < ends[tp]}
        while remaining:
            batch = consumer.poll(timeout_ms=1000)
            if not batch:
                break
            for tp, messages in batch.items():
                for message in messages:
                    if message.offset < ends[tp]:
                        yield OutcomeRecord.model_validate_json(message.value)
                if consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        consumer.close()


def _parse_time(text: str, zone: tzinfo) -> datetime:
    value = datetime.fromisoformat(text)
    return value if value.tzinfo is not None else value.replace(tzinfo=zone)


def period(
    kind: Kind, latest: datetime | None, since: str | None, until: str | None, zone: tzinfo
) -> tuple[datetime | None, datetime | None]:
    """The report's ``[start, end)``: as given, else the week or month of the latest outcome.

    Weeks start on Monday 00:00 and months on the 1st, in ``zone``.

    >>> from datetime import UTC
    >>> period("weekly", datetime(2026, 11, 12, 15, tzinfo=UTC), None, None, UTC)[0].isoformat()
    '2026-11-09T00:00:00+00:00'
    """
    if since is not None or until is not None:
        start = _parse_time(since, zone) if since else None
        end = _parse_time(until, zone) if until else None
        return start, end
    if latest is None:
        return None, None
    local = latest.astimezone(zone)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if kind == "weekly":
        start = midnight - timedelta(days=local.weekday())
        return start, start + timedelta(days=7)
    start = midnight.replace(day=1)
    following = (start + timedelta(days=32)).replace(day=1)
    return start, following


def build(options: ReportOptions) -> Report:
    """Gather the outcomes and compute the report."""
    zone = ZoneInfo(options.timezone)
    cases: dict[str, dict[str, Any]] = {}
    if options.logs:
        result, _ = replay_files(options.logs, options.topics, options.policies)
        outcomes = result.outcomes
        cases = result.cases
    elif options.outcomes is not None:
        outcomes = list(read_outcomes_file(options.outcomes))
    elif options.kafka is not None:
        since = _parse_time(options.since, zone) if options.since else None
        until = _parse_time(options.until, zone) if options.until else None
        security = kafka_security()
        outcomes = list(
            read_outcomes_topic(options.kafka, options.outcomes_topic, since, until, security)
        )
    else:
        raise ValueError("give --log FILE..., --outcomes FILE or --kafka BOOTSTRAP")
    latest = max((r.ended_at for r in outcomes), default=None)
    start, end = (None, None)
    if not options.everything:
        start, end = period(options.kind, latest, options.since, options.until, zone)
    if options.kind == "weekly":
        return weekly_summary(
            outcomes,
            cases,
            start=start,
            end=end,
            case_kind=options.case_kind,
            resolution_clocks=options.resolution_clocks or None,
        )
    return monthly_responsibility(outcomes, start=start, end=end, case_kind=options.case_kind)


def _clock_names(policies: Path) -> dict[str, dict[str, str]]:
    """The clocks' display names from the policy file; none when it cannot be read."""
    from sla.config_file import ConfigError
    from sla.policy_file import load_policy

    try:
        return {c.id: c.name for c in load_policy(policies).clocks}
    except (ConfigError, OSError):
        return {}


def main(options: ReportOptions) -> int:
    """Run ``slawatch report``; the process exit code."""
    try:
        report = localize(build(options), options.lang, _clock_names(options.policies))
    except ValueError as error:
        print(f"slawatch report: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # an unreachable broker, a file that cannot be read
        print(f"slawatch report: {error}", file=sys.stderr)
        return 1
    lang = options.lang
    if options.format == "html":
        text = report_html(report, lang)
    elif options.format == "csv":
        from io import StringIO

        buffer = StringIO(newline="")
        report_csv(report, buffer, lang)
        text = buffer.getvalue()
    else:
        if options.output is not None:
            with options.output.open("w", encoding="utf-8") as handle:
                render_report(Console(file=handle, width=140, highlight=False), report, lang)
        else:
            render_report(Console(highlight=False), report, lang)
        return 0
    if options.output is not None:
        options.output.write_text(text, encoding="utf-8", newline="")
        print(f"wrote {options.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
