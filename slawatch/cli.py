"""The ``slawatch`` command. Each command is a thin wrapper over the module that does the work.

Commands import their module lazily so ``slawatch --help`` stays fast and light.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    name="slawatch",
    help="Watch customer-service event streams and know, live, which case is about to miss "
    "which time limit.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_show_locals=False,
)

DEFAULT_POLICIES = Path("config/policies.yaml")
DEFAULT_TOPICS = Path("config/topics.yaml")

PoliciesOption = Annotated[
    Path, typer.Option("--policies", "-p", help="Policy file (clocks, calendars, targets).")
]
TopicsOption = Annotated[
    Path, typer.Option("--topics", "-t", help="Topic mapping file (which topics, how to map them).")
]


@app.callback()
def _commands() -> None:
    # Keeps `slawatch check-config ...` a subcommand even while it is the only command.
    pass


@app.command("check-config", rich_help_panel="Configure")
def check_config(
    files: Annotated[list[Path], typer.Argument(help="Policy or topic files to validate.")],
) -> None:
    """Validate policy and topic files: a summary, or every mistake with file, line and field."""
    from slawatch.check_config import run

    raise typer.Exit(run(files))


@app.command("schema", rich_help_panel="Configure")
def schema(
    write: Annotated[
        bool, typer.Option("--write", help="Write schemas/lifecycle-event.schema.json.")
    ] = False,
    check: Annotated[
        bool, typer.Option("--check", help="Exit 1 when the committed schema file is stale.")
    ] = False,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Schema file for --write and --check.")
    ] = Path("schemas/lifecycle-event.schema.json"),
) -> None:
    """Print the JSON Schema of the canonical lifecycle event (or write / check the file)."""
    from slawatch.schema import render
    from slawatch.schema import write as write_schema

    if check:
        current = output.read_text(encoding="utf-8") if output.exists() else ""
        if current != render():
            typer.echo(f"{output} is stale: run `slawatch schema --write`", err=True)
            raise typer.Exit(1)
        typer.echo(f"{output} is up to date")
    elif write:
        changed = write_schema(output)
        typer.echo(f"{'wrote' if changed else 'unchanged:'} {output}")
    else:
        typer.echo(render(), nl=False)


@app.command("demo", rich_help_panel="Run")
def demo(
    port: Annotated[int, typer.Option(help="Port of the worker's web server (/metrics).")] = 6066,
    duration: Annotated[
        float | None,
        typer.Option(help="Stop by itself after feeding events for this many seconds."),
    ] = None,
    seed: Annotated[
        int, typer.Option(help="Seed of the event generator (same seed, same cases).")
    ] = 7,
    rate: Annotated[float, typer.Option(help="New cases per second.")] = 2.0,
    policies: PoliciesOption = Path("config/demo-policies.yaml"),
    topics: TopicsOption = DEFAULT_TOPICS,
    run_dir: Annotated[Path, typer.Option(help="Where the worker and broker logs go.")] = Path(
        ".run/demo"
    ),
) -> None:
    """Run everything locally: a broker, the worker, a realistic compressed-time event stream.

    Warnings and breaches appear within the first minute; metrics are served on the worker's
    port. Stop with Ctrl-C.
    """
    from slawatch.demo import DemoOptions, run

    options = DemoOptions(
        port=port,
        duration=duration,
        seed=seed,
        rate=rate,
        policies=policies,
        topics=topics,
        run_dir=run_dir,
    )
    raise typer.Exit(run(options))


@app.command("worker", rich_help_panel="Run")
def worker(
    loglevel: Annotated[
        str | None,
        typer.Option(
            "--loglevel", "-l", help="debug, info, warning or error (SLAWATCH_LOG_LEVEL)."
        ),
    ] = None,
    reevaluate: Annotated[
        bool,
        typer.Option(
            "--reevaluate",
            help="Re-judge running clocks started under an older policy version by the "
            "current one (SLAWATCH_REEVALUATE=1). Default: they keep the terms they started with.",
        ),
    ] = False,
) -> None:
    """Run a stream worker: ingest, clocks, timers; /metrics, /health, /ready on the web port.

    Configured by SLAWATCH_* environment variables (broker, policies, topics, app id, ports).
    """
    from slawatch.worker import run_worker

    raise typer.Exit(run_worker(loglevel=loglevel, reevaluate=reevaluate))


@app.command("rules", rich_help_panel="Generate deploy/ from the policy")
def rules(
    policies: PoliciesOption = DEFAULT_POLICIES,
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for the rule files.")] = Path(
        "deploy/prometheus/rules"
    ),
    min_volume: Annotated[
        int, typer.Option(help="Valid results in the long window before a burn-rate alert fires.")
    ] = 10,
    team_breach_threshold: Annotated[
        int, typer.Option(help="Breaches of one team in an hour that open a ticket.")
    ] = 5,
    mode: Annotated[
        str, typer.Option(help="'adapt' or 'refuse' burn-rate alerts a target makes impossible.")
    ] = "adapt",
) -> None:
    """Write Prometheus recording and alerting rules generated from the policy file."""
    from slawatch.generate import rules as generate_rules

    raise typer.Exit(generate_rules(policies, out, min_volume, team_breach_threshold, mode))


@app.command("dashboards", rich_help_panel="Generate deploy/ from the policy")
def dashboards(
    policies: PoliciesOption = DEFAULT_POLICIES,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Directory for the dashboard JSON files.")
    ] = Path("deploy/grafana/dashboards"),
    assignee_label: Annotated[
        str | None,
        typer.Option(help="Label of slawatch_breaches_total naming staff (an id, not a name)."),
    ] = None,
) -> None:
    """Write Grafana dashboards (overview, teams, clock drill-down) generated from the policy."""
    from slawatch.generate import dashboards as generate_dashboards

    raise typer.Exit(generate_dashboards(policies, out, assignee_label))


@app.command("alertmanager", rich_help_panel="Generate deploy/ from the policy")
def alertmanager(
    policies: PoliciesOption = DEFAULT_POLICIES,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Directory for alertmanager.yml.")
    ] = Path("deploy/alertmanager"),
    webhook_url: Annotated[
        str | None, typer.Option(help="Make every receiver a webhook to this URL.")
    ] = None,
    years: Annotated[
        str | None,
        typer.Option(help="Years of holidays, e.g. '2026,2027' (default: last two known)."),
    ] = None,
) -> None:
    """Write the Alertmanager configuration: routes by team and severity, working hours."""
    from slawatch.generate import alertmanager as generate_alertmanager

    raise typer.Exit(generate_alertmanager(policies, out, webhook_url, years))


@app.command("replay", rich_help_panel="History")
def replay(
    logs: Annotated[
        list[str],
        typer.Argument(
            help="Event log files (JSON lines or CSV; .gz and .zip read directly). PATH goes "
            "through every topic of the topics file, TOPIC=PATH through one."
        ),
    ],
    policies: PoliciesOption = DEFAULT_POLICIES,
    topics: TopicsOption = DEFAULT_TOPICS,
    compare: Annotated[
        Path | None,
        typer.Option(
            "--compare",
            help="Current policy file: replay under both and print how breaches and "
            "attainment change from it to --policies.",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Directory for outcomes.jsonl and breaches.jsonl."),
    ] = None,
    presorted: Annotated[
        bool,
        typer.Option(help="The files are already in time order: stream them, do not sort."),
    ] = False,
    retention_days: Annotated[
        float, typer.Option("--retention-days", help="How long finished cases are remembered.")
    ] = 400.0,
    by_team: Annotated[bool, typer.Option("--by-team", help="Also summarise per team.")] = False,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Replay a recorded event log through the real pipeline, in event time, at full speed."""
    from datetime import timedelta

    from slawatch.replay import ReplayOptions
    from slawatch.replay import main as run

    options = ReplayOptions(
        inputs=logs,
        topics=topics,
        policies=policies,
        compare=compare,
        out=out,
        presorted=presorted,
        retention=timedelta(days=retention_days),
        progress=progress,
        by_team=by_team,
    )
    raise typer.Exit(run(options))


