"""Correct table-recovery highwaters on the Tansu broker (development and CI only).

Tansu's ListOffsets(LATEST) returns the base offset of the *last batch* plus one, not the end
of the log, whenever that batch holds more than one record (notes §5.2). Faust takes that value
as the changelog highwater, so recovery stops early and leaves stale table values (with
``rocksdb://`` a warm restart even fails with ``ConsistencyError``). The high watermark in a
Fetch response is right. :func:`install` wraps Faust's aiokafka driver so each partition's
highwater is ``max(ListOffsets, Fetch high watermark)``.

Real Kafka does not need this; it is applied only when ``SLAWATCH_TANSU=1``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.errors import DEFAULT as DEFAULT_ERRORS
from streams.errors import Failed

__all__ = ["fetch_highwaters", "install", "installed", "uninstall"]

log = logging.getLogger(__name__)

_ORIGINAL_ATTR = "_slawatch_original_highwaters"
#: How long one correction may take before we fall back to the ListOffsets values.
FETCH_TIMEOUT_S = 5.0


async def fetch_highwaters(
    bootstrap_servers: str | list[str],
    start_offsets: Mapping[TopicPartition, int],
    *,
    timeout: float = FETCH_TIMEOUT_S,
    **client_kwargs: Any,
) -> dict[TopicPartition, int]:
    """The high watermark a Fetch reports for each partition.

    A group-less consumer is assigned the partitions, positioned at ``start_offsets`` (a
    valid offset at or below the end, e.g. what ListOffsets said) and polled until each
    partition has seen one fetch response. Partitions that did not answer in ``timeout``
    are left out.

    Args:
        bootstrap_servers: the brokers, ``host:port`` or a list of them.
        start_offsets: where to position each partition before fetching.
        timeout: seconds to wait for all partitions.
        client_kwargs: extra ``AIOKafkaConsumer`` arguments (security settings).

    Returns:
        partition -> high watermark (the offset the next record will get).
    """
    if not start_offsets:
        return {}
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        fetch_max_wait_ms=50,
        max_partition_fetch_bytes=1024,
        fetch_max_bytes=64 * 1024,
        **client_kwargs,
    )
    await consumer.start()
    try:
        partitions = list(start_offsets)
        consumer.assign(partitions)
        for tp, offset in start_offsets.items():
            consumer.seek(tp, max(int(offset), 0))
        found: dict[TopicPartition, int] = {}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pending = [tp for tp in partitions if tp not in found]
            if not pending:
                break
            await consumer.getmany(*pending, timeout_ms=100, max_records=1)
            for tp in pending:
                highwater = consumer.highwater(tp)
                if highwater is not None:
                    found[tp] = int(highwater)
        return found
    finally:
        await DEFAULT_ERRORS.attempt_async(consumer.stop)  # a client that will not stop: let it go


def _as_aiokafka_tp(tp: Any) -> TopicPartition:
    return TopicPartition(tp.topic, tp.partition)


def _wrap(
    original: Callable[[Any, list[Any]], Awaitable[Mapping[Any, int]]],
) -> Callable[[Any, list[Any]], Awaitable[Mapping[Any, int]]]:
    async def _highwaters(self: Any, partitions: list[Any]) -> Mapping[Any, int]:
        listed = dict(await original(self, partitions))
        if self.consumer.in_transaction or not listed:
            return listed
        from faust.transport.drivers.aiokafka import (
            credentials_to_aiokafka_auth,
            server_list,
        )

        transport = self.transport
        conf = self.app.conf
        by_tp = {_as_aiokafka_tp(tp): tp for tp in listed}
        fetched = await DEFAULT_ERRORS.attempt_async(  # keep recovery going on any failure
            partial(
                fetch_highwaters,
                server_list(transport.url, transport.default_port),
                {atp: listed[tp] for atp, tp in by_tp.items()},
                **credentials_to_aiokafka_auth(conf.broker_credentials, conf.ssl_context),
            )
        )
        if isinstance(fetched, Failed):
            log.warning("tansu highwater correction failed, using ListOffsets: %s", fetched.detail)
            return listed
        corrected = {}
        for atp, tp in by_tp.items():
            value = max(listed[tp], fetched.get(atp, listed[tp]))
            if value != listed[tp]:
                log.info(
                    "tansu highwater corrected for %s[%d]: ListOffsets %d, Fetch %d",
                    tp.topic,
                    tp.partition,
                    listed[tp],
                    value,
                )
            corrected[tp] = value
        return corrected

    setattr(_highwaters, _ORIGINAL_ATTR, original)
    return _highwaters


def installed() -> bool:
    """True when the correction is active in this process."""
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

    return hasattr(AIOKafkaConsumerThread._highwaters, _ORIGINAL_ATTR)


def install() -> None:
    """Wrap Faust's aiokafka driver so recovery uses the corrected highwaters (idempotent)."""
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

    if installed():
        return
    AIOKafkaConsumerThread._highwaters = _wrap(AIOKafkaConsumerThread._highwaters)  # type: ignore[method-assign,assignment]  # patching Faust


def uninstall() -> None:
    """Undo :func:`install` (for tests)."""
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

    original = getattr(AIOKafkaConsumerThread._highwaters, _ORIGINAL_ATTR, None)
    if original is not None:
        AIOKafkaConsumerThread._highwaters = original  # type: ignore[method-assign]  # unpatching
