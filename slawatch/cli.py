"""The ``slawatch`` command. Each command is a thin wrapper over the module that does the work.

Commands import their module lazily so ``slawatch --help`` stays fast and light.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from streams.settings import CommandDefaults

app = typer.Typer(
    name="slawatch",
    help="Watch customer-service event streams and know, live, which case is about to miss "
    "which time limit.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_show_locals=False,
)

PoliciesOption = Annotated[
    Path | None,
    typer.Option(
        "--policies",
        "-p",
        help="Policy file (clocks, calendars, targets). Default: SLAWATCH_POLICIES, else the "
        "installed package's config/policies.yaml.",
        show_default=False,
    ),
]
TopicsOption = Annotated[
    Path | None,
    typer.Option(
        "--topics",
        "-t",
        help="Topic mapping file (which topics, how to map them). Default: SLAWATCH_TOPICS, "
        "else the installed package's config/topics.yaml.",
        show_default=False,
    ),
]


def _out(help: str) -> Any:
    """The ``--out``/``-o`` directory option of a command that writes files."""
    return typer.Option("--out", "-o", help=help)


def _defaults() -> CommandDefaults:
    """The worker's SLAWATCH_* settings; a bad one ends the command with one line, exit 2."""
    from streams.settings import CommandDefaults, SettingsError

    try:
        return CommandDefaults.from_env()
    except SettingsError as error:
        typer.echo(f"slawatch: {error}", err=True)
        raise typer.Exit(2) from None


def _policies(given: Path | None) -> Path:
    return given if given is not None else _defaults().policies


def _topics(given: Path | None) -> Path:
    return given if given is not None else _defaults().topics


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        from slawatch import __version__

        try:
            installed = version("slawatch")
        except PackageNotFoundError:  # run from a source tree that was never installed
            installed = __version__
        typer.echo(f"slawatch {installed}")
        raise typer.Exit(0)


@app.callback()
def _commands(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print the version and exit.",
            callback=_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    # Keeps `slawatch check-config ...` a subcommand even while it is the only command.
    pass


@app.command("check-config", rich_help_panel="Configure")
def check_config(
    files: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Policy, topic or alerts files to validate. Default: the files the worker "
            "reads (SLAWATCH_POLICIES, SLAWATCH_TOPICS, SLAWATCH_ALERTS or the alerts file "
            "beside the policy file)."
        ),
    ] = None,
) -> None:
    """Validate policy and topic files: a summary, or every mistake with file, line and field."""
    from slawatch.check_config import run

    if not files:
        from streams.alerting import alerts_path

        defaults = _defaults()
        alerts = defaults.alerts or alerts_path(defaults.policies, {})
        files = [defaults.policies, defaults.topics, *([alerts] if alerts else [])]
    raise typer.Exit(run(files))