@app.command("explain", rich_help_panel="History")
def explain(
    case_id: Annotated[str, typer.Argument(help="The case to explain.")],
    logs: Annotated[
        list[str] | None, typer.Argument(help="Event log files to replay (as for replay).")
    ] = None,
    policies: PoliciesOption = DEFAULT_POLICIES,
    topics: TopicsOption = DEFAULT_TOPICS,
    worker: Annotated[
        str | None,
        typer.Option(help="Ask a live worker instead, e.g. http://localhost:6066."),
    ] = None,
    timezone: Annotated[
        str, typer.Option("--timezone", "--tz", help="Show times in this zone.")
    ] = "Asia/Shanghai",
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Also tell about events that changed nothing.")
    ] = False,
) -> None:
    """Tell, in sentences, what happened to a case's clocks (from a replay or a live worker)."""
    from slawatch.explain import main as run

    raise typer.Exit(run(case_id, logs or [], topics, policies, worker, timezone, verbose))


@app.command("report", rich_help_panel="History")
def report(
    kind: Annotated[
        str, typer.Argument(help="weekly (complaint summary) or monthly (responsibility report).")
    ],
    logs: Annotated[
        list[str] | None,
        typer.Option("--log", help="Replay these event log files for the report."),
    ] = None,
    policies: PoliciesOption = DEFAULT_POLICIES,
    topics: TopicsOption = DEFAULT_TOPICS,
    outcomes: Annotated[
        Path | None, typer.Option(help="Outcome records as JSON lines (from replay --out).")
    ] = None,
    kafka: Annotated[
        str | None,
        typer.Option(help="Read the outcomes topic from this broker (host:port)."),
    ] = None,
    outcomes_topic: Annotated[str, typer.Option(help="The outcomes topic.")] = "sla.outcomes",
    since: Annotated[
        str | None, typer.Option(help="Period start (ISO date/time; default: the last week/month).")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Period end, exclusive.")] = None,
    everything: Annotated[
        bool, typer.Option("--all", help="Report over all the data, not one period.")
    ] = False,
    timezone: Annotated[
        str, typer.Option("--timezone", "--tz", help="Zone of weeks, months and dates.")
    ] = "Asia/Shanghai",
    case_kind: Annotated[
        str | None, typer.Option(help="Only cases of this kind (e.g. complaint).")
    ] = None,
    resolution_clock: Annotated[
        list[str] | None,
        typer.Option(
            help="Clock(s) whose stop means resolved (default: ids ending in resolution)."
        ),
    ] = None,
    output_format: Annotated[
        str, typer.Option("--format", "-f", help="table, csv or html.")
    ] = "table",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file.")
    ] = None,
) -> None:
    """Weekly complaint summary or monthly responsibility report: terminal, CSV or HTML."""
    from slawatch.report import ReportOptions
    from slawatch.report import main as run

    if kind not in ("weekly", "monthly"):
        raise typer.BadParameter(f"kind must be weekly or monthly, got {kind!r}")
    if output_format not in ("table", "csv", "html"):
        raise typer.BadParameter(f"--format must be table, csv or html, got {output_format!r}")
    options = ReportOptions(
        kind=kind,  # type: ignore[arg-type]
        logs=logs or (),
        topics=topics,
        policies=policies,
        outcomes=outcomes,
        kafka=kafka,
        outcomes_topic=outcomes_topic,
        since=since,
        until=until,
        everything=everything,
        timezone=timezone,
        case_kind=case_kind,
        resolution_clocks=tuple(resolution_clock or ()),
        format=output_format,  # type: ignore[arg-type]
        output=output,
    )
    raise typer.Exit(run(options))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
