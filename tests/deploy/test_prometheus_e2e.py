"""End to end: a real Prometheus scrapes a real worker and evaluates the generated rules.

Events flow through the broker into ``slawatch worker``; Debian's ``prometheus`` scrapes it
every second on loopback with the rules generated from this test's policy. Every recording
rule and every dashboard query must be valid PromQL and return data, and the attainment
Prometheus computes must be the one the test's own events give.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from generators.dashboards import build_dashboards, panel_queries
from generators.objectives import load_spec
from generators.rules import write_rules
from slawatch.testing import Stack, canonical, wait_for
from streams.broker import TansuBroker, free_port

pytestmark = pytest.mark.integration

POLICY = """\
version: "e2e-1"
allowed_lateness: 2s
teams:
  desk: {}
regions: [sh, bj]
clocks:
  - id: first_response
    case_kind: complaint
    start: [complaint_registered]
    stop: [complaint_acknowledged]
    limit: 4s
    warn_at: [0.5]
    team: desk
"""

#: Panels fed by the alerts service, which this test does not run: checked for validity only.
ALERTS_SERVICE = ("slawatch_alert", "slawatch_escalations")
#: Grafana's variables, as "All" and a 1-hour dashboard range.
VARIABLES = {"$clock": ".*", "$team": ".*", "$region": ".*", "$__range": "1h",
             "$__rate_interval": "1m"}  # fmt: skip


class Prometheus:
    """A Prometheus server on loopback with its own storage, stopped by :meth:`stop`."""

    def __init__(self, directory: Path, worker_port: int, rules: Path) -> None:
        binary = shutil.which("prometheus")
        if binary is None:
            pytest.fail("prometheus is not installed: run `make tools` (Debian's prometheus)")
        self.port = free_port()
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(rules / "*.yaml")],
            "scrape_configs": [
                {"job_name": "slawatch",
                 "static_configs": [{"targets": [f"127.0.0.1:{worker_port}"]}]}
            ],
        }  # fmt: skip
        (directory / "prometheus.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
        self.log = directory / "prometheus.log"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [binary, f"--config.file={directory / 'prometheus.yml'}",
                 f"--storage.tsdb.path={directory / 'data'}",
                 f"--web.listen-address=127.0.0.1:{self.port}"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )  # fmt: skip
        wait_for(self.ready, 60, f"Prometheus ready (log: {self.log})")

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=2) as r:
                return bool(r.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def api(self, path: str, **params: str) -> Any:
        """GET ``/api/v1/<path>``; the ``data`` of a successful answer."""
        query = urllib.parse.urlencode(params)
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}?{query}"
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                body = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            body = json.loads(exc.read())
        if body.get("status") != "success":
            raise AssertionError(f"{path} {params}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query's result vector (a scalar or string comes back as one sample)."""
        data = self.api("query", query=expr)
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        return list(data["result"])

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def substitute(expr: str) -> str:
    """A panel's query with Grafana's variables replaced as Grafana would for "All"."""
    for name, value in VARIABLES.items():
        expr = expr.replace(name, value)
    return expr


@pytest.fixture(scope="module")
def running(
    tansu: TansuBroker,
    redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Stack, Prometheus, Path]]:
    """A worker with three cases met and one breached, scraped by Prometheus with our rules."""
    tmp = tmp_path_factory.mktemp("e2e")
    stack = Stack(tansu.bootstrap, tmp, POLICY, extra_env={"SLAWATCH_REDIS_URL": redis_url})
    rules = tmp / "rules"
    write_rules(load_spec(stack.policy_path), rules)
    prometheus: Prometheus | None = None
    try:
        worker = stack.start_worker()
        prometheus = Prometheus(tmp, worker.port, rules)
        t0 = datetime.now(UTC)
        events = []
        where = {"team": "desk", "region": "sh"}
        for n in range(3):
            acked = t0 + timedelta(seconds=1)
            events.append(canonical(f"m{n}-s", f"M-{n}", "complaint_registered", t0, **where))
            events.append(canonical(f"m{n}-a", f"M-{n}", "complaint_acknowledged", acked, **where))
        events.append(canonical("b-s", "B-1", "complaint_registered", t0, **where))
        stack.send(*events)
        stack.send(b"{not json", key=b"broken")
        wait_for(
            lambda: (
                worker.metric("slawatch_clock_results_total", result="breached") == 1.0
                and worker.metric("slawatch_clock_results_total", result="met") == 3.0
            ),
            60,
            "three met and one breached result in the worker's metrics",
        )
        # increase() cannot count a series' first sample: once Prometheus has scraped the
        # time-to-stop histogram, one more case (another team and region, so the attainment
        # above stays 3 of 4) gives it an increase to show.
        wait_for(
            lambda: prometheus.query('slawatch_time_to_stop_seconds_count{clock="first_response"}'),
            60,
            "a scrape of the time-to-stop histogram",
        )
        t1 = datetime.now(UTC)
        other = {"team": "other", "region": "bj"}
        stack.send(
            canonical("x-s", "X-1", "complaint_registered", t1, **other),
            canonical("x-a", "X-1", "complaint_acknowledged", t1 + timedelta(seconds=1), **other),
        )
        wait_for(
            lambda: worker.metric("slawatch_clock_results_total", result="met") == 4.0,
            60,
            "the fourth met result",
        )
        yield stack, prometheus, rules
    finally:
        if prometheus is not None:
            prometheus.stop()
        stack.close()


