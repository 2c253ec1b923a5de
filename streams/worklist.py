"""The at-risk worklist: per team, the open clocks a supervisor should chase, soonest first.

``GET /worklist?team=T`` (JSON) and ``GET /worklist.html?team=T`` (a plain page) list the running
clock cycles of team ``T`` (``T1,T2`` for several; every team without ``team``, or with ``.*`` as
Grafana's "All" sends it) ordered by time left: overdue first,
then due within the hour, within four hours, later today (in ``tz``, default Asia/Shanghai);
``all=1`` adds those due later. Each item has the case id, the clock (id and display name), the
owner's staff id, the team, the deadline, the time left and the level (warned, breached and the
escalation level reached). No personal data: ids and times only.

Whichever worker is asked answers for the whole group: it lists its own active partitions and
asks every other worker (see :mod:`streams.forward`) for theirs; a worker that does not answer
is named in ``missing`` and the answer says ``complete: false``.

The case state is read from the ``cases`` table value by :func:`case_state` alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from faust.web import Request, Response, View

from sla.calendar import Calendar, ElapsedCalendar
from sla.engine import CaseState
from sla.policy import PolicySpec
from sla.records import breach_id
from sla.zones import zone as time_zone
from streams.case_row import CaseRow, decode_row
from streams.errors import Failed
from streams.runtime import Runtime

__all__ = [
    "BUCKETS",
    "WorkItem",
    "case_state",
    "items_of",
    "register",
    "teams_of",
    "worklist",
]

DEFAULT_ZONE = "Asia/Shanghai"
#: Buckets in order, with the time left that ends each (``today`` ends at local midnight).
BUCKETS = ("overdue", "1h", "4h", "today", "later", "paused")


def case_state(value: bytes | CaseRow | None) -> CaseState | None:
    """The case state in one ``cases`` table value; None for a value that holds none.

    The table's encoding is :mod:`streams.case_row`'s.
    """
    row = decode_row(value)
    stored = row.get("s") if isinstance(row, dict) else None
    return None if stored is None else CaseState.from_json(stored)


@dataclass(frozen=True)
class WorkItem:
    """One running clock cycle to chase."""

    case_id: str
    clock: str
    clock_name: str
    cycle: int
    owner: str | None
    team: str | None
    deadline: str | None
    seconds_left: float | None
    bucket: str
    level: str
    acknowledged: bool | None = None


def _bucket(left: float | None, deadline: datetime | None, now: datetime, zone: ZoneInfo) -> str:
    if left is None or deadline is None:
        return "paused"
    if left < 0:
        return "overdue"
    if left <= 3600:
        return "1h"
    if left <= 4 * 3600:
        return "4h"
    local_now = now.astimezone(zone)
    midnight = (local_now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return "today" if deadline.astimezone(zone) < midnight else "later"


def items_of(
    state: CaseState,
    policy: PolicySpec,
    calendars: Mapping[str, Calendar],
    now: datetime,
    zone: ZoneInfo,
    locale: str = "zh-CN",
) -> list[WorkItem]:
    """The running cycles of one case as work items (pure: the state, the policy, the time)."""
    out = []
    elapsed = ElapsedCalendar()
    for clock_id, track in state.clocks.items():
        cycle = track.running
        if cycle is None:
            continue
        terms = cycle.terms
        calendar = calendars.get(terms.calendar or "", elapsed)
        if terms.limit.kind != "working":
            calendar = elapsed
        deadline = cycle.due_at(calendar)
        left = (deadline - now).total_seconds() if deadline is not None else None
        team = state.attributes.get("team")
        assignee = state.attributes.get("assignee")
        try:
            names = policy.clock(clock_id).name
        except KeyError:
            names = {}
        if cycle.breach_emitted or (left is not None and left < 0):
            level = "breached"
        elif cycle.warned:
            level = f"warned {round(max(cycle.warned) * 100)}%"
        else:
            level = ""
        out.append(
            WorkItem(
                case_id=state.case_id,
                clock=clock_id,
                clock_name=names.get(locale) or names.get("*") or clock_id,
                cycle=cycle.number,
                owner=None if assignee is None else str(assignee),
                team=str(team) if team is not None else cycle.clock_team,
                deadline=deadline.astimezone(UTC).isoformat() if deadline else None,
                seconds_left=left,
                bucket=_bucket(left, deadline, now, zone),
                level=level,
            )
        )
    return out


def _order(item: dict[str, Any]) -> tuple[int, float, str, str]:
    left = item.get("seconds_left")
    return (
        BUCKETS.index(item["bucket"]) if item["bucket"] in BUCKETS else len(BUCKETS),
        float("inf") if left is None else float(left),
        str(item["case_id"]),
        str(item["clock"]),
    )


async def _levels(rt: Runtime, items: list[WorkItem]) -> list[WorkItem]:
    """Breached items with the escalation level reached and whether someone acknowledged."""
    alerts = rt.alerts
    if alerts is None:
        return items
    timers = alerts.service.timers
    ladder = alerts.spec.escalation.ladder
    out = []
    for item in items:
        if item.level != "breached":
            out.append(item)
            continue
        key = breach_id(item.case_id, item.clock, item.cycle)
        state = await rt.errors.attempt_async(partial(timers.state, key))
        if isinstance(state, Failed):  # Redis down: the worklist still answers, without levels
            out.append(item)
            continue
        nxt = state.get("next_level")
        reached = len(ladder(item.clock)) + 1 if nxt == "done" else int(nxt or 2) - 1
        out.append(
            WorkItem(
                **{
                    **asdict(item),
                    "level": f"L{reached}" if state else "breached",
                    "acknowledged": "acked_by" in state if state else None,
                }
            )
        )
    return out


def teams_of(value: str | None) -> set[str] | None:
    """The teams a ``team`` parameter names; None for every team.

    >>> teams_of("cs,claims") == {"cs", "claims"}, teams_of(".*"), teams_of(None)
    (True, None, None)
    """
    names = {t.strip() for t in (value or "").split(",")} - {"", ".*", "$__all", "All"}
    return names or None


async def local_items(
    rt: Runtime,
    teams: set[str] | None,
    now: datetime,
    zone: ZoneInfo,
    locale: str,
    everything: bool,
) -> list[dict[str, Any]]:
    """This worker's items: its active partitions of the ``cases`` table."""
    active = rt.active_partitions()
    calendars = rt.calendars
    found: list[WorkItem] = []
    for _key, value in list(rt.cases.items()):
        row = decode_row(value)
        if isinstance(row, dict) and row.get("p") not in active:
            continue
        state = case_state(row)
        if state is None:
            continue
        for item in items_of(state, rt.policy, calendars, now, zone, locale):
            wanted = teams is None or item.team in teams
            if wanted and (everything or item.bucket != "later"):
                found.append(item)
    found = await _levels(rt, found)
    return [asdict(i) for i in found]


