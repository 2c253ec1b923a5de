"""``slawatch explain CASE``: the story of one case's clocks, from a replay or from a live worker.

From a replay (``LOG...`` with ``--topics``/``--policies``) every step of the case is replayed
in event time exactly as in ``slawatch replay`` (the other cases' events only move the
watermark, so timers fire when they would in a full replay) and told as sentences. From a
live worker (``--worker URL``, any worker of the group: the one asked forwards to the owner of
the case's partition) the ``/cases/{case}/explain`` view answers from the case's stored state.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from datetime import datetime, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson

from sla.engine import CaseState, Engine
from sla.events import LifecycleEvent
from sla.policy_file import load_policy
from sla.readmodels.explain import Explainer, Moment
from sla.readmodels.replay import Emitted, Replay
from slawatch.replay import DEFAULT_RETENTION
from sources.recorded import DecodeStats, load_events, parse_sources
from sources.topics import load_topics

__all__ = ["explain_from_log", "explain_from_worker", "main"]


def explain_from_log(
    case_id: str,
    inputs: Sequence[str],
    topics: Path,
    policies: Path,
    zone: tzinfo,
    *,
    verbose: bool = False,
) -> list[str]:
    """Replay the logs and tell what happened to ``case_id``; lines ``time  sentence``.

    Raises:
        LookupError: no event of the logs belongs to ``case_id``.
    """
    spec = load_policy(policies)
    sources = parse_sources(inputs, load_topics(topics).mappings())
    payloads = load_events(sources, DecodeStats())
    explainer = Explainer.for_policy(spec, zone, verbose=verbose)
    driver = Replay(Engine.for_policy(spec, retention=DEFAULT_RETENTION), spec.allowed_lateness)
    needle = b'"case_id":' + orjson.dumps(case_id)
    moments: list[Moment] = []
    state: CaseState | None = None

    def timers(emitted: list[Emitted]) -> None:
        nonlocal state
        for item in emitted:
            after = driver.states.get(case_id)
            moments.append(Moment(item.at, None, (item.effect,), state, after))
            state = after

    for payload in payloads:
        if needle in payload:
            event = LifecycleEvent.model_validate_json(payload)
            if event.case_id == case_id:
                timers(driver.tick(event.occurred_at))
                before = state
                emitted = driver.feed(event)
                after = driver.states.get(case_id)
                moments.append(
                    Moment(
                        event.occurred_at, event, tuple(e.effect for e in emitted), before, after
                    )
                )
                state = after
                continue
        occurred = datetime.fromisoformat(orjson.loads(payload)["occurred_at"])
        timers(driver.tick(occurred))
    if not moments:
        raise LookupError(f"no event in {', '.join(inputs)} belongs to case {case_id!r}")
    lines = [f"{explainer.when(s.at)}  {s.text}" for s in explainer.timeline(moments)]
    if driver.watermark is not None:
        lines.append(f"(log ends; last watermark {explainer.when(driver.watermark)})")
    return lines


#: How long ``explain`` waits for a worker to answer before saying it cannot be reached.
WORKER_TIMEOUT = 5.0


def explain_from_worker(
    case_id: str, worker: str, zone: str, timeout: float = WORKER_TIMEOUT
) -> list[str]:
    """Ask a live worker's ``/cases/{case}/explain`` view; lines ``time  sentence``.

    Raises:
        LookupError: the worker does not hold the case (finished long ago, or another worker's).
        OSError: the worker cannot be reached, or answered with an error.
    """
    query = urllib.parse.urlencode({"tz": zone})
    url = f"{worker.rstrip('/')}/cases/{urllib.parse.quote(case_id, safe='')}/explain?{query}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as error:
        if error.code == 404:
            raise LookupError(
                f"no worker of the group behind {worker} holds state for case {case_id!r}: it "
                "finished more than the retention ago, or never started a clock"
            ) from None
        if error.code == 502:
            raise LookupError(
                f"the worker that owns case {case_id!r} did not answer {worker}: "
                + json.loads(error.read() or b"{}").get("error", "")
            ) from None
        raise
    return [f"{s['when']}  {s['text']}" for s in body["sentences"]]


def _unreachable(worker: str, worker_from: str, error: OSError) -> str:
    """One line for a worker that cannot be asked: what, where, why, and what to do."""
    if isinstance(error, urllib.error.HTTPError):
        why = f"it answered HTTP {error.code} {error.reason}"
    else:
        reason = getattr(error, "reason", None) or error
        why = f"cannot reach it: {getattr(reason, 'strerror', None) or reason}"
    return (
        f"worker {worker} (from {worker_from}): {why}; check that the worker runs there, or "
        "give event log files to replay instead"
    )


def main(
    case_id: str,
    inputs: Sequence[str],
    topics: Path,
    policies: Path,
    worker: str | None,
    timezone: str,
    verbose: bool = False,
    *,
    worker_from: str = "--worker",
) -> int:
    """Run ``slawatch explain``; the process exit code."""
    try:
        if worker is not None:
            lines = explain_from_worker(case_id, worker, timezone)
        else:
            if not inputs:
                print("slawatch explain: give event log files, or --worker URL", file=sys.stderr)
                return 2
            lines = explain_from_log(
                case_id, inputs, topics, policies, ZoneInfo(timezone), verbose=verbose
            )
    except LookupError as error:
        print(f"slawatch explain: {error.args[0]}", file=sys.stderr)
        return 1
    except OSError as error:
        if worker is None:
            print(f"slawatch explain: {error}", file=sys.stderr)
        else:
            print(f"slawatch explain: {_unreachable(worker, worker_from, error)}", file=sys.stderr)
        return 1
    for line in lines:
        print(line)
    return 0
