"""The worker's HTTP views: ``/metrics``, ``/health``, ``/ready`` and ``/cases/{id}``.

``/ready`` answers 200 only when this worker owns its partitions and has finished recovering
the ``cases`` table (Faust's ``actives_ready`` and not rebalancing), so an orchestrator sends
no traffic and counts no readiness while a restart is still replaying state. ``/cases/{id}``
(off unless ``SLAWATCH_DEBUG_ENDPOINTS=1``: it answers anyone who reaches the port) returns the
stored state of one case; asked of a worker that does not own the case, it answers with the
owner's answer (:mod:`streams.forward`). Case ids are opaque ids, the state holds no personal
data.
"""

from __future__ import annotations

from dataclasses import asdict

from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from streams.case_row import decode_row
from streams.runtime import Runtime, ready
from streams.version import __version__

__all__ = ["register"]


def register(rt: Runtime) -> None:
    """Add the views to the app's web server."""
    app = rt.app
    metrics = rt.metrics

    @app.page("/metrics", name="slawatch_metrics")
    async def metrics_view(web: View, request: Request) -> Response:
        return web.bytes(
            generate_latest(metrics.registry),
            content_type=CONTENT_TYPE_LATEST.split(";")[0],
        )

    @app.page("/health", name="slawatch_health")
    async def health_view(web: View, request: Request) -> Response:
        crashed = bool(app.crashed)
        body = {
            "status": "ok" if not crashed else "crashed",
            "version": __version__,
            "policy_version": rt.policy.version,
            "app_id": rt.settings.app_id,
        }
        return web.json(body, status=200 if not crashed else 503)

    @app.page("/ready", name="slawatch_ready")
    async def ready_view(web: View, request: Request) -> Response:
        is_ready = ready(app)
        recovered = rt.recovery.last
        body = {
            "ready": is_ready,
            "rebalancing": bool(app.rebalancing),
            "index_size": len(rt.index),
            "in_flight": rt.index.in_flight(),
            "recovered": None if recovered is None else asdict(recovered),
        }
        return web.json(body, status=200 if is_ready else 503)

    from streams import forward, health, worklist

    health.register(rt)
    worklist.register(rt)

    if not rt.settings.debug_endpoints:
        return

    @app.page("/cases/{case_id}", name="slawatch_case")
    async def case_view(web: View, request: Request, case_id: str) -> Response:
        row = decode_row(rt.cases.get(case_id))
        if row is None or row.get("p") not in rt.active_partitions():
            owners = await forward.forward_to_owner(rt, web, request, case_id)
            if owners is not None:
                return owners
            return web.json({"case_id": case_id, "found": False}, status=404)
        return web.json(
            {
                "case_id": case_id,
                "found": True,
                "partition": row.get("p"),
                "next_due": row.get("due"),
                "indexed_due": rt.index.due_of(case_id),
                "open": row.get("open"),
                "near": row.get("near"),
                "state": row.get("s"),
            }
        )
