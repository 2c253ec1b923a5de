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

from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from slawatch import __version__
from streams.case_row import decode_row

if TYPE_CHECKING:
    from streams.app import Runtime

__all__ = ["register"]


def register(rt: Runtime) -> None:
    """Add the views to the app's web server."""
    app = rt.app
    metrics = rt.metrics

    @app.page("/metrics", name="slawatch_metrics")
    async def metrics_view(web: Any, request: Any) -> Any:
        return web.bytes(
            generate_latest(metrics.registry),
            content_type=CONTENT_TYPE_LATEST.split(";")[0],
        )

    @app.page("/health", name="slawatch_health")
    async def health_view(web: Any, request: Any) -> Any:
        crashed = bool(app.crashed)
        body = {
            "status": "ok" if not crashed else "crashed",
            "version": __version__,
            "policy_version": rt.policy.version,
            "app_id": rt.settings.app_id,
        }
        return web.json(body, status=200 if not crashed else 503)

    @app.page("/ready", name="slawatch_ready")
    async def ready_view(web: Any, request: Any) -> Any:
        ready = bool(
            app.tables.actives_ready
            and not app.rebalancing
            and app.tables.recovery.completed.is_set()  # type: ignore[attr-defined]
        )
        body = {
            "ready": ready,
            "rebalancing": bool(app.rebalancing),
            "index_size": len(rt.index),
            "in_flight": rt.index.in_flight(),
            "recovered": rt.extra.get("recovered"),
        }
        return web.json(body, status=200 if ready else 503)

    from streams import forward, health, worklist

    health.register(rt)
    worklist.register(rt)

    if not rt.settings.debug_endpoints:
        return

    @app.page("/cases/{case_id}", name="slawatch_case")
    async def case_view(web: Any, request: Any, case_id: str) -> Any:
        row = decode_row(rt.cases.get(case_id)) if rt.cases is not None else None
        active = rt.extra.get("active_partitions")
        if row is None or (active is not None and row.get("p") not in active()):
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