async def worklist(rt: Runtime, query: dict[str, str], forwarded: bool) -> dict[str, Any]:
    """The answer to ``/worklist``: this worker's items, and the others' unless forwarded.

    Raises:
        ValueError: ``tz`` is not a time zone name.
    """
    from streams.forward import fetch_json, peers

    team = query.get("team") or None
    zone_name = query.get("tz") or DEFAULT_ZONE
    zone = time_zone(zone_name)
    locale = "en" if query.get("lang") == "en" else "zh-CN"
    everything = query.get("all") in ("1", "true", "yes")
    now = datetime.now(UTC)
    items = await local_items(rt, teams_of(team), now, zone, locale, everything)
    covered = rt.active_partitions()
    mine = sorted(covered)
    missing: list[str] = []
    workers = 1
    if not forwarded:
        others = peers(rt)
        workers += len(others)
        answers = await asyncio.gather(
            *(fetch_json(rt, p.with_path("/worklist").with_query(query)) for p in others),
            return_exceptions=True,
        )
        for peer, answer in zip(others, answers, strict=True):
            if isinstance(answer, BaseException) or answer[0] != 200:
                missing.append(str(peer))
            else:
                items += answer[1].get("items", [])
                covered |= set(answer[1].get("partitions", []))
        # Workers that cannot be told apart (every one advertising 0.0.0.0) or a rebalance
        # in progress leave partitions nobody answered for: say so rather than look complete.
        gap = sorted(set(range(rt.settings.partitions)) - covered)
        if gap:
            missing.append(f"partitions {gap} (no worker answered for them)")
    items.sort(key=_order)
    return {
        "partitions": mine,
        "team": team,
        "timezone": zone_name,
        "now": now.isoformat(),
        "workers": workers,
        "complete": not missing,
        "missing": missing,
        "counts": {b: sum(1 for i in items if i["bucket"] == b) for b in BUCKETS},
        "items": items,
    }


def register(rt: Runtime) -> None:
    """Add ``/worklist`` and ``/worklist.html`` to the worker's web server."""
    from streams.forward import is_forwarded

    app = rt.app

    async def answer(web: View, request: Request) -> dict[str, Any] | Response:
        """The worklist, or the 400 answer to a bad query."""
        try:
            return await worklist(rt, dict(request.query), is_forwarded(request))
        except ValueError as error:
            return web.json({"error": str(error)}, status=400)

    @app.page("/worklist", name="slawatch_worklist")
    async def worklist_json(web: View, request: Request) -> Response:
        body = await answer(web, request)
        return web.json(body) if isinstance(body, dict) else body

    @app.page("/worklist.html", name="slawatch_worklist_html")
    async def worklist_page(web: View, request: Request) -> Response:
        body = await answer(web, request)
        if not isinstance(body, dict):
            return body
        from streams.worklist_page import render_html

        locale = "en" if request.query.get("lang") == "en" else "zh-CN"
        return web.html(render_html(body, locale))
