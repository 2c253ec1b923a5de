"""A Faust consumer without a broker, for tests of what the worker changes in Faust's acks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import faust

from streams import skipped_acks


@contextmanager
def acking_consumer(topic: str, generation: int = 2) -> Iterator[Any]:
    """A never-started Faust consumer (no broker) acking ``topic``, in ``generation``.

    The worker's wrappers (:func:`streams.skipped_acks.install`) are installed; flow runs.
    """
    skipped_acks.install()
    app = faust.App(f"{topic}-app", broker="kafka://127.0.0.1:1")
    app.topics._acking_topics.add(topic)
    app.consumer_generation_id = generation
    app.flow_control.resume()
    try:
        yield app.consumer
    finally:
        app.flow_control.suspend()
