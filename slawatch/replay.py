"""``slawatch replay``: run a recorded event log through the real pipeline, in event time.

The files are read through the topic mapping (the same :class:`~sources.mapping.TopicMapping`
the ingest agent uses), the events are ordered by their own time and driven through the same
:class:`~sla.engine.Engine` the worker runs, by :class:`sla.readmodels.replay.Replay`. Outcomes and
breaches are written as JSON lines in the schema of ``sla.outcomes`` and ``sla.breaches``; a
summary per clock ends the run. ``--compare`` replays the same events under a second policy
and prints how breaches and attainment change.

Inputs are ``PATH`` (the file goes through every topic of the topics file, in its order: the
way one recorded feed yields a derived "opened" topic and the updates) or ``TOPIC=PATH``. A
``.csv`` file's first line is its header and is skipped; ``.gz`` and ``.zip`` (first member,
or ``archive.zip:member``) are read directly.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from sla.config_file import ConfigError
from sla.effects import Breached, BreachRetracted, ClockEnded, EventIgnored, WarningDue
from sla.engine import Engine
from sla.events import LifecycleEvent, set_attributes
from sla.policy import PolicySpec
from sla.policy_file import load_policy
from sla.readmodels.replay import Emitted, Replay
from sla.readmodels.reports import OpenClock, compare, tally, tally_table
from sla.records import BreachRecord, OpenCycleRecord, OutcomeRecord
from slawatch.collector import collections_paused, tune_gc
from sources.recorded import (
    DecodeStats,
    ProgressHook,
    Source,
    canonical_events,
    load_events,
    parse_sources,
    stream_events,
)
from sources.topics import load_topics

__all__ = [
    "DEFAULT_RETENTION",
    "ReplayOptions",
    "ReplayResult",
    "decoded",
    "main",
    "replay_files",
    "run_replay",
]

#: How long a finished case is remembered in replay. Longer than any case's quiet spell in
#: the logs replayed, so a late duplicate is recognised instead of starting the case again.
DEFAULT_RETENTION = timedelta(days=400)

#: Failed events quoted in the summary, at most.
_EXAMPLES = 5


@dataclass
class ReplayResult:
    """Everything one replay produced."""

    policy_version: str
    outcomes: list[OutcomeRecord] = field(default_factory=list)
    breaches: list[BreachRecord] = field(default_factory=list)
    warnings: int = 0
    ignored: Counter[str] = field(default_factory=Counter)
    failed: list[str] = field(default_factory=list)
    open_clocks: list[OpenClock] = field(default_factory=list)
    #: The open clocks with their elapsed time so far, as ``outcome: open`` rows for the file.
    open_records: list[OpenCycleRecord] = field(default_factory=list)
    cases: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Cases retention forgot that got events again; their cycles were numbered on.
    revived: int = 0
    events: int = 0
    first_event: datetime | None = None
    last_event: datetime | None = None
    watermark: datetime | None = None
    seconds: float = 0.0

    def collect(self, item: Emitted) -> None:
        """Keep one effect of the replay."""
        effect = item.effect
        # Exact types (no effect class is subclassed), the most common first: once per effect.
        if type(effect) is EventIgnored:
            self.ignored[effect.reason] += 1
        elif type(effect) is ClockEnded:
            self.outcomes.append(effect.record)
        elif type(effect) is Breached or type(effect) is BreachRetracted:
            self.breaches.append(effect.record)
        elif type(effect) is WarningDue:
            self.warnings += 1


def _remember(cases: dict[str, dict[str, Any]], event: LifecycleEvent) -> None:
    """Keep each case's latest attribute values (class, channel, satisfaction) for reports."""
    book = cases.setdefault(event.case_id, {})
    book.update({k: v for k, v in set_attributes(event.attributes).items() if v != ""})


