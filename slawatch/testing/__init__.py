"""Test your policies against a real broker: the harness slawatch's own tests use.

A :class:`Stack` is one test's slice of a Kafka broker (its own app id, topic names, web port
and config files); it starts ``slawatch worker`` processes (:class:`WorkerProcess`), produces
canonical events (:func:`canonical`) and reads the output topics back (:class:`TopicReader`).
Waits are bounded: :func:`wait_for` polls a condition with a deadline, and
:meth:`Stack.breach_barrier` proves that nothing more can come out instead of sleeping.

Example (with a broker at ``127.0.0.1:9092``)::

    from datetime import UTC, datetime
    from slawatch.testing import Stack, canonical, one_clock_policy

    stack = Stack("127.0.0.1:9092", tmp_path, one_clock_policy("v1", limit="2s"))
    try:
        stack.start_worker()
        breaches = stack.reader("breaches")
        stack.send(canonical("e-1", "C-1", "complaint_registered", datetime.now(UTC)))
        breaches.wait(lambda values: values, 30, "the breach of C-1")
    finally:
        stack.close()

:mod:`slawatch.testing.failover` runs several workers under a steady stream and judges what
comes out across SIGTERM and SIGKILL (the CI failover test and ``bench/failover.py``).
"""

from slawatch.testing._reader import TopicReader
from slawatch.testing._redis import REDIS_ENV, RedisServer, redis_answers, redis_url
from slawatch.testing._stack import (
    ROLES,
    Stack,
    by_case,
    canonical,
    case_per_partition,
    one_clock_policy,
    webhook_alerts,
)
from slawatch.testing._wait import wait_for
from slawatch.testing._worker import VENV_BIN, WorkerFailed, WorkerProcess

__all__ = [
    "REDIS_ENV",
    "ROLES",
    "VENV_BIN",
    "RedisServer",
    "Stack",
    "TopicReader",
    "WorkerFailed",
    "WorkerProcess",
    "by_case",
    "canonical",
    "case_per_partition",
    "one_clock_policy",
    "redis_answers",
    "redis_url",
    "wait_for",
    "webhook_alerts",
]
