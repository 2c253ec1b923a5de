"""The broker watchdog: notice when the broker lost this worker's topics, and stop loudly.

A broker that is slow or unreachable for a while is not a reason to stop: the Kafka clients
reconnect by themselves and the worker carries on where it was (``tests/streams/test_faults``).
A broker that comes back *empty* is different. Tansu's memory engine loses every topic when it
restarts (notes R7), and a Kafka cluster can be rebuilt or a topic deleted by hand. The worker
then holds positions and state the broker no longer has; its consumers stay silent and
``/ready`` would keep answering 200 while nothing is processed.

Every :data:`CHECK_INTERVAL_S` seconds, once the worker is ready, the watchdog asks the broker
(in a thread, with short timeouts) for the partition counts of the worker's own topics
(``slawatch.events``, ``slawatch.due``) and for the end offsets of the partitions this worker
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
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import structlog

if TYPE_CHECKING:
    from streams.app import Runtime

__all__ = ["CHECK_INTERVAL_S", "BrokerDataLost", "lost_offsets", "lost_topics", "register"]

log = structlog.get_logger("slawatch.watchdog")

#: Seconds between two checks of the broker.
CHECK_INTERVAL_S = 5.0

#: Seconds one check may take before it counts as "the broker did not answer".
CHECK_TIMEOUT_S = 10.0

Partition = tuple[str, int]


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


def _positions(rt: Runtime, topics: set[str]) -> dict[Partition, int]:
    """The offset each partition of ``topics`` has reached in this worker: its end cannot be lower.

    Faust's ``_read_offset`` is the last offset read, except right after a seek to the committed
    offset (every assignment, after a rebalance), when it is the *next* offset to read; so no
    ``+ 1`` here, or an idle, fully read partition looks one record short after a rebalance.
    """
    consumer: Any = rt.app.consumer
    read: Mapping[Any, int | None] = getattr(consumer, "_read_offset", {}) or {}
    return {
        (tp.topic, tp.partition): int(offset)
        for tp, offset in list(read.items())
        if tp.topic in topics and offset is not None and offset >= 0
    }


def _check(
    rt: Runtime, expected: Mapping[str, int], positions: Mapping[Partition, int]
) -> list[str]:
    """One look at the broker (blocking; run in a thread). Raises when it does not answer."""
    from kafka import KafkaConsumer, TopicPartition

    from streams.admin import partition_counts
    from streams.kafka_auth import client_security

    security = client_security(rt.settings)
    found = partition_counts(
        rt.settings.bootstrap, sorted(expected), timeout=CHECK_TIMEOUT_S, security=security
    )
    problems = lost_topics(expected, found)
    wanted = [TopicPartition(t, p) for t, p in positions if t in found and p < found[t]]
    if problems or not wanted:
        return problems
    consumer = KafkaConsumer(
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
    found_ends = {(tp.topic, tp.partition): int(o) for tp, o in ends.items()}
    if rt.settings.tansu:
        # Tansu's ListOffsets can be below the true end (streams/tansu.py); a Fetch high
        # watermark this worker saw is a floor, so only a real loss is reported.
        for key, seen in _fetch_highwaters(rt, found_ends).items():
            found_ends[key] = max(found_ends[key], seen)
    return lost_offsets(positions, found_ends)


def _fetch_highwaters(rt: Runtime, wanted: Mapping[Partition, int]) -> dict[Partition, int]:
    """The high watermarks of the worker's own consumer's last Fetch responses."""
    consumer: Any = rt.app.consumer
    out: dict[Partition, int] = {}
    for tp in list(consumer.assignment()):
        key = (tp.topic, tp.partition)
        if key not in wanted:
            continue
        try:
            seen = consumer.highwater(tp)
        except Exception:  # no fetch yet for this partition
            continue
        if seen is not None:
            out[key] = int(seen)
    return out


def register(rt: Runtime) -> None:
    """Add the watchdog task to the worker's app."""
    app = rt.app
    names = rt.settings.topic_names
    expected = {names.events: rt.settings.partitions, names.due: rt.settings.partitions}
    watched = set(expected)

    @app.task  # type: ignore[untyped-decorator]
    async def broker_watchdog() -> None:
        loop = asyncio.get_running_loop()
        while not app.should_stop:
            await asyncio.sleep(CHECK_INTERVAL_S)
            if app.rebalancing or not app.tables.actives_ready:
                continue
            positions = _positions(rt, watched)
            try:
                problems = await asyncio.wait_for(
                    loop.run_in_executor(None, _check, rt, expected, positions),
                    timeout=CHECK_TIMEOUT_S * 3,
                )
            except Exception as exc:  # no answer: the clients reconnect; nothing to decide
                log.info("broker_check_skipped", error=type(exc).__name__)
                continue
            if problems:
                log.error(
                    "broker_data_lost",
                    problems=problems,
                    action="exiting with status 1; on restart the worker re-creates its topics "
                    "and continues with the state the broker still has",
                )
                await app.crash(BrokerDataLost("; ".join(problems)))
                return
