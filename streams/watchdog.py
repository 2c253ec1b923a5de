"""The broker watchdog: notice when the broker lost this worker's topics, and stop loudly.

A broker that is slow or unreachable for a while is not a reason to stop: the Kafka clients
reconnect by themselves and the worker carries on where it was (``tests/streams/test_faults``).
A broker that comes back *empty* is different. Tansu's memory engine loses every topic when it
restarts (it keeps topics in memory only), and a Kafka cluster can be rebuilt or a topic
deleted by hand. The worker then holds positions and state the broker no longer has; its
consumers stay silent and ``/ready`` would keep answering 200 while nothing is processed.

Every :data:`CHECK_INTERVAL_S` seconds, once the worker is settled (partitions assigned, no
rebalance running; a recovery may still be waiting), the watchdog asks the broker (in a thread,
with short timeouts) for the partition counts of the worker's own topics (``slawatch.events``,
``slawatch.due``) and for the end offsets of the partitions this worker
has read (on Tansu never below the high watermark its own fetches saw: Tansu's ListOffsets can
be short, see :mod:`streams.tansu`). A broker that does not answer changes nothing. A broker
that answers without a topic, with another partition count, or with an end offset below what
this worker has already read has lost data: the watchdog logs ``broker_data_lost`` naming what
is gone and crashes the app, so the process exits with status 1 and its supervisor starts it
again. At start the worker re-creates its topics (``slawatch worker``'s topic check) and
begins with the state the broker still has; what was lost with the broker is lost
(docs/design.md, Faults).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Mapping
from functools import partial

import structlog
from faust.types import TP

from streams.errors import Failed
from streams.positions import ConsumerOffsets, Partition, fetch_highwater, positions
from streams.runtime import Runtime, settled

__all__ = ["CHECK_INTERVAL_S", "BrokerDataLost", "lost_offsets", "lost_topics", "register"]

log = structlog.get_logger("slawatch.watchdog")

#: Seconds between two checks of the broker.
CHECK_INTERVAL_S = 5.0

#: Seconds one check may take before it counts as "the broker did not answer".
CHECK_TIMEOUT_S = 10.0


#: Seconds the worker may take to stop after ``broker_data_lost`` before it exits anyway.
EXIT_DEADLINE_S = 15.0


def _exit_now() -> None:
    """End the process with status 1 now (the clean stop took longer than the deadline)."""
    log.critical("worker_exit_forced", after_s=EXIT_DEADLINE_S, status=1)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(1)


class BrokerDataLost(RuntimeError):
    """The broker answers but no longer has topics or records this worker relied on."""


def lost_topics(expected: Mapping[str, int], found: Mapping[str, int]) -> list[str]:
    """What is wrong with the worker's topics: missing ones and changed partition counts.

    >>> lost_topics({"a": 2, "b": 2}, {"a": 4})
    ['topic a has 4 partitions, the worker created it with 2', 'topic b is gone']
    """
    problems = []
    for name, partitions in sorted(expected.items()):
        if name not in found:
            problems.append(f"topic {name} is gone")
        elif found[name] != partitions:
            problems.append(
                f"topic {name} has {found[name]} partitions, the worker created it with "
                f"{partitions}"
            )
    return problems


def lost_offsets(positions: Mapping[Partition, int], ends: Mapping[Partition, int]) -> list[str]:
    """Partitions whose end offset is below the offset this worker has already reached.

    >>> lost_offsets({("t", 0): 5, ("t", 1): 3}, {("t", 0): 2, ("t", 1): 3})
    ['t[0] ends at offset 2, the worker already read up to 5']
    """
    return [
        f"{topic}[{partition}] ends at offset {ends[(topic, partition)]}, "
        f"the worker already read up to {position}"
        for (topic, partition), position in sorted(positions.items())
        if (topic, partition) in ends and ends[(topic, partition)] < position
    ]


def _check(rt: Runtime, expected: Mapping[str, int], reached: Mapping[Partition, int]) -> list[str]:
    """One look at the broker (blocking; run in a thread). Raises when it does not answer."""
    from kafka import KafkaConsumer, TopicPartition

    from streams.admin import partition_counts
    from streams.kafka_auth import client_security

    security = client_security(rt.settings)
    found = partition_counts(
        rt.settings.bootstrap, sorted(expected), timeout=CHECK_TIMEOUT_S, security=security
    )
    problems = lost_topics(expected, found)
    wanted = [TopicPartition(t, p) for t, p in reached if t in found and p < found[t]]
    if problems or not wanted:
        return problems
    consumer = KafkaConsumer(  # kafka-python: a short-lived client of its own, in this thread
        bootstrap_servers=rt.settings.bootstrap,
        group_id=None,
        enable_auto_commit=False,
        request_timeout_ms=int(CHECK_TIMEOUT_S * 1000),
        **security,
    )
    try:
        ends = consumer.end_offsets(wanted)
    finally:
        consumer.close()
    found_ends: dict[Partition, int] = {(tp.topic, tp.partition): int(o) for tp, o in ends.items()}
    if rt.settings.tansu:
        # Tansu's ListOffsets can be below the true end (streams/tansu.py); a Fetch high
        # watermark this worker saw is a floor, so only a real loss is reported.
        for key, seen in _fetch_highwaters(rt, found_ends).items():
            found_ends[key] = max(found_ends[key], seen)
    return lost_offsets(reached, found_ends)


def _fetch_highwaters(rt: Runtime, wanted: Mapping[Partition, int]) -> dict[Partition, int]:
    """The high watermarks of the worker's own consumer's last Fetch responses."""
    consumer = _consumer(rt)
    out: dict[Partition, int] = {}
    for key in wanted:
        seen = fetch_highwater(consumer, TP(*key))
        if seen is not None:
            out[key] = seen
    return out


def _consumer(rt: Runtime) -> ConsumerOffsets:
    return rt.app.consumer  # type: ignore[return-value]  # Faust's private offsets, read only


def register(rt: Runtime) -> None:
    """Add the watchdog task to the worker's app."""
    app = rt.app
    names = rt.settings.topic_names
    expected = {names.events: rt.settings.partitions, names.due: rt.settings.partitions}
    watched = set(expected)

    async def broker_watchdog() -> None:
        loop = asyncio.get_running_loop()
        while not app.should_stop:
            await asyncio.sleep(CHECK_INTERVAL_S)
            if not settled(app):
                continue
            check = partial(_check, rt, expected, positions(_consumer(rt), watched))
            problems = await rt.errors.attempt_async(
                # no answer: the clients reconnect; nothing to decide
                partial(
                    asyncio.wait_for,
                    loop.run_in_executor(None, check),
                    timeout=CHECK_TIMEOUT_S * 3,
                ),
                "broker_check_skipped",
                level="info",
            )
            if isinstance(problems, Failed):
                rt.metrics.broker_checks.labels("skipped").inc()
                continue
            if not problems:
                rt.metrics.broker_checks.labels("ok").inc()
                continue
            log.error(
                "broker_data_lost",
                problems=problems,
                action="exiting with status 1; on restart the worker re-creates its topics "
                "and continues with the state the broker still has",
            )
            # Faust's stop can wait a minute for a Kafka client thread whose broker vanished
            # mid-fetch; the broker holds nothing of ours to flush to, so do not wait for it.
            loop.call_later(EXIT_DEADLINE_S, _exit_now)
            await app.crash(BrokerDataLost("; ".join(problems)))
            return

    app.task(broker_watchdog)
