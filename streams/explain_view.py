"""``GET /cases/{case_id}/explain``: what the worker's table says about a case, in sentences.

The live half of ``slawatch explain``: the case's stored state (its running cycles with their
pauses, warnings and deadline, and how the last cycle of each clock ended) told by
:class:`sla.readmodels.explain.Explainer`. ``?tz=Europe/Rome`` chooses the zone times are shown in
(default Asia/Shanghai). A case in another worker's partition is answered by that worker (the
request is forwarded to it, :mod:`streams.forward`); the answer holds ids and times, never
personal data.

Wiring (in :func:`streams.app.create_app`, after ``web.register(runtime)``)::

    from streams import explain_view
    explain_view.register(runtime)
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from faust.web import Request, Response, View

from sla.engine import CaseState
from sla.policy import PolicySpec
from sla.readmodels.explain import Explainer, Sentence
from sla.zones import zone as time_zone
from streams.case_row import decode_row
from streams.forward import forward_to_owner
from streams.runtime import Runtime

__all__ = ["DEFAULT_ZONE", "explain_row", "register"]

DEFAULT_ZONE = "Asia/Shanghai"


def explain_row(
    case_id: str, row: Mapping[str, Any], policy: PolicySpec, zone: str, now: datetime
) -> dict[str, Any]:
    """The JSON answer for one table row ``{"s": CaseState JSON, ...}``.

    Raises:
        ValueError: ``zone`` is not a time zone name.
    """
    tz = time_zone(zone)
    explainer = Explainer.for_policy(policy, tz)
    state = CaseState.from_json(row["s"])
    sentences: list[Sentence] = explainer.state(state, now)
    return {
        "case_id": case_id,
        "found": True,
        "policy_version": policy.version,
        "now": now.isoformat(),
        "sentences": [
            {"at": s.at.isoformat(), "when": explainer.when(s.at), "clock": s.clock, "text": s.text}
            for s in sentences
        ],
    }


def register(rt: Runtime) -> None:
    """Add ``/cases/{case_id}/explain`` to the worker's web server (a debug endpoint)."""
    if not rt.settings.debug_endpoints:
        return
    app = rt.app

    @app.page("/cases/{case_id}/explain", name="slawatch_case_explain")
    async def explain_view(web: View, request: Request, case_id: str) -> Response:
        row = decode_row(rt.cases.get(case_id))
        if row is None or row.get("s") is None or row.get("p") not in rt.active_partitions():
            owners = await forward_to_owner(rt, web, request, case_id)
            if owners is not None:
                return owners
            return web.json({"case_id": case_id, "found": False}, status=404)
        zone = request.query.get("tz", DEFAULT_ZONE)
        try:
            body = explain_row(case_id, row, rt.policy, zone, datetime.now(UTC))
        except ValueError as error:
            return web.json({"case_id": case_id, "error": str(error)}, status=400)
        return web.json(body)
