"""The demo's event generator: deterministic, valid, consistent lifecycles, realistic faults."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sla.events import LifecycleEvent
from sla.policy_file import load_policy
from slawatch.demo_events import (
    COMPLAINTS_TOPIC,
    REGIONS,
    SHIPMENTS_TOPIC,
    DemoMessage,
    DemoStream,
    generate,
)
from sources.mapping import MappingError, TopicMapping
from sources.topics import load_topics

REPO = Path(__file__).resolve().parents[2]
START = datetime(2026, 11, 11, 1, 0, tzinfo=UTC)
DEMO_POLICY = load_policy(REPO / "config" / "demo-policies.yaml")
DEFAULT_POLICY = load_policy(REPO / "config" / "policies.yaml")


@pytest.fixture(scope="module")
def messages() -> list[DemoMessage]:
    """Ten minutes of demo stream."""
    return generate(seed=11, start=START, duration=600.0)


def by_case(messages: list[DemoMessage]) -> dict[str, list[LifecycleEvent]]:
    """Each case's distinct events in event-time order."""
    cases: dict[str, dict[str, LifecycleEvent]] = defaultdict(dict)
    for message in messages:
        if message.event is not None:
            cases[message.event.case_id][message.event.event_id] = message.event
    return {
        case: sorted(events.values(), key=lambda e: e.occurred_at) for case, events in cases.items()
    }


def types_of(events: list[LifecycleEvent]) -> list[str]:
    """The event types of ``events``."""
    return [e.event_type for e in events]


class TestDeterminism:
    def test_same_seed_same_messages(self) -> None:
        """The same seed and start give the same messages, byte for byte."""
        assert generate(3, START, 60.0) == generate(3, START, 60.0)

    def test_other_seed_other_messages(self) -> None:
        """Another seed gives another stream."""
        assert [m.value for m in generate(3, START, 60.0)] != [
            m.value for m in generate(4, START, 60.0)
        ]

    def test_naive_start_refused(self) -> None:
        """A naive start time is refused naming the value."""
        with pytest.raises(ValueError, match="naive"):
            DemoStream(1, datetime(2026, 1, 1))


class TestMessages:
    def test_send_order(self, messages: list[DemoMessage]) -> None:
        """Messages come in send-time order, none before the start."""
        times = [m.send_at for m in messages]
        assert (times, True) == (sorted(times), min(times) >= START)

    def test_values_decode_with_default_mappings(self, messages: list[DemoMessage]) -> None:
        """Every good message decodes to its event with the shipped topic mappings."""
        mappings = load_topics(REPO / "config" / "topics.yaml").mappings()
        decoded = [
            mappings[m.topic].decode(m.key, m.value) for m in messages if m.kind != "malformed"
        ]
        assert [m.event for m in messages if m.kind != "malformed"] == decoded

    def test_malformed_are_dead_letters(self, messages: list[DemoMessage]) -> None:
        """Every malformed message is refused by the mapping, about one in 200."""
        mapping = TopicMapping(topic=COMPLAINTS_TOPIC)
        malformed = [m for m in messages if m.kind == "malformed"]
        refused = 0
        for message in malformed:
            with pytest.raises(MappingError):
                mapping.decode(message.key, message.value)
            refused += 1
        assert (True, len(malformed)) == (
            len(messages) / 400 < len(malformed) < len(messages) / 100,
            refused,
        )

    def test_keys_are_case_ids(self, messages: list[DemoMessage]) -> None:
        """Good messages are keyed by their case id."""
        assert [] == [m for m in messages if m.event and m.key != m.event.case_id.encode()]

    def test_topics(self, messages: list[DemoMessage]) -> None:
        """Complaints and enquiries go to the complaints topic, shipments to the shipments one."""
        expected = {"complaint": COMPLAINTS_TOPIC, "enquiry": COMPLAINTS_TOPIC}
        expected["shipment"] = SHIPMENTS_TOPIC
        assert [] == [m for m in messages if m.event and expected[m.event.case_kind] != m.topic]

    def test_duplicates_repeat_an_event(self, messages: list[DemoMessage]) -> None:
        """A duplicate repeats an earlier message's bytes exactly."""
        sent: set[bytes] = set()
        duplicates, orphans = 0, 0
        for message in messages:
            if message.kind == "duplicate":
                duplicates += 1
                orphans += message.value not in sent
            sent.add(message.value)
        assert (True, 0) == (duplicates > 0, orphans)

    def test_out_of_order_arrives_after_later_events(self, messages: list[DemoMessage]) -> None:
        """Some events arrive after an event of the same case that happened later."""
        latest: dict[str, datetime] = {}
        overtaken = 0
        for message in messages:
            if message.event is None or message.kind == "duplicate":
                continue
            case = message.event.case_id
            if case in latest and message.event.occurred_at < latest[case]:
                overtaken += 1
            latest[case] = max(
                latest.get(case, message.event.occurred_at), message.event.occurred_at
            )
        assert True is (overtaken > 0)

    def test_no_personal_data(self, messages: list[DemoMessage]) -> None:
        """Attributes hold only ids and codes: no name, phone or address keys."""
        keys = {k for m in messages if m.event for k in m.event.attributes.model_dump()}
        keys |= {k for m in messages if m.event for k in (m.event.attributes.model_extra or {})}
        assert set() == keys & {"name", "phone", "address", "customer_name", "mobile"}


