"""Bad input at volume: fuzzed events through decode and the engine, and thousands of bad
messages mixed into good ones through the real worker.

Every bad message must reach ``sla.deadletter`` with a reason and a detail a platform engineer
can act on, counted per reason in ``slawatch_deadletters_total``; the good messages around
them must produce their outcomes. Unknown event types are not bad: they are counted as
ignored. A repeated event id with other content is a duplicate: the first one counts.
"""

from __future__ import annotations

import base64
import json
import random
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sla.engine import CaseState
from sla.events import LifecycleEvent
from sla.policy_file import load_policy
from slawatch.testing import Stack, by_case, wait_for
from sources.mapping import REASONS, MappingError, TimeWindow, TopicMapping
from streams.app import build_engine
from streams.broker import TansuBroker

ROOT = Path(__file__).resolve().parents[2]
SPEC = load_policy(ROOT / "config" / "policies.yaml")
ENGINE = build_engine(SPEC)
KINDS = sorted({clock.case_kind for clock in SPEC.clocks})
TYPES = sorted(ENGINE.event_types())
NOW = datetime(2026, 11, 11, 12, 0, tzinfo=UTC)

attribute_values = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(["expedited", "normal", "loss_damage", "dissatisfied", "phone", "web"])
)
raw_events = st.fixed_dictionaries(
    {
        "event_id": st.sampled_from(["e1", "e2", "e3", "e4"]) | st.text(max_size=8),
        "case_id": st.just("C-1"),
        "case_kind": st.sampled_from(KINDS) | st.text(max_size=6),
        "event_type": st.sampled_from(TYPES) | st.text(max_size=8),
        "occurred_at": st.datetimes(
            min_value=datetime(2026, 1, 1), max_value=datetime(2027, 1, 1), timezones=st.timezones()
        ).map(datetime.isoformat)
        | st.text(max_size=10),
    },
    optional={
        "attributes": st.dictionaries(
            st.sampled_from(
                ["priority", "channel", "product", "region", "team", "complaint_class",
                 "satisfaction", "promised_by", "assignee", "x", "phone"]
            ),
            attribute_values,
            max_size=5,
        )
    },
)  # fmt: skip


class TestDecodeToEngine:
    """Whatever decodes is safe for the engine: no event sequence makes it raise."""

    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        raws=st.lists(raw_events, min_size=1, max_size=8),
        steps=st.lists(st.integers(0, 3 * 86400), min_size=1, max_size=8),
    )
    def test_decoded_events_never_break_the_engine(
        self, raws: list[dict[str, Any]], steps: list[int]
    ) -> None:
        """Decoded events in any order, with time passing, apply and advance without error."""
        mapping = TopicMapping(topic="fuzz")
        state: CaseState | None = None
        now = NOW
        for raw, step in zip(raws, steps * len(raws), strict=False):
            try:
                event = mapping.decode(None, orjson.dumps(raw))
            except MappingError as exc:
                assert exc.reason in REASONS
                continue
            now = now + timedelta(seconds=step)
            result = ENGINE.apply(state, event, now)
            state = result.state
            if state is not None:
                state = CaseState.from_json(json.loads(json.dumps(state.to_json())))
                advanced = ENGINE.advance(state, now + timedelta(days=30))
                assert advanced.state is None or advanced.state.case_id == "C-1"

    @settings(max_examples=300, deadline=None)
    @given(
        at=st.datetimes(
            min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.timezones()
        )
    )
    def test_time_window_accepts_or_refuses(self, at: datetime) -> None:
        """Any event time is inside the window or refused as implausible_timestamp."""
        event = LifecycleEvent(
            event_id="e", case_id="c", case_kind="complaint", event_type="t", occurred_at=at
        )
        inside = NOW - timedelta(days=365) <= at <= NOW + timedelta(hours=1)
        try:
            TimeWindow().check(event, NOW, "t")
        except MappingError as exc:
            assert ("implausible_timestamp", False) == (exc.reason, inside)
        else:
            assert inside