@app.command("alert-templates", rich_help_panel="Configure")
def alert_templates() -> None:
    """Print the built-in alert templates: the start of one's own `templates:` file."""
    from alerts.templates import builtin_text

    typer.echo(builtin_text(), nl=False)


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
    policies: PoliciesOption = None,
    topics: TopicsOption = None,
    run_dir: Annotated[Path, typer.Option(help="Where the worker and broker logs go.")] = Path(
        ".run/demo"
    ),
) -> None:
    """Run everything locally: a broker, the worker, a realistic compressed-time event stream.

    Warnings and breaches appear within the first minute; metrics are served on the worker's
    port. Stop with Ctrl-C. The policy file defaults to the package's demo-policies.yaml
    (the default clocks with limits in seconds).
    """
    from slawatch.demo import DemoOptions, run
    from streams.settings import PACKAGE_CONFIG

    options = DemoOptions(
        port=port,
        duration=duration,
        seed=seed,
        rate=rate,
        policies=policies or PACKAGE_CONFIG / "demo-policies.yaml",
        topics=_topics(topics),
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


SettingsOption = Annotated[
    Path,
    typer.Option(
        "--settings",
        help="Job label, thresholds and runbook base URL the rules and dashboards share "
        "(defaults when the file is missing).",
    ),
]
DEFAULT_SETTINGS = Path("deploy/generate.yaml")


@app.command("rules", rich_help_panel="Generate deploy/ from the policy")
def rules(
    policies: PoliciesOption = None,
    out: Annotated[Path, _out("Directory for the rule files.")] = Path("deploy/prometheus/rules"),
    settings: SettingsOption = DEFAULT_SETTINGS,
) -> None:
    """Write Prometheus recording and alerting rules generated from the policy file."""
    from generators.write import rules as generate_rules

    raise typer.Exit(generate_rules(_policies(policies), out, settings))


@app.command("dashboards", rich_help_panel="Generate deploy/ from the policy")
def dashboards(
    policies: PoliciesOption = None,
    out: Annotated[Path, _out("Directory for the dashboard JSON files.")] = Path(
        "deploy/grafana/dashboards"
    ),
    settings: SettingsOption = DEFAULT_SETTINGS,
) -> None:
    """Write Grafana dashboards (overview, teams, clock drill-down) generated from the policy."""
    from generators.write import dashboards as generate_dashboards

    raise typer.Exit(generate_dashboards(_policies(policies), out, settings))


@app.command("alertmanager", rich_help_panel="Generate deploy/ from the policy")
def alertmanager(
    policies: PoliciesOption = None,
    out: Annotated[Path, _out("Directory for alertmanager.yml.")] = Path("deploy/alertmanager"),
    webhook_url: Annotated[
        str | None, typer.Option(help="Make every receiver a webhook to this URL.")
    ] = None,
    years: Annotated[
        str | None,
        typer.Option(help="Years of holidays, e.g. '2026,2027' (default: last two known)."),
    ] = None,
    receivers: Annotated[
        Path | None,
        typer.Option(help="Your receivers file (default: receivers.yml in --out, if there)."),
    ] = None,
) -> None:
    """Write the Alertmanager configuration: routes by team and severity, your receivers."""
    from generators.write import alertmanager as generate_alertmanager

    raise typer.Exit(generate_alertmanager(_policies(policies), out, webhook_url, years, receivers))


@app.command("replay", rich_help_panel="History")
def replay(
    logs: Annotated[
        list[str],
        typer.Argument(
            help="Event log files (JSON lines or CSV; .gz and .zip read directly). PATH goes "
            "through every topic of the topics file, TOPIC=PATH through one."
        ),
    ],
    policies: PoliciesOption = None,
    topics: TopicsOption = None,
    compare: Annotated[
        Path | None,
        typer.Option(
            "--compare",
            help="Current policy file: replay under both and print how breaches and "
            "attainment change from it to --policies.",
        ),
    ] = None,
    out: Annotated[Path | None, _out("Directory for outcomes.jsonl and breaches.jsonl.")] = None,
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
        topics=_topics(topics),
        policies=_policies(policies),
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
    policies: PoliciesOption = None,
    topics: TopicsOption = None,
    worker: Annotated[
        str | None,
        typer.Option(
            help="Ask a live worker instead, e.g. http://localhost:6066. Without log files the "
            "worker is asked anyway: SLAWATCH_WORKER_URL, else this host's SLAWATCH_WEB_PORT.",
        ),
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

    defaults = _defaults()
    source = "--worker"
    if worker is None and not logs:
        worker, source = defaults.worker_url, defaults.worker_from
    code = run(
        case_id,
        logs or [],
        topics or defaults.topics,
        policies or defaults.policies,
        worker,
        timezone,
        verbose,
        worker_from=source,
    )
    raise typer.Exit(code)


@app.command("worklist", rich_help_panel="Run")
def worklist(
    team: Annotated[str | None, typer.Option(help="Only this team's clocks.")] = None,
    worker: Annotated[
        str, typer.Option(help="Any worker of the group (it gathers the others).")
    ] = "http://127.0.0.1:6066",
    timezone: Annotated[
        str, typer.Option("--timezone", "--tz", help="Zone of deadlines and of 'today'.")
    ] = "Asia/Shanghai",
    lang: Annotated[str, typer.Option("--lang", help="zh-CN (default) or en.")] = "zh-CN",
    everything: Annotated[bool, typer.Option("--all", help="Also clocks due after today.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the worker's JSON.")] = False,
) -> None:
    """The open clocks a team should chase, soonest deadline first (overdue, 1 h, 4 h, today)."""
    from slawatch.worklist import main as run

    raise typer.Exit(run(worker, team, timezone, lang, everything, as_json))


@app.command("report", rich_help_panel="History")
def report(
    kind: Annotated[
        str, typer.Argument(help="weekly (complaint summary) or monthly (responsibility report).")
    ],
    logs: Annotated[
        list[str] | None,
        typer.Option("--log", help="Replay these event log files for the report."),
    ] = None,
    policies: PoliciesOption = None,
    topics: TopicsOption = None,
    outcomes: Annotated[
        Path | None, typer.Option(help="Outcome records as JSON lines (from replay --out).")
    ] = None,
    kafka: Annotated[
        str | None,
        typer.Option(
            help="Read the outcomes topic from this broker (host:port). Without --log, "
            "--outcomes and --kafka: the worker's broker, SLAWATCH_BROKER, when it is set."
        ),
    ] = None,
    outcomes_topic: Annotated[
        str | None,
        typer.Option(help="The outcomes topic. Default: SLAWATCH_TOPIC_OUTCOMES or sla.outcomes."),
    ] = None,
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
    lang: Annotated[
        str, typer.Option("--lang", help="zh-CN (titles in Chinese, the default) or en.")
    ] = "zh-CN",
) -> None:
    """Weekly complaint summary or monthly responsibility report: terminal, CSV or HTML."""
    from slawatch.report import ReportOptions
    from slawatch.report import main as run

    if kind not in ("weekly", "monthly"):
        raise typer.BadParameter(f"kind must be weekly or monthly, got {kind!r}")
    if output_format not in ("table", "csv", "html"):
        raise typer.BadParameter(f"--format must be table, csv or html, got {output_format!r}")
    if lang not in ("zh-CN", "en"):
        raise typer.BadParameter(f"--lang must be zh-CN or en, got {lang!r}")
    defaults = _defaults()
    if kafka is None and not logs and outcomes is None:
        kafka = defaults.bootstrap
    options = ReportOptions(
        kind=kind,  # type: ignore[arg-type]
        logs=logs or (),
        topics=topics or defaults.topics,
        policies=policies or defaults.policies,
        outcomes=outcomes,
        kafka=kafka,
        outcomes_topic=outcomes_topic or defaults.outcomes_topic,
        since=since,
        until=until,
        everything=everything,
        timezone=timezone,
        case_kind=case_kind,
        resolution_clocks=tuple(resolution_clock or ()),
        format=output_format,  # type: ignore[arg-type]
        output=output,
        lang=lang,  # type: ignore[arg-type]
    )
    raise typer.Exit(run(options))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
