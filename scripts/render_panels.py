"""Render the main Grafana panels from a live Prometheus into one PNG, for the README.

Grafana itself cannot run everywhere; this draws the same queries the generated dashboards
(deploy/grafana/dashboards) run, with the same thresholds, so a reader sees what supervisors
see. Time-series panels come from ``query_range``, stat and bar-gauge panels from an instant
query drawn as horizontal bars coloured by the panel's thresholds.

Usage (with `slawatch demo` and a Prometheus scraping it, see docs/reference/observability.md):

    .venv/bin/python scripts/render_panels.py --prometheus http://127.0.0.1:9090 \\
        --minutes 15 --out docs/img/supervisor-panels.png

Needs matplotlib (``pip install -e '.[docs]'``).
"""

from __future__ import annotations

import argparse
import json
import math
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.axes import Axes

ROOT = Path(__file__).resolve().parents[1]
DASHBOARDS = ROOT / "deploy" / "grafana" / "dashboards"
#: (dashboard file, panel title): the panels in the picture, in reading order.
PANELS = (
    ("slawatch-overview.json", "Attainment over the last day"),
    ("slawatch-overview.json", "Error budget left (30 days)"),
    ("slawatch-overview.json", "Breaches today"),
    ("slawatch-overview.json", "Clocks near breach"),
    ("slawatch-teams.json", "Breaches per hour by team"),
    ("slawatch-clock.json", "Warnings against breaches"),
)
COLOURS = {"red": "#d44a3a", "orange": "#ed8128", "green": "#299c46", "blue": "#3274d9"}


def api(base: str, path: str, **params: str) -> Any:
    """GET ``/api/v1/<path>`` of Prometheus; its ``data``."""
    url = f"{base.rstrip('/')}/api/v1/{path}?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, timeout=30) as response:
        body = json.loads(response.read())
    if body["status"] != "success":
        raise SystemExit(f"Prometheus refused {params.get('query')!r}: {body.get('error')}")
    return body["data"]


def substitute(expr: str, minutes: int) -> str:
    """Grafana's variables as "All" over the rendered range."""
    for name, value in {"$clock": ".*", "$team": ".*", "$region": ".*",
                        "$__range": f"{minutes}m", "$__rate_interval": "1m"}.items():  # fmt: skip
        expr = expr.replace(name, value)
    return expr


def legend(template: str, metric: dict[str, str]) -> str:
    """Grafana's ``{{label}}`` legend format."""
    text = template
    for key, value in metric.items():
        text = text.replace("{{" + key + "}}", value)
    return text if text != "__auto" else ",".join(metric.values())


def colour_of(value: float, steps: list[dict[str, Any]]) -> str:
    """The colour of the last threshold step at or below ``value``."""
    chosen = steps[0]["color"]
    for step in steps[1:]:
        if value >= step["value"]:
            chosen = step["color"]
    return COLOURS.get(chosen, chosen)


def steps_for(panel: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """Threshold steps of series ``name``: its override, else the panel's defaults."""
    config = panel["fieldConfig"]
    for override in config.get("overrides", []):
        if override["matcher"]["id"] == "byName" and override["matcher"]["options"] == name:
            return list(override["properties"][0]["value"]["steps"])
    return list(config["defaults"]["thresholds"]["steps"])


def scale(panel: dict[str, Any]) -> float:
    return 100.0 if panel["fieldConfig"]["defaults"]["unit"] == "percentunit" else 1.0


def draw_series(ax: Axes, panel: dict[str, Any], base: str, minutes: int) -> None:
    """A time-series panel: every target's series, threshold lines of its defaults."""
    end = time.time()
    factor = scale(panel)
    for target in panel["targets"]:
        data = api(base, "query_range", query=substitute(target["expr"], minutes),
                   start=str(end - minutes * 60), end=str(end), step="10s")  # fmt: skip
        for series in sorted(data["result"], key=lambda s: sorted(s["metric"].items()))[:12]:
            xs = [(float(t) - end) / 60 for t, _ in series["values"]]
            ys = [float(v) * factor for _, v in series["values"]]
            ax.plot(xs, ys, linewidth=1.4, label=legend(target["legendFormat"], series["metric"]))
    for step in panel["fieldConfig"]["defaults"]["thresholds"]["steps"][1:]:
        ax.axhline(step["value"] * factor, color=COLOURS.get(step["color"], step["color"]),
                   linestyle="--", linewidth=1)  # fmt: skip
    ax.set_xlabel("minutes ago")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=6, ncol=2, loc="best")


def draw_bars(ax: Axes, panel: dict[str, Any], base: str, minutes: int) -> None:
    """A stat or bar-gauge panel: one bar per series, coloured by its thresholds."""
    factor = scale(panel)
    rows: list[tuple[str, float]] = []
    for target in panel["targets"]:
        data = api(base, "query", query=substitute(target["expr"], minutes))
        for series in data["result"]:
            value = float(series["value"][1])
            if not math.isnan(value):
                rows.append((legend(target["legendFormat"], series["metric"]), value))
    rows.sort()
    names = [name for name, _ in rows]
    values = [value * factor for _, value in rows]
    colours = [colour_of(value, steps_for(panel, name)) for name, value in rows]
    defaults = panel["fieldConfig"]["defaults"]
    low, high = defaults.get("min"), defaults.get("max")
    # Bars stop at the panel's min and max, as Grafana's gauges do; the label keeps the value.
    drawn = [
        min(
            max(v, low * factor if low is not None else v), high * factor if high is not None else v
        )
        for v in values
    ]
    ax.barh(names, drawn, color=colours)
    ax.tick_params(axis="y", labelsize=6)
    ax.invert_yaxis()
    for index, (value, end) in enumerate(zip(values, drawn, strict=True)):
        ax.text(end, index, f" {value:.0f}", va="center", fontsize=6)


def render(base: str, minutes: int, out: Path) -> None:
    """Draw :data:`PANELS` into ``out``."""
    models = {p.name: json.loads(p.read_text(encoding="utf-8")) for p in DASHBOARDS.glob("*.json")}
    fig, axes = plt.subplots(3, 2, figsize=(14, 12))
    for ax, (file, title) in zip(axes.flat, PANELS, strict=True):
        panel = next(p for p in models[file]["panels"] if p["title"] == title)
        unit = " (%)" if scale(panel) == 100 else ""
        ax.set_title(f"{title}{unit}", fontsize=10, loc="left")
        if panel["type"] == "timeseries":
            draw_series(ax, panel, base, minutes)
        else:
            draw_bars(ax, panel, base, minutes)
        ax.grid(alpha=0.3)
    fig.suptitle("slawatch: what supervisors see (demo data, rendered from Prometheus)")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prometheus", default="http://127.0.0.1:9090")
    parser.add_argument("--minutes", type=int, default=15, help="time range to draw")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img" / "supervisor-panels.png")
    args = parser.parse_args()
    render(args.prometheus, args.minutes, args.out)


if __name__ == "__main__":
    main()