# --------------------------------------------------------------------------------------------
# The stream test.

POLICY = """\
version: "bad-input-1"
allowed_lateness: 2s
clocks:
  - id: first_response
    case_kind: complaint
    start: [complaint_registered]
    stop: [complaint_acknowledged]
    limit: 1h
    warn_at: []
"""

MAX_BYTES = 65536


def _event(event_id: str, case_id: str, event_type: str, at: datetime | str, **attrs: Any) -> dict:
    return {
        "event_id": event_id,
        "case_id": case_id,
        "case_kind": "complaint",
        "event_type": event_type,
        "occurred_at": at if isinstance(at, str) else at.isoformat(),
        "attributes": attrs,
    }


def _bad_messages(now: datetime, rng: random.Random) -> list[tuple[str, bytes]]:
    """(expected reason, message bytes) for every kind of bad message, a few hundred each."""

    def dump(value: Any) -> bytes:
        return json.dumps(value).encode()

    def ok(i: int, prefix: str) -> dict[str, Any]:
        return _event(f"{prefix}-{i}", f"{prefix.upper()}-{i}", "complaint_registered", now)

    out: list[tuple[str, bytes]] = []
    for i in range(400):
        good = dump(ok(i, "j"))
        out.append(("invalid_json", good[: rng.randint(1, len(good) - 2)]))
    for i in range(100):
        out.append(("invalid_json", b"\xff\xfe" + str(i).encode()))
    for i in range(150):
        out.append(("not_an_object", dump(rng.choice([[i, "x"], f"text {i}", i, None]))))
    for i in range(300):
        wrong = rng.choice(
            [{"case_id": [i]}, {"event_id": ""}, {"case_kind": {"k": i}}, {"event_type": 7.5},
             {"attributes": [1, 2]}, {"unexpected_field": i}, {"case_id": "x" * 300}]
        )  # fmt: skip
        out.append(("invalid_event", dump(ok(i, "w") | wrong)))
    for i in range(300):
        event = ok(i, "m")
        del event[rng.choice(["event_id", "case_id", "event_type", "occurred_at"])]
        out.append(("missing_field", dump(event)))
    for i in range(30):
        event = ok(i, "h") | {"attributes": {"blob": "x" * (MAX_BYTES + rng.randint(1, 50_000))}}
        out.append(("too_large", dump(event)))
    for i in range(200):
        at = rng.choice(
            [datetime(1970, 1, 1, tzinfo=UTC), now - timedelta(days=800 + i), now.replace(year=1)]
        )
        out.append(("implausible_timestamp", dump(ok(i, "p") | {"occurred_at": at.isoformat()})))
    for i in range(200):
        at = rng.choice([now + timedelta(hours=8), datetime(2100, 1, 1, tzinfo=UTC)])
        out.append(("implausible_timestamp", dump(ok(i, "f") | {"occurred_at": at.isoformat()})))
    for i in range(200):
        naive = now.replace(tzinfo=None).isoformat()
        out.append(("naive_timestamp", dump(ok(i, "n") | {"occurred_at": naive})))
    for i in range(150):
        field = rng.choice(["event_id", "case_id", "case_kind", "event_type"])
        char = rng.choice(["\r\n", "\n", "\x00", "\x1b", "\x7f", "\x85", "\u2028"])
        event = ok(i, "c")
        out.append(("control_character", dump(event | {field: f"{event[field]}{char}x"})))
    for i in range(100):
        number = rng.choice([int(now.timestamp()), int(now.timestamp() * 1000), str(i)])
        out.append(("ambiguous_timestamp", dump(ok(i, "a") | {"occurred_at": number})))
    for i in range(150):
        text = rng.choice(["yesterday", "2026-13-45T99:00:00+08:00", "", "11/11/2026 09:30"])
        out.append(("bad_timestamp", dump(ok(i, "b") | {"occurred_at": text})))
    return out


