"""A realistic, deterministic stream of complaint, enquiry and shipment events for the demo.

Time is compressed to match ``config/demo-policies.yaml`` (one demo second stands for about
an hour): a complaint must be answered within 30 s, a failed delivery reported within 20 s.
Most cases are handled in time, some are not, and one region (``cn-sc``) is slower than the
rest, so a supervisor's panel has something to show. A few cases were already open when the
demo starts (a backlog), so the first warnings and breaches appear within seconds.

Like real feeds, the stream has faults: now and then an event is sent twice, an event arrives
a few seconds after later ones (out of order), and about one message in 200 is malformed, to
show the dead-letter path. The same seed and start time give the same messages, byte for byte.

Only ids and codes are generated (case ids, staff ids, region codes): no names, phones or
addresses, as in production.

Example:
    >>> from datetime import UTC, datetime
    >>> start = datetime(2026, 11, 11, 1, 0, tzinfo=UTC)
    >>> first = generate(seed=1, start=start, duration=10.0)
    >>> first == generate(seed=1, start=start, duration=10.0)
    True
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import orjson

from sla.events import LifecycleEvent

__all__ = [
    "COMPLAINTS_TOPIC",
    "REGIONS",
    "SHIPMENTS_TOPIC",
    "DemoMessage",
    "DemoStream",
    "generate",
]

COMPLAINTS_TOPIC = "complaints.lifecycle"
SHIPMENTS_TOPIC = "shipments.lifecycle"

#: Local time of the demo centre; events carry its +08:00 offset like a real Chinese feed.
ZONE = ZoneInfo("Asia/Shanghai")

#: Province codes and their share of the cases.
REGIONS: dict[str, float] = {
    "cn-gd": 0.24,
    "cn-zj": 0.18,
    "cn-js": 0.15,
    "cn-sh": 0.12,
    "cn-bj": 0.12,
    "cn-sc": 0.12,
    "cn-hb": 0.07,
}
#: How likely a step in a region is handled late (cn-sc is understaffed, cn-bj does well).
LATE: dict[str, float] = {"cn-sc": 0.30, "cn-gd": 0.12, "cn-bj": 0.05}
DEFAULT_LATE = 0.09

CHANNELS = {"phone": 0.45, "app": 0.25, "web": 0.15, "email": 0.15}
CLASSES = {"transport": 0.5, "service": 0.3, "loss_damage": 0.2}
PRODUCTS = {"next_day": 0.5, "second_day": 0.35, "expedited": 0.15}
SATISFACTION = {
    "very_satisfied": 0.38,
    "relatively_satisfied": 0.25,
    "basically_satisfied": 0.2,
    "dissatisfied": 0.11,
    "very_dissatisfied": 0.06,
}

# Limits of config/demo-policies.yaml, in seconds, that the lifecycles are timed against.
FIRST_RESPONSE = 30.0
FIRST_RESPONSE_EXPEDITED = 15.0
DEPARTMENT_CONTACT = 45.0
DEPARTMENT_CONTACT_EXPEDITED = 25.0
RESOLUTION = 100.0
RESOLUTION_LOSS_DAMAGE = 130.0
RESOLUTION_EXPEDITED = 60.0
RETURN_VISIT = 40.0
FOLLOW_UP = 30.0
OBJECTION_REPLY = 30.0
EMAIL_REPLY = 30.0
PICKUP_WINDOW = 25.0
DELIVERY_PROMISE = {"next_day": 70.0, "second_day": 100.0, "expedited": 45.0}
EXCEPTION_NOTICE = 20.0
EXCEPTION_NOTICE_EXPEDITED = 10.0
TRACKING_GAP = 25.0
CLAIM = 60.0

#: Faults of real feeds, per event (duplicate, out of order) and per message (malformed).
DUPLICATE_RATE = 0.015
OUT_OF_ORDER_RATE = 0.015
MALFORMED_EVERY = 200

Kind = Literal["event", "duplicate", "out_of_order", "malformed"]


@dataclass(frozen=True)
class DemoMessage:
    """One message to publish at ``send_at`` (wall clock).

    ``event`` is the canonical event the bytes encode (None for a malformed message);
    ``kind`` says whether it is a plain event, a duplicate, late (out of order) or malformed.
    """

    send_at: datetime
    topic: str
    key: bytes
    value: bytes
    event: LifecycleEvent | None
    kind: Kind = "event"


#: A queued message: (send time, tie-breaking sequence number, message).
_Pending = tuple[datetime, int, DemoMessage]


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _encode(event: LifecycleEvent) -> bytes:
    """Canonical JSON as a producer sends it: only the attributes that are set."""
    return orjson.dumps(event.model_dump(mode="json", exclude_none=True))


class _Case:
    """The events of one case, built step by step at offsets (seconds) from its start."""

    def __init__(self, case_id: str, kind: str, topic: str, start: datetime, **attributes: Any):
        self.case_id = case_id
        self.kind = kind
        self.topic = topic
        self.start = start
        self.attributes = {k: v for k, v in attributes.items() if v is not None}
        self.events: list[LifecycleEvent] = []

    def at(self, offset: float) -> datetime:
        """The wall-clock time ``offset`` seconds after the case started (millisecond grain)."""
        return (self.start + timedelta(milliseconds=round(offset * 1000))).astimezone(ZONE)

    def add(self, event_type: str, offset: float, **attributes: Any) -> float:
        """Append an event at ``offset``; returns the offset for chaining."""
        merged = {**self.attributes, **{k: v for k, v in attributes.items() if v is not None}}
        self.events.append(
            LifecycleEvent(
                event_id=f"{self.case_id}-{len(self.events) + 1:02d}",
                case_id=self.case_id,
                case_kind=self.kind,
                event_type=event_type,
                occurred_at=self.at(offset),
                attributes=merged,
            )
        )
        return offset


class _Timing:
    """Delays for one case: in time or late against a limit, with the region's lateness."""

    def __init__(self, rng: random.Random, region: str) -> None:
        self.rng = rng
        self.late_rate = LATE.get(region, DEFAULT_LATE)

    def late(self, boost: float = 1.0) -> bool:
        return self.rng.random() < self.late_rate * boost

    def within(self, limit: float, late: bool | None = None) -> float:
        """A delay inside ``limit`` (10-85 %) or past it (105-145 %)."""
        if late is None:
            late = self.late()
        low, high = (1.05, 1.45) if late else (0.1, 0.85)
        return limit * self.rng.uniform(low, high)

    def between(self, low: float, high: float) -> float:
        return self.rng.uniform(low, high)


