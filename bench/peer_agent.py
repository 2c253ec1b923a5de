"""The baseline of ``bench/throughput.py``: the simplest clock a Faust user writes by hand.

One agent on the source topic, a JSON decode per event, one table write per event (with its
changelog record), an outcome record sent on the stop event. No mapping, no policy, no
working-time calendar, no deadline index, no alerts: what slawatch does on top of this is the
product, so slawatch should beat this agent by batching and by not doing avoidable work.

Run by the benchmark as a subprocess (``python bench/peer_agent.py``) with:

* ``PEER_BROKER`` (``kafka://host:port``), ``PEER_TOPIC``, ``PEER_PARTITIONS``,
  ``PEER_WEB_PORT``, ``PEER_DATADIR``;
* ``PEER_LINGER``, ``PEER_MAX_BATCH``: ``producer_linger`` in seconds and
  ``producer_max_batch_size`` in bytes (the worker's settings, for a fair pair).

It serves ``/ready`` (200 once its table is recovered and it owns its partitions) and
``/count`` (outcomes sent so far, as text).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import faust
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from streams import tansu  # noqa: E402

env = os.environ
tansu.install()  # the same correction the worker runs with on Tansu
app = faust.App(
    f"peer{os.getpid()}",
    broker=env["PEER_BROKER"],
    store="memory://",
    datadir=env.get("PEER_DATADIR", "/tmp/peer-agent"),
    topic_partitions=int(env["PEER_PARTITIONS"]),
    processing_guarantee="at_least_once",
    consumer_auto_offset_reset="earliest",
    producer_linger=float(env.get("PEER_LINGER", "0")),
    producer_max_batch_size=int(env.get("PEER_MAX_BATCH", "16384")),
    producer_acks=-1,
    broker_session_timeout=6.0,
    broker_heartbeat_interval=1.0,
    broker_rebalance_timeout=6.0,
    web_enabled=True,
    web_bind="127.0.0.1",
    web_port=int(env["PEER_WEB_PORT"]),
    autodiscover=False,
)
source = app.topic(env["PEER_TOPIC"], key_serializer="raw", value_serializer="raw")
outcomes = app.topic("peer.outcomes", key_serializer="raw", value_serializer="raw")
cases = app.Table("peer-cases", default=None, partitions=int(env["PEER_PARTITIONS"]))
sent = 0


@app.agent(source)
async def clock(stream: Any) -> None:
    """Start a case's clock on registration, stop it on acknowledgement with an outcome."""
    global sent
    async for value in stream:
        event = orjson.loads(value)
        case_id = event["case_id"]
        if event["event_type"] == "complaint_registered":
            cases[case_id] = {"started_at": event["occurred_at"], "open": True}
            continue
        row = cases[case_id] or {}
        cases[case_id] = {**row, "open": False, "stopped_at": event["occurred_at"]}
        outcome = {"case_id": case_id, "started_at": row.get("started_at"), "outcome": "met"}
        await outcomes.send(key=case_id.encode(), value=orjson.dumps(outcome))
        sent += 1


@app.page("/ready")
async def ready(web: Any, request: Any) -> Any:
    up = not app.rebalancing and app.tables.actives_ready
    return web.text("ready" if up else "starting", status=200 if up else 503)


@app.page("/count")
async def count(web: Any, request: Any) -> Any:
    return web.text(str(sent))


if __name__ == "__main__":
    worker = faust.Worker(app, loglevel="warning", quiet=True)
    worker.spinner = None
    worker.execute_from_commandline()
