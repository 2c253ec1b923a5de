"""Run ``slawatch worker`` with the alert glue registered, whether or not ``streams/app.py``
calls :func:`streams.alerting.register` yet. Used by the worker integration tests only."""

from __future__ import annotations

import sys
from typing import Any

import streams.app as app_module

_create_app = app_module.create_app
_topic_sizes = app_module.Runtime.topic_sizes


def create_app(settings: Any, **kwargs: Any) -> Any:
    runtime = _create_app(settings, **kwargs)
    if "alerts" not in runtime.extra:
        from streams import alerting

        alerting.register(runtime)
    return runtime


def topic_sizes(self: Any) -> dict[str, int]:
    sizes = _topic_sizes(self)
    sizes.setdefault(self.settings.topic_names.acks, self.settings.partitions)
    return sizes


app_module.create_app = create_app  # type: ignore[assignment]
app_module.Runtime.topic_sizes = topic_sizes  # type: ignore[method-assign]

if __name__ == "__main__":
    from slawatch.worker import run_worker

    sys.exit(run_worker())
