"""Run ``slawatch worker`` (whose app registers the alert glue itself: streams/alerting.py).
Used by the worker integration tests only."""

from __future__ import annotations

import sys

if __name__ == "__main__":
    from slawatch.worker import run_worker

    sys.exit(run_worker())
