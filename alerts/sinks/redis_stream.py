"""A Redis Stream per team (``XADD ... MAXLEN ~ N``) that a staff application reads.

Each entry carries what a staff screen needs, as flat string fields: id, kind, level, case,
clock, cycle, team, assignee, deadline, late_seconds, summary, ack_url, and the whole alert as
JSON in ``document``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from redis.exceptions import RedisError

from alerts.message import as_document
from alerts.notification import Notification
from alerts.render import Renderer
from alerts.sinks.base import SendError

__all__ = ["RedisStreamSink"]


@dataclass(frozen=True)
class RedisStreamSink:
    """Appends each notification to ``stream`` (``{team}`` is replaced by the team id).

    Attributes:
        maxlen: about how many entries a stream keeps (``MAXLEN ~``).
        owned: the sink made ``redis`` for itself and closes it; otherwise it is the worker's.
    """

    redis: Any
    stream: str
    maxlen: int
    owned: bool = False
    renderer: Renderer = field(default_factory=Renderer)

    def stream_for(self, n: Notification) -> str:
        """The stream a notification goes to."""
        return self.stream.replace("{team}", n.team_stream)

    async def send(self, n: Notification, address: str | None, now: datetime) -> None:
        doc = as_document(n, now, self.renderer)
        fields = {
            k: "" if doc[k] is None else str(doc[k])
            for k in (
                "id",
                "kind",
                "level",
                "recipient",
                "case_id",
                "clock",
                "cycle",
                "team",
                "assignee",
                "deadline",
                "late_seconds",
                "summary",
                "ack_url",
            )
        }
        fields["document"] = json.dumps(doc, sort_keys=True)
        try:
            await self.redis.xadd(self.stream_for(n), fields, maxlen=self.maxlen, approximate=True)
        except RedisError as exc:
            raise SendError(f"redis {type(exc).__name__}") from exc

    async def close(self) -> None:
        if self.owned:
            await self.redis.aclose()