@pytest.fixture
def stack(tansu: TansuBroker, tmp_path: Path) -> Iterator[Stack]:
    """A stack whose source topic refuses messages over 64 KiB."""
    s = Stack(tansu.bootstrap, tmp_path, POLICY, partitions=4)
    s.topics_path.write_text(
        f"version: 1\ntopics:\n  - name: {s.source}\n    mapping: canonical\n"
        f"    max_bytes: {MAX_BYTES}\n"
    )
    try:
        yield s
    finally:
        s.close()


@pytest.mark.integration
class TestBadInputAtVolume:
    """Thousands of bad messages between good ones: each accounted for, none stops the worker."""

    def test_every_bad_message_dead_lettered_and_good_ones_processed(self, stack: Stack) -> None:
        """Per-reason dead letters and metrics match what was sent; every good case is met."""
        rng = random.Random(20261111)
        worker = stack.start_worker()
        deadletters, outcomes = stack.reader("deadletter"), stack.reader("outcomes")
        now = datetime.now(UTC)
        cases = [f"G-{i}" for i in range(400)]
        registered = [_event(f"{c}-r", c, "complaint_registered", now) for c in cases]
        # the same ids again with other content: an earlier time and other attributes
        conflicting = [
            _event(f"{c}-r", c, "complaint_registered", now - timedelta(minutes=30), team="other")
            for c in cases[:150]
        ]
        unknown = [_event(f"{c}-u", c, "parcel_teleported", now) for c in cases[:120]]
        acks = [
            _event(f"{c}-a", c, "complaint_acknowledged", now + timedelta(seconds=10))
            for c in cases
        ]
        bad = _bad_messages(now, rng)
        rng.shuffle(bad)
        half = len(bad) // 2
        first: list[dict[str, Any] | bytes] = [*registered, *(b for _, b in bad[:half])]
        second: list[dict[str, Any] | bytes] = [
            *conflicting,
            *unknown,
            *acks,
            *(b for _, b in bad[half:]),
        ]
        # shuffle each phase; per case the order is kept by its key's partition and phase
        rng.shuffle(first)
        rng.shuffle(second)
        sent_total = len(first) + len(second)
        stack.send(*first)
        stack.send(*second)

        letters = deadletters.wait(lambda v: len(v) >= len(bad), 120, f"{len(bad)} dead letters")
        done = outcomes.wait(
            lambda v: len({o["case_id"] for o in v}) >= len(cases), 120, "outcomes of good cases"
        )
        wait_for(
            lambda: worker.metric("slawatch_events_ignored_total", reason="duplicate") >= 150,
            30,
            "the duplicates to be counted",
        )

        expected = Counter(reason for reason, _ in bad)
        assert expected == Counter(letter["reason"] for letter in letters)
        assert expected == {
            reason: int(worker.metric("slawatch_deadletters_total", reason=reason))
            for reason in expected
        }
        sent_by_reason: dict[str, Counter[bytes]] = {}
        for reason, value in bad:
            sent_by_reason.setdefault(reason, Counter())[value] += 1
        for reason, values in sent_by_reason.items():
            got = Counter(
                base64.b64decode(letter["value_b64"])
                for letter in letters
                if letter["reason"] == reason
            )
            assert values == got, reason
        assert [] == [x for x in letters if not x["detail"] or x["topic"] != stack.source]
        assert all(isinstance(x["offset"], int) and x["offset"] >= 0 for x in letters)
        assert sorted(cases) == sorted(o["case_id"] for o in done)
        assert {("met", 10.0)} == {(o["outcome"], o["elapsed_seconds"]) for o in done}
        assert {None} == {o["team"] for o in by_case(done, "G-0")}
        assert 150.0 == worker.metric("slawatch_events_ignored_total", reason="duplicate")
        assert 120.0 == worker.metric("slawatch_events_ignored_total", reason="unknown_event_type")
        # an event type the policy does not name is counted, under event_type="other"
        assert 120.0 == worker.metric("slawatch_events_consumed_total", event_type="other")
        assert sent_total - len(bad) == worker.metric("slawatch_events_consumed_total")
        assert worker.alive()
        assert 200 == worker.get("/health")[0]
