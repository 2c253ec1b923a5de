"""The complaint backlog the worker benchmarks share (throughput, engine, processor).

N/2 complaints, each ``complaint_registered`` (two clocks start) then
``complaint_acknowledged`` ten minutes later in event time (one clock ends: an outcome record).
Event times end 20 minutes before ``now``: the worker dead-letters times far from its wall clock
(``SLAWATCH_EVENT_MAX_AGE``/``_FUTURE``), and every acknowledgement lands before the first
warning is due (12 h), so every run does the same work. Registrations come first, then the
acknowledgements: a realistic gap between a case's start and its stop.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

__all__ = ["complaints"]


def complaints(n: int, now: datetime) -> list[tuple[str, dict[str, Any]]]:
    """(case id, canonical event as JSON-ready dict) of ``n`` events, in backlog order."""
    base = now - timedelta(seconds=n // 2) - timedelta(minutes=20)
    out = []
    for i in range(n // 2):
        case = f"B-{i:07d}"
        for j, (kind, delta) in enumerate(
            (("complaint_registered", 0), ("complaint_acknowledged", 600))
        ):
            event = {
                "event_id": f"{case}-{j}",
                "case_id": case,
                "case_kind": "complaint",
                "event_type": kind,
                "occurred_at": (base + timedelta(seconds=i + delta)).isoformat(),
                "attributes": {"team": "cs-frontline", "region": "north", "channel": "phone"},
            }
            out.append((case, event))
    return out[0::2] + out[1::2]