class TestPrometheusEndToEnd:
    def test_attainment_equals_the_events(self, running: tuple[Stack, Prometheus, Path]) -> None:
        """Three met and one breached case give 75 % attainment over the last hour."""
        _, prometheus, _ = running
        expr = (
            "clock_team_region:slawatch_clock_attainment:ratio1h"
            '{clock="first_response", team="desk", region="sh"}'
        )
        result = wait_for(lambda: prometheus.query(expr), 60, f"{expr} in Prometheus")
        assert 0.75 == float(result[0]["value"][1])

    def test_rules_loaded_and_healthy(self, running: tuple[Stack, Prometheus, Path]) -> None:
        """Prometheus loaded every generated group, and no rule reports an error."""
        _, prometheus, rules = running
        expected = {
            g["name"]
            for path in rules.glob("*.yaml")
            for g in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]
        }

        def loaded() -> list[dict[str, Any]]:
            groups = prometheus.api("rules")["groups"]
            evaluated = all(r.get("lastEvaluation", "").startswith("2") for g in groups
                            for r in g["rules"])  # fmt: skip
            return groups if {g["name"] for g in groups} == expected and evaluated else []

        groups = wait_for(loaded, 60, "every rule group loaded and evaluated")
        broken = [(r["name"], r.get("lastError")) for g in groups for r in g["rules"]
                  if r.get("health") != "ok"]  # fmt: skip
        assert [] == broken

    def test_recording_rules_return_data(self, running: tuple[Stack, Prometheus, Path]) -> None:
        """Every recording rule's expression is valid and its series has samples."""
        _, prometheus, rules = running
        records = [
            r
            for g in yaml.safe_load((rules / "slawatch.rules.yaml").read_text())["groups"]
            for r in g["rules"]
        ]
        # Rules read each other; give the chain a few evaluations after the last result.
        wait_for(
            lambda: prometheus.query("clock_standard:slawatch_clock_burn:rate3d"), 60,
            "the last recording rule of the chain",
        )  # fmt: skip
        empty = [r["record"] for r in records if not prometheus.query(r["expr"])]
        assert [] == empty
        unrecorded = {r["record"] for r in records if not prometheus.query(r["record"])}
        assert set() == unrecorded

    def test_alert_expressions_valid(self, running: tuple[Stack, Prometheus, Path]) -> None:
        """Every alerting rule's expression is accepted by Prometheus's query engine."""
        _, prometheus, rules = running
        for name in ("slawatch.alerts.yaml", "slawatch.pipeline.yaml"):
            for group in yaml.safe_load((rules / name).read_text())["groups"]:
                for rule in group["rules"]:
                    prometheus.query(rule["expr"])  # raises on a syntax or type error

    def test_dashboard_queries_return_data(self, running: tuple[Stack, Prometheus, Path]) -> None:
        """Every panel query of every dashboard is valid; all but alert-service ones have data."""
        stack, prometheus, _ = running
        queries = [
            (f"{name}: {title}", expr)
            for name, model in build_dashboards(load_spec(stack.policy_path)).items()
            for title, expr in panel_queries(model)
        ]

        def empty_panels() -> list[str]:
            return [
                f"{panel}: {expr}"
                for panel, expr in queries
                if not prometheus.query(substitute(expr))  # raises on invalid PromQL
                and not any(m in expr for m in ALERTS_SERVICE)
            ]

        # rate() and increase() need two samples of a series: a slow scrape on a loaded
        # machine can leave fewer, so wait (bounded) until every panel has them.
        deadline = time.monotonic() + 90
        while (empty := empty_panels()) and time.monotonic() < deadline:
            time.sleep(1)
        scrape = prometheus.api("targets")["activeTargets"]
        assert [] == empty, f"scrape state: {[(t['health'], t['lastError']) for t in scrape]}"