def run_replay(
    events: Iterable[LifecycleEvent],
    spec: PolicySpec,
    *,
    retention: timedelta = DEFAULT_RETENTION,
    on_event: ProgressHook | None = None,
    listener: Callable[[Emitted], None] | None = None,
    keep_cases: bool = True,
) -> ReplayResult:
    """Replay time-ordered ``events`` under ``spec``; the outcomes, breaches and open clocks.

    Args:
        events: canonical events, already in event-time order.
        spec: the policy to judge them by.
        retention: how long finished cases are remembered (see :data:`DEFAULT_RETENTION`).
        on_event: called after each event (a progress bar).
        listener: called with every effect as it happens.
        keep_cases: keep each case's last attributes (for the weekly report).
    """
    result = ReplayResult(policy_version=spec.version)

    def listen(item: Emitted) -> None:
        result.collect(item)
        if listener is not None:
            listener(item)

    engine = Engine.for_policy(spec, retention=retention)
    # Without a listener of the caller's, the result is told directly (one call per effect).
    driver = Replay(
        engine, spec.allowed_lateness, listener=result.collect if listener is None else listen
    )
    started = time.perf_counter()
    with collections_paused():
        for event in events:
            try:
                driver.feed(event)
            except Exception as error:  # one event the engine cannot take must not stop the run
                result.failed.append(
                    f"event {event.event_id} of case {event.case_id}: "
                    f"{type(error).__name__}: {error}"
                )
                continue
            if keep_cases:
                _remember(result.cases, event)
            if result.first_event is None:
                result.first_event = event.occurred_at
            if on_event is not None:
                on_event(1)
    result.seconds = time.perf_counter() - started
    result.events = driver.events
    result.last_event = driver.latest
    result.watermark = driver.watermark
    result.open_clocks = driver.open_clocks()
    result.revived = driver.revived
    if driver.watermark is not None:
        as_of = driver.watermark
        result.open_records = sorted(
            (r for state in driver.states.values() for r in engine.open_cycles(state, as_of)),
            key=lambda r: (r.started_at, r.case_id, r.clock, r.cycle),
        )
    return result


def decoded(payloads: Iterable[bytes]) -> Iterator[LifecycleEvent]:
    """Events from the compact JSON :func:`load_events` returns."""
    return canonical_events(payloads)


def replay_files(
    inputs: Sequence[str],
    topics: Path,
    policies: Path,
    *,
    retention: timedelta = DEFAULT_RETENTION,
) -> tuple[ReplayResult, DecodeStats]:
    """Read, order and replay event log files in one call (tests, reports, notebooks).

    Args:
        inputs: ``PATH`` or ``TOPIC=PATH`` items, as on the command line.
        topics: the topics file whose mappings decode the files.
        policies: the policy file to judge by.
        retention: how long finished cases are remembered.
    """
    config = load_topics(topics)
    sources = parse_sources(inputs, config.mappings())
    stats = DecodeStats()
    payloads = load_events(sources, stats)
    result = run_replay(decoded(payloads), load_policy(policies), retention=retention)
    return result, stats


def _write_jsonl(path: Path, records: Iterable[Any]) -> int:
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for record in records:
            out.write(record.model_dump_json())
            out.write("\n")
            count += 1
    return count


def _progress(console: Console, enabled: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not enabled,
        transient=False,
    )


@dataclass(frozen=True)
class ReplayOptions:
    """What ``slawatch replay`` was asked to do."""

    inputs: Sequence[str]
    topics: Path
    policies: Path
    compare: Path | None = None
    out: Path | None = None
    presorted: bool = False
    retention: timedelta = DEFAULT_RETENTION
    progress: bool = True
    by_team: bool = False


def prepare(
    options: ReplayOptions, console: Console
) -> tuple[list[Source], DecodeStats, list[bytes] | None]:
    """Load the topics file, the inputs and (unless presorted) the ordered events."""
    config = load_topics(options.topics)
    sources = parse_sources(options.inputs, config.mappings())
    stats = DecodeStats()
    if options.presorted:
        return sources, stats, None
    with _progress(console, options.progress) as bar:
        task = bar.add_task("reading", total=None)
        payloads = load_events(sources, stats, lambda n: bar.advance(task, n))
        bar.update(task, total=stats.records, completed=stats.records)
    return sources, stats, payloads


def replay_once(
    spec: PolicySpec,
    options: ReplayOptions,
    sources: Sequence[Source],
    stats: DecodeStats,
    payloads: list[bytes] | None,
    console: Console,
    label: str,
) -> ReplayResult:
    """One run of the engine over the prepared events, with a progress bar."""
    with _progress(console, options.progress) as bar:
        total = len(payloads) if payloads is not None else None
        task = bar.add_task(f"replaying {label}", total=total)
        events: Iterable[LifecycleEvent]
        events = stream_events(sources, stats) if payloads is None else decoded(payloads)
        return run_replay(
            events,
            spec,
            retention=options.retention,
            on_event=lambda n: bar.advance(task, n),
        )