class TestLifecycles:
    def test_event_types_known_to_the_demo_policy(self, messages: list[DemoMessage]) -> None:
        """Every generated event type drives some clock of the demo policy."""
        known = {t for clock in DEMO_POLICY.clocks for t in clock.event_types()}
        generated = {m.event.event_type for m in messages if m.event}
        assert set() == generated - known

    def test_demo_policy_mirrors_default(self) -> None:
        """The demo policy has the default pack's clocks, driven by the same event types."""
        assert [(c.id, c.case_kind, sorted(c.event_types())) for c in DEFAULT_POLICY.clocks] == [
            (c.id, c.case_kind, sorted(c.event_types())) for c in DEMO_POLICY.clocks
        ]

    def test_cases_start_with_their_start_event(self, messages: list[DemoMessage]) -> None:
        """Each case's first event opens it."""
        first = {"complaint_registered", "pickup_booked", "enquiry_received", "email_received"}
        cases = by_case(messages)
        assert [] == [c for c, events in cases.items() if events[0].event_type not in first]

    def test_complaint_order(self, messages: list[DemoMessage]) -> None:
        """Complaints go registered -> answered -> assigned -> contacted -> resolved -> visited."""
        order = [
            "complaint_registered",
            "complaint_acknowledged",
            "complaint_assigned",
            "department_contacted_customer",
            "complaint_resolved",
            "return_visit_done",
        ]
        wrong = []
        for case, events in by_case(messages).items():
            if not case.startswith("CP-") or "complaint_reopened" in types_of(events):
                continue
            seen = [t for t in types_of(events) if t in order]
            if seen != sorted(seen, key=order.index):
                wrong.append((case, seen))
        assert [] == wrong

    def test_shipment_order(self, messages: list[DemoMessage]) -> None:
        """Shipments go booked, arrived, picked up, scans, (failed, informed), signed, claim."""
        order = [
            "pickup_booked",
            "courier_arrived",
            "picked_up",
            "in_transit_scan",
            "delivery_failed",
            "customer_informed",
            "signed_for",
            "claim_filed",
        ]
        wrong = []
        for case, events in by_case(messages).items():
            seen = [t for t in types_of(events) if t in order]
            if case.startswith("WB") and seen != sorted(seen, key=order.index):
                wrong.append((case, seen))
        assert [] == wrong

    def test_promises_set(self, messages: list[DemoMessage]) -> None:
        """Pickup bookings and pickups carry the promise their clock runs until, in the future."""
        missing = [
            m.event.event_id
            for m in messages
            if m.event
            and m.event.event_type in ("pickup_booked", "picked_up")
            and (
                m.event.attributes.promised_by is None
                or m.event.attributes.promised_by <= m.event.occurred_at
            )
        ]
        assert [] == missing

    def test_follow_up_only_after_dissatisfied(self, messages: list[DemoMessage]) -> None:
        """A follow-up happens only after a dissatisfied return visit."""
        wrong = []
        for case, events in by_case(messages).items():
            grades = [
                e.attributes.satisfaction for e in events if e.event_type == "return_visit_done"
            ]
            if "follow_up_done" in types_of(events) and not (
                set(grades) & {"dissatisfied", "very_dissatisfied"}
            ):
                wrong.append(case)
        assert [] == wrong

    def test_some_handled_late(self, messages: list[DemoMessage]) -> None:
        """Most complaints are answered within 30 s, some are not."""
        delays = []
        for events in by_case(messages).values():
            times = {e.event_type: e.occurred_at for e in events}
            if "complaint_acknowledged" in times and events[0].attributes.priority == "normal":
                delays.append(times["complaint_acknowledged"] - times["complaint_registered"])
        late = sum(d > timedelta(seconds=30) for d in delays)
        assert True is (0 < late < len(delays) / 3)

    def test_regions_and_products(self, messages: list[DemoMessage]) -> None:
        """Cases spread over every region and every product."""
        regions = Counter(m.event.attributes.region for m in messages if m.event)
        products = {m.event.attributes.product for m in messages if m.event} - {None}
        assert (set(REGIONS), {"next_day", "second_day", "expedited"}) == (set(regions), products)

    def test_backlog_open_at_start(self) -> None:
        """Backlog cases started before the demo so the first breaches come early."""
        first = generate(5, START, 1.0)
        assert True is any(m.event is not None and m.event.occurred_at < START for m in first)