class DemoStream:
    """An endless, time-ordered stream of demo messages.

    Args:
        seed: same seed (and start), same messages.
        start: wall-clock time of the first message; backlog cases started before it.
        rate: new cases per second (Poisson arrivals).
        backlog: cases already open at ``start``.
    """

    def __init__(self, seed: int, start: datetime, rate: float = 2.0, backlog: int = 8) -> None:
        if start.tzinfo is None:
            raise ValueError(f"start needs a UTC offset, got naive {start!r}")
        if rate <= 0:
            raise ValueError(f"rate is new cases per second and must be above 0, got {rate}")
        self.seed = seed
        self.start = start
        self.rate = rate
        self.backlog = backlog
        self._rng = random.Random(seed)
        self._noise = random.Random(seed * 7919 + 1)
        self._seq = itertools.count()
        self._numbers = itertools.count(1)

    # -- the stream -------------------------------------------------------------------------

    def __iter__(self) -> Iterator[DemoMessage]:
        pending: list[_Pending] = []
        for _ in range(self.backlog):
            started = self.start - timedelta(seconds=self._rng.uniform(10.0, 26.0))
            self._schedule(pending, self._new_case(started, backlog=True))
        next_case = self.start + timedelta(seconds=self._rng.uniform(0.0, 0.5))
        while True:
            while not pending or pending[0][0] >= next_case:
                self._schedule(pending, self._new_case(next_case, backlog=False))
                next_case += timedelta(seconds=self._rng.expovariate(self.rate))
            message = heapq.heappop(pending)[2]
            yield message
            if self._noise.random() < 1.0 / MALFORMED_EVERY:
                yield self._malformed(message)

    def _schedule(self, pending: list[_Pending], case: _Case) -> None:
        """Queue a case's events: on time, or with a duplicate, or delayed (out of order)."""
        for i, event in enumerate(case.events):
            send_at = max(event.occurred_at, self.start)
            value = _encode(event)
            kind: Kind = "event"
            if i > 0 and self._noise.random() < OUT_OF_ORDER_RATE:
                send_at = send_at + timedelta(seconds=self._noise.uniform(1.5, 4.0))
                kind = "out_of_order"
            self._push(pending, send_at, case.topic, event, value, kind)
            if self._noise.random() < DUPLICATE_RATE:
                again = send_at + timedelta(seconds=self._noise.uniform(0.5, 3.0))
                self._push(pending, again, case.topic, event, value, "duplicate")

    def _push(
        self,
        pending: list[_Pending],
        send_at: datetime,
        topic: str,
        event: LifecycleEvent,
        value: bytes,
        kind: Kind,
    ) -> None:
        message = DemoMessage(
            send_at=send_at,
            topic=topic,
            key=event.case_id.encode(),
            value=value,
            event=event,
            kind=kind,
        )
        heapq.heappush(pending, (send_at, next(self._seq), message))

    def _malformed(self, after: DemoMessage) -> DemoMessage:
        """A broken message like real feeds send: truncated, a naive time, a missing id."""
        data = orjson.loads(after.value)
        flaw = self._noise.choice(["truncated", "naive_time", "no_case_id"])
        if flaw == "truncated":
            value = after.value[: len(after.value) // 2]
        elif flaw == "naive_time":
            data["occurred_at"] = after.send_at.astimezone(ZONE).strftime("%Y-%m-%d %H:%M:%S")
            value = orjson.dumps(data)
        else:
            data.pop("case_id", None)
            value = orjson.dumps(data)
        return DemoMessage(
            send_at=after.send_at,
            topic=after.topic,
            key=after.key,
            value=value,
            event=None,
            kind="malformed",
        )

    # -- cases ------------------------------------------------------------------------------

    def _new_case(self, started: datetime, *, backlog: bool) -> _Case:
        started = started.replace(microsecond=started.microsecond // 1000 * 1000)
        number = next(self._numbers)
        roll = self._rng.random()
        if backlog:
            return self._complaint(number, started, backlog=True)
        if roll < 0.42:
            return self._complaint(number, started, backlog=False)
        if roll < 0.52:
            return self._enquiry(number, started)
        return self._shipment(number, started)

    def _complaint(self, number: int, started: datetime, *, backlog: bool) -> _Case:
        rng = self._rng
        region = _pick(rng, REGIONS)
        timing = _Timing(rng, region)
        expedited = rng.random() < 0.08
        complaint_class = _pick(rng, CLASSES)
        case = _Case(
            f"CP-{number:06d}",
            "complaint",
            COMPLAINTS_TOPIC,
            started,
            region=region,
            channel=_pick(rng, CHANNELS),
            priority="expedited" if expedited else "normal",
            complaint_class=complaint_class,
            assignee=f"agent-{region[3:]}-{rng.randrange(1, 60):03d}",
        )
        t = case.add("complaint_registered", 0.0)
        if not backlog and rng.random() < 0.03:
            case.add("complaint_withdrawn", timing.between(4.0, 20.0))
            return case
        first = FIRST_RESPONSE_EXPEDITED if expedited else FIRST_RESPONSE
        # The backlog was registered 10-26 s before the demo started: half of it is late.
        t = timing.within(first, late=rng.random() < 0.5 if backlog else None)
        if rng.random() < 0.05:  # resolved at first contact
            resolved = case.add("complaint_resolved", t)
            return self._after_resolution(case, timing, resolved)
        case.add("complaint_acknowledged", t)
        if rng.random() < 0.04:  # never handled further within the demo: stays open
            return case
        department = f"dept-{complaint_class.replace('_', '-')}-{region[3:]}"
        t = case.add("complaint_assigned", t + timing.between(1.0, 4.0), department=department)
        contact = DEPARTMENT_CONTACT_EXPEDITED if expedited else DEPARTMENT_CONTACT
        t = case.add("department_contacted_customer", t + timing.within(contact))
        paused = 0.0
        if rng.random() < 0.12:
            waiting = timing.between(6.0, 18.0)
            t = case.add("awaiting_customer", t + timing.between(2.0, 5.0))
            t = case.add("customer_replied", t + waiting)
            paused += waiting
        elif rng.random() < 0.08:
            waiting = timing.between(8.0, 20.0)
            t = case.add("transferred_to_department", t + timing.between(2.0, 5.0))
            t = case.add("department_feedback_received", t + waiting)
            paused += waiting
        if expedited:
            limit = RESOLUTION_EXPEDITED
        elif complaint_class == "loss_damage":
            limit = RESOLUTION_LOSS_DAMAGE
        else:
            limit = RESOLUTION
        target = paused + timing.within(limit, late=timing.late(0.7))
        resolved = case.add("complaint_resolved", max(t + timing.between(2.0, 6.0), target))
        return self._after_resolution(case, timing, resolved)

    def _after_resolution(self, case: _Case, timing: _Timing, resolved: float) -> _Case:
        rng = self._rng
        t = resolved
        if rng.random() < 0.05:
            t = case.add("objection_raised", t + timing.between(2.0, 6.0))
            case.add("objection_answered", t + timing.within(OBJECTION_REPLY))
        if rng.random() < 0.03:
            t = case.add("complaint_reopened", resolved + timing.between(3.0, 8.0))
            resolved = case.add("complaint_resolved", t + timing.between(10.0, 40.0))
        t = case.add(
            "return_visit_done",
            resolved + timing.within(RETURN_VISIT),
            satisfaction=_pick(rng, SATISFACTION),
        )
        grade = case.events[-1].attributes.satisfaction
        if grade in ("dissatisfied", "very_dissatisfied"):
            case.add("follow_up_done", t + timing.within(FOLLOW_UP))
        case.events.sort(key=lambda e: (e.occurred_at, e.event_id))
        return case

    def _enquiry(self, number: int, started: datetime) -> _Case:
        rng = self._rng
        region = _pick(rng, REGIONS)
        timing = _Timing(rng, region)
        channel = rng.choice(["email", "web", "app"])
        case = _Case(
            f"EQ-{number:06d}",
            "enquiry",
            COMPLAINTS_TOPIC,
            started,
            region=region,
            channel=channel,
            assignee=f"agent-{region[3:]}-{rng.randrange(1, 60):03d}",
        )
        case.add("email_received" if channel == "email" else "enquiry_received", 0.0)
        if rng.random() < 0.05:
            case.add("enquiry_withdrawn", timing.between(3.0, 15.0))
        else:
            case.add("reply_sent", timing.within(EMAIL_REPLY))
        return case

    def _shipment(self, number: int, started: datetime) -> _Case:
        rng = self._rng
        region = _pick(rng, REGIONS)
        timing = _Timing(rng, region)
        product = _pick(rng, PRODUCTS)
        case = _Case(
            f"WB{8_800_000_000 + number}",
            "shipment",
            SHIPMENTS_TOPIC,
            started,
            region=region,
            product=product,
        )
        courier = f"courier-{region[3:]}-{rng.randrange(1, 200):03d}"
        case.add("pickup_booked", 0.0, promised_by=case.at(PICKUP_WINDOW), assignee=courier)
        if rng.random() < 0.02:
            case.add("pickup_cancelled", timing.between(3.0, 12.0))
            return case
        t = case.add("courier_arrived", timing.within(PICKUP_WINDOW), assignee=courier)
        promise = DELIVERY_PROMISE[product]
        picked = t + timing.between(1.0, 3.0)
        t = case.add("picked_up", picked, promised_by=case.at(picked + promise))
        total = promise * (rng.uniform(1.05, 1.3) if timing.late(0.8) else rng.uniform(0.45, 0.9))
        scans = max(1, int(total // 18))
        gap = total / (scans + 1)
        stalled = rng.randrange(scans) if timing.late(0.5) else -1
        for i in range(scans):
            t += gap * rng.uniform(0.8, 1.2) + (TRACKING_GAP if i == stalled else 0.0)
            case.add("in_transit_scan", t, site=f"hub-{region[3:]}-{rng.randrange(1, 12):02d}")
        signed = max(t + timing.between(2.0, 6.0), picked + total)
        if rng.random() < 0.12:
            failed = case.add("delivery_failed", t + timing.between(2.0, 5.0))
            notice = EXCEPTION_NOTICE_EXPEDITED if product == "expedited" else EXCEPTION_NOTICE
            informed = case.add("customer_informed", failed + timing.within(notice))
            signed = max(signed, informed + timing.between(4.0, 12.0))
        if rng.random() < 0.01:
            case.add("returned_to_sender", signed)
            return case
        t = case.add("signed_for", signed)
        if product != "expedited" and rng.random() < 0.06:
            self._claim(case, timing, t)
        case.events.sort(key=lambda e: (e.occurred_at, e.event_id))
        return case

    def _claim(self, case: _Case, timing: _Timing, signed: float) -> None:
        rng = self._rng
        filed = case.add("claim_filed", signed + timing.between(3.0, 8.0))
        t, paused = filed, 0.0
        if rng.random() < 0.3:
            waiting = timing.between(5.0, 15.0)
            t = case.add("awaiting_customer", t + timing.between(3.0, 8.0))
            t = case.add("customer_replied", t + waiting)
            paused = waiting
        decided = max(t + timing.between(2.0, 6.0), filed + paused + timing.within(CLAIM))
        case.add("claim_rejected" if rng.random() < 0.2 else "claim_paid", decided)


def generate(seed: int, start: datetime, duration: float, rate: float = 2.0) -> list[DemoMessage]:
    """The messages of the first ``duration`` seconds of a :class:`DemoStream`."""
    end = start + timedelta(seconds=duration)
    return list(itertools.takewhile(lambda m: m.send_at < end, DemoStream(seed, start, rate)))
