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


@app.command("check-config")
def check_config(
    files: Annotated[list[Path], typer.Argument(help="Policy or topic files to validate.")],
) -> None:
    """Validate policy and topic files; print a summary, or every mistake with file, line and field."""
    from slawatch.check_config import run

    raise typer.Exit(run(files))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