def main(options: ReplayOptions) -> int:
    """Run ``slawatch replay``; the process exit code."""
    tune_gc({})  # a replay holds every open case: see slawatch/collector.py
    console = Console(stderr=True, highlight=False)
    out = Console(highlight=False, width=None if sys.stdout.isatty() else 180)
    try:
        spec = load_policy(options.policies)
        current = load_policy(options.compare) if options.compare is not None else None
        sources, stats, payloads = prepare(options, console)
    except (ConfigError, ValueError, OSError) as error:
        return _exit_on_error(error)
    result = replay_once(spec, options, sources, stats, payloads, console, spec.version)
    if options.out is not None:
        _write_outputs(options.out, result, console)
    _print_summary(out, result, stats, options.by_team)
    if current is not None:
        before = replay_once(current, options, sources, stats, payloads, console, current.version)
        _print_comparison(out, before, result)
    return 0


def _write_outputs(directory: Path, result: ReplayResult, console: Console) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    rows: list[OutcomeRecord | OpenCycleRecord] = [*result.outcomes, *result.open_records]
    outcomes = _write_jsonl(directory / "outcomes.jsonl", rows)
    breaches = _write_jsonl(directory / "breaches.jsonl", result.breaches)
    console.print(
        f"wrote {outcomes} outcomes ({len(result.open_records)} of them clocks still open) to "
        f"{directory / 'outcomes.jsonl'} and {breaches} breach records to "
        f"{directory / 'breaches.jsonl'}"
    )


def _print_summary(out: Console, result: ReplayResult, stats: DecodeStats, by_team: bool) -> None:
    from slawatch.report_render import render_table

    rate = result.events / result.seconds if result.seconds else 0.0
    span = ""
    if result.first_event is not None and result.last_event is not None:
        days = (result.last_event - result.first_event) / timedelta(days=1)
        span = (
            f" from {result.first_event:%Y-%m-%d} to {result.last_event:%Y-%m-%d} "
            f"({days:,.0f} days)"
        )
    out.print(
        f"policy {result.policy_version}: {result.events:,} events{span} replayed in "
        f"{result.seconds:,.1f} s ({rate:,.0f} events/s); {len(result.outcomes):,} outcomes, "
        f"{sum(1 for b in result.breaches if b.type == 'breach'):,} breaches, "
        f"{result.warnings:,} warnings"
    )
    render_table(out, tally_table(tally(result.outcomes, result.open_clocks)))
    if by_team:
        tallies = tally(result.outcomes, result.open_clocks, by_team=True)
        render_table(out, tally_table(tallies, title="Attainment per clock and team"))
    still_open = [c for c in result.open_clocks if not c.breached]
    if result.open_clocks:
        watermark = f"{result.watermark:%Y-%m-%d %H:%M} UTC" if result.watermark else "-"
        out.print(
            f"{len(result.open_clocks):,} clocks still running at the end of the log (last "
            f"watermark {watermark}): {len(still_open):,} open, "
            f"{len(result.open_clocks) - len(still_open):,} breached"
        )
    if result.revived:
        out.print(
            f"warning: {result.revived:,} cases got events again after retention forgot them; "
            "their cycles are numbered on, so no outcome id repeats (raise --retention-days "
            "to keep cases longer)"
        )
    if result.ignored:
        reasons = ", ".join(f"{k} {v:,}" for k, v in sorted(result.ignored.items()))
        out.print(f"events that changed no clock: {reasons}")
    if result.failed:
        out.print(f"events the engine could not apply: {len(result.failed):,}")
        for example in result.failed[:_EXAMPLES]:
            out.print(f"  e.g. {example}")
    if stats.rejected or stats.skipped:
        for label, counter in (("refused", stats.rejected), ("skipped", stats.skipped)):
            if counter:
                items = ", ".join(f"{k} {v:,}" for k, v in sorted(counter.items()))
                out.print(f"records {label} by the mapping: {items}")
        for example in stats.examples:
            out.print(f"  e.g. {example}")


def _print_comparison(out: Console, before: ReplayResult, after: ReplayResult) -> None:
    from slawatch.report_render import render_table

    old_all = tally(before.outcomes, before.open_clocks)
    new_all = tally(after.outcomes, after.open_clocks)
    old_team = tally(before.outcomes, before.open_clocks, by_team=True)
    new_team = tally(after.outcomes, after.open_clocks, by_team=True)
    table = compare(old_all + old_team, new_all + new_team, changed_teams_only=True)
    out.print(
        f"current policy {before.policy_version} → candidate {after.policy_version} (same events):"
    )
    render_table(out, table)


def _exit_on_error(error: Exception) -> int:
    print(f"slawatch replay: {error}", file=sys.stderr)
    return 2
