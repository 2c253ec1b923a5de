"""Answer from whichever worker is asked: find the worker that owns a case, or every worker.

Each worker owns some partitions of the ``cases`` table. Faust's assignor knows which worker
(by its canonical URL, ``http://SLAWATCH_WEB_HOST:SLAWATCH_WEB_PORT``) owns which partition, so
a worker behind a Service can forward a request for a case to its owner
(:func:`forward_to_owner`) or gather a view from every worker (:func:`peers`). A forwarded
request carries :data:`FORWARDED`, and a forwarded request is never forwarded again: stale
ownership during a rebalance cannot make two workers bounce a request between them.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import structlog
from faust.web import Request, Response, View
from yarl import URL

from streams.runtime import CASES_TABLE, Runtime

__all__ = ["FORWARDED", "fetch_json", "forward_to_owner", "is_forwarded", "owner_url", "peers"]

log = structlog.get_logger("slawatch.web")

#: Header on a request one worker sends another; its value is the sender's URL.
FORWARDED = "X-Slawatch-Forwarded"
_TIMEOUT = aiohttp.ClientTimeout(total=5)


def _ident(url: URL | str) -> tuple[str, int]:
    u = URL(str(url))
    return (u.host or "", int(u.port or 80))


def _me(rt: Runtime) -> tuple[str, int]:
    return _ident(rt.app.conf.canonical_url)


def is_forwarded(request: Request) -> bool:
    """Whether another worker sent this request (so it is answered from here only)."""
    return bool(request.headers.get(FORWARDED))


def owner_url(rt: Runtime, case_id: str) -> URL | None:
    """The URL of the worker owning ``case_id``'s partition; None if it is this one or unknown."""
    try:
        url = URL(str(rt.app.router.key_store(CASES_TABLE, case_id)))
    except (KeyError, ValueError, AttributeError):
        return None
    return None if _ident(url) == _me(rt) else url


def peers(rt: Runtime) -> list[URL]:
    """Every other worker of the group that holds partitions of a table."""
    try:
        hosts = rt.app.assignor.tables_metadata()
    except (KeyError, AttributeError):
        return []
    me = _me(rt)
    return sorted({URL(str(h)) for h in hosts if _ident(h) != me}, key=str)


async def fetch_json(rt: Runtime, url: URL) -> tuple[int, Any]:
    """GET ``url`` from another worker as a forwarded request: (status, JSON body).

    Raises:
        aiohttp.ClientError, TimeoutError: the worker did not answer.
    """
    headers = {FORWARDED: str(rt.app.conf.canonical_url)}
    async with (
        aiohttp.ClientSession(timeout=_TIMEOUT) as session,
        session.get(url, headers=headers) as response,
    ):
        return response.status, await response.json(content_type=None)


async def forward_to_owner(
    rt: Runtime, web: View, request: Request, case_id: str
) -> Response | None:
    """The owner's answer to this request, or None when it is to be answered here.

    None when the request was itself forwarded, or this worker owns the case (or nobody is
    known to). An owner that does not answer gives 502 naming it, never a false 404.
    """
    if is_forwarded(request):
        return None
    owner = owner_url(rt, case_id)
    if owner is None:
        return None
    target = owner.with_path(request.rel_url.path).with_query(request.query)
    try:
        status, body = await fetch_json(rt, target)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        log.warning("forward_failed", case_id=case_id, owner=str(owner), error=type(exc).__name__)
        return web.json(
            {"case_id": case_id, "error": f"the owning worker {owner} did not answer"},
            status=502,
        )
    return web.json(body, status=status)
