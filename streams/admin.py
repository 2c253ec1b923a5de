"""Create the topics slawatch needs, idempotently (kafka-python admin client).

Internal topics (``slawatch.events``, ``slawatch.due``) and the output topics get the same
partition count, so the events and timer commands of one case land in the same partition
number and the same worker (co-partitioning). A topic that already exists is left as it is;
if its partition count differs, :func:`ensure_topics` says so (Tansu cannot add partitions:
recreate the topic, or set SLAWATCH_PARTITIONS to the existing count).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaError, TopicAlreadyExistsError

__all__ = ["TopicMismatch", "ensure_topics", "partition_counts"]

log = logging.getLogger(__name__)


class TopicMismatch(RuntimeError):
    """An existing topic has another partition count than slawatch needs."""


def _client(bootstrap: str, timeout: float) -> KafkaAdminClient:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return KafkaAdminClient(
                bootstrap_servers=bootstrap.split(","),
                client_id="slawatch-admin",
                request_timeout_ms=int(min(timeout, 30.0) * 1000),
            )
        except KafkaError as exc:
            if time.monotonic() >= deadline:
                raise ConnectionError(
                    f"no Kafka broker answered on {bootstrap} within {timeout}s: {exc!r}; "
                    "check SLAWATCH_BROKER and that the broker runs"
                ) from exc
            time.sleep(0.5)


def partition_counts(bootstrap: str, names: list[str], timeout: float = 30.0) -> dict[str, int]:
    """Partition count of each existing topic among ``names``."""
    admin = _client(bootstrap, timeout)
    try:
        return _counts(admin, names)
    finally:
        admin.close()


def _counts(admin: KafkaAdminClient, names: list[str]) -> dict[str, int]:
    existing = set(admin.list_topics())
    wanted = [n for n in names if n in existing]
    if not wanted:
        return {}
    counts: dict[str, int] = {}
    for desc in admin.describe_topics(wanted):
        if desc.get("error_code", 0) == 0:
            counts[desc["name"]] = len(desc.get("partitions") or [])
    return counts


def ensure_topics(
    bootstrap: str,
    topics: Mapping[str, int],
    *,
    strict: bool = False,
    timeout: float = 30.0,
) -> dict[str, int]:
    """Create each missing topic with its partition count; leave existing ones alone.

    Args:
        bootstrap: ``host:port[,host:port]``.
        topics: topic name -> partition count.
        strict: raise :class:`TopicMismatch` when an existing topic has another count
            (co-partitioned topics must match); otherwise log a warning.
        timeout: seconds to wait for the broker.

    Returns:
        topic name -> partition count after the call.
    """
    admin = _client(bootstrap, timeout)
    try:
        counts = _counts(admin, list(topics))
        missing = {
            n: {"num_partitions": p, "replication_factor": 1}
            for n, p in topics.items()
            if n not in counts
        }
        if missing:
            try:
                admin.create_topics(missing, timeout_ms=int(timeout * 1000), raise_errors=False)
            except TopicAlreadyExistsError:
                pass  # created meanwhile by another worker
            except KafkaError as exc:
                if "TopicAlreadyExists" not in repr(exc):
                    raise
            for name, spec in missing.items():
                log.info("created topic %s with %d partitions", name, spec["num_partitions"])
        deadline = time.monotonic() + timeout
        while True:
            counts = _counts(admin, list(topics))
            if all(n in counts for n in topics) or time.monotonic() >= deadline:
                break
            time.sleep(0.2)
        mismatched = {
            n: (counts[n], p) for n, p in topics.items() if n in counts and counts[n] != p
        }
        for name, (have, want) in mismatched.items():
            message = (
                f"topic {name} has {have} partitions, slawatch wants {want}; set "
                f"SLAWATCH_PARTITIONS={have} or recreate the topic with {want} partitions"
            )
            if strict:
                raise TopicMismatch(message)
            log.warning(message)
        return counts
    finally:
        admin.close()
