"""The clock agent in process: Faust's agent test context feeds it messages; no broker.

The worker's own ``create_app`` builds the app; the producer behind the agent's outbox and the
other topics it sends to are replaced by recorders, so what the agent sends (records, timer
commands, changelog records) and writes (the ``cases`` table) is checked directly. The real
worker against the real broker is tested in test_worker.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from faust.types import AgentT

from sla.events import LifecycleEvent
from sla.records import BreachRecord, OutcomeRecord
from streams.app import create_app
from streams.case_row import decode_row
from streams.codec import EVENTS, encode_due
from streams.outbox import Outbox, _Bundle
from streams.runtime import Runtime
from streams.settings import Settings
from streams.wire import WireTopic
from tests.streams.test_processor import POLICY  # one clock: first_response, 1 h


class Sent:
    """Stands in for ``WireTopic.publish``: keeps (key, value, partition) of every record."""

    def __init__(self) -> None:
        self.records: list[tuple[bytes | None, bytes, int | None]] = []

    async def __call__(
        self, *, key: bytes | None = None, value: bytes, partition: int | None = None, **_: Any
    ) -> None:
        self.records.append((key, value, partition))


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    """A worker's runtime built by ``create_app``; alerts off."""
    monkeypatch.setenv("SLAWATCH_ALERTS", "off")
    settings = Settings.from_env({"SLAWATCH_DATADIR": str(tmp_path), "SLAWATCH_ALERTS": "off"})
    yield create_app(settings, policy=POLICY, mappings={})


class Handed:
    """Stands in for the producer behind every outbox: keeps the records handed over, per
    topic, as (key, value, partition), and answers them; refuses the ``refused`` topics."""

    def __init__(self) -> None:
        self.records: dict[str, list[tuple[bytes | None, bytes | None, int]]] = {}
        self.refused: set[str] = set()

    async def client(self) -> None:
        return None

    async def hand_over(self, client: None, bundle: _Bundle) -> None:
        if bundle.topic in self.refused:
            raise ConnectionError("the broker refused the write")
        kept = self.records.setdefault(bundle.topic, [])
        kept.extend((key, value, bundle.partition) for key, value in bundle.records)
        bundle.handed = len(bundle.records)
        bundle.future.set_result(None)  # no broker here: no metadata


@pytest.fixture(autouse=True)
def handed(monkeypatch: pytest.MonkeyPatch) -> Handed:
    """What every outbox hands over: no broker here (bound methods of ``handed``, set on the
    class: every outbox calls them without itself)."""
    handed = Handed()
    monkeypatch.setattr(Outbox, "_client", handed.client)
    monkeypatch.setattr(Outbox, "_hand_over", handed.hand_over)
    return handed


def recorder(monkeypatch: pytest.MonkeyPatch, topic: WireTopic[Any]) -> Sent:
    sent = Sent()
    monkeypatch.setattr(topic, "publish", sent)
    return sent


def event(case: str, kind: str, at: datetime) -> bytes:
    return EVENTS.encode(
        LifecycleEvent.model_validate(
            {
                "event_id": f"{case}-{kind}",
                "case_id": case,
                "case_kind": "complaint",
                "event_type": kind,
                "occurred_at": at.isoformat(),
            }
        )
    )


async def put(agent: Any, topic: str, value: bytes, key: bytes | None, partition: int) -> None:
    """Hand one message of ``topic`` to the agent under test and wait until it is processed.

    Faust's ``put`` names a multi-topic channel ``<internal>``; the clock agent tells events
    from timer commands by topic, so the message is made here with its topic.
    """
    message = agent.to_message(key, value, partition=partition, offset=agent.sent_offset)
    message.topic = topic
    channel = agent.stream().channel
    await channel.put(await channel.decode(message))
    agent.sent_offset += 1
    async with agent.new_value_processed:
        await agent.new_value_processed.wait()


Steps = Callable[[Any], Awaitable[None]]


def in_agent(runtime: Runtime, steps: Steps) -> None:
    """Run ``steps`` with the clock agent's test context (Faust's ``agent.test_context()``)."""
    agent: AgentT[bytes] = runtime.app.agents["slawatch.clocks"]

    async def main() -> None:
        async with agent.test_context() as context:
            await steps(context)

    asyncio.run(main())


class TestClockAgent:
    @pytest.fixture(autouse=True)
    def _recorders(self, runtime: Runtime, monkeypatch: pytest.MonkeyPatch, handed: Handed) -> None:
        self.handed = handed
        self.dead = recorder(monkeypatch, runtime.topics.deadletter)
        self.changelog_topic = runtime.cases.changelog_topic.get_topic_name()

    def sent(self, topic: str) -> list[tuple[bytes | None, bytes | None, int]]:
        return self.handed.records.get(topic, [])

    def test_a_start_and_a_stop_make_an_outcome(self, runtime: Runtime) -> None:
        """A start then a stop of one case: one ``met`` outcome keyed by the case id."""
        now = datetime.now(UTC)
        events = runtime.topics.events.name

        async def steps(agent: Any) -> None:
            await put(agent, events, event("C-1", "complaint_registered", now), b"C-1", 1)
            await put(agent, events, event("C-1", "complaint_acknowledged", now), b"C-1", 1)

        in_agent(runtime, steps)
        assert [(b"C-1", "met", 1)] == [
            (key, OutcomeRecord.model_validate_json(value or b"").outcome, partition)
            for key, value, partition in self.sent(runtime.topics.outcomes.name)
        ]

    def test_the_case_row_is_stored_with_its_partition_and_deadline(self, runtime: Runtime) -> None:
        """After a start the ``cases`` table holds the case's partition and its deadline."""
        now = datetime.now(UTC)
        events = runtime.topics.events.name

        async def steps(agent: Any) -> None:
            await put(agent, events, event("C-2", "complaint_registered", now), b"C-2", 3)

        in_agent(runtime, steps)
        row = decode_row(runtime.cases.get("C-2"))
        assert row is not None
        assert (3, ["first_response"]) == (row["p"], row["open"])
        assert (now + timedelta(hours=1)).timestamp() == pytest.approx(row["due"])
        assert row["due"] == runtime.index.due_of("C-2")
        changelog = self.sent(self.changelog_topic)  # its key as the table writes keys (JSON)
        assert [(b'"C-2"', runtime.cases.get("C-2"), 3)] == changelog

    def test_a_due_command_advances_the_case(self, runtime: Runtime) -> None:
        """A timer command for a case whose breach was sent sends nothing more."""
        started = datetime.now(UTC) - timedelta(hours=2)
        topics = runtime.topics
        late_start = event("C-3", "complaint_registered", started)
        command = encode_due(0, ["C-3"], datetime.now(UTC))
        breaches_before_command: list[int] = []

        async def steps(agent: Any) -> None:
            await put(agent, topics.events.name, late_start, b"C-3", 0)
            breaches_before_command.append(len(self.sent(topics.breaches.name)))
            await put(agent, topics.due.name, command, None, 0)

        in_agent(runtime, steps)
        assert ([1], ["C-3"]) == (
            breaches_before_command,
            [
                BreachRecord.model_validate_json(v or b"").case_id
                for _, v, _ in self.sent(topics.breaches.name)
            ],
        )

    def test_a_message_that_is_not_an_event_is_dead_lettered(self, runtime: Runtime) -> None:
        """Bytes on ``slawatch.events`` that are no canonical event go to the dead letters."""

        async def steps(agent: Any) -> None:
            await put(agent, runtime.topics.events.name, b"{not json", b"C-4", 2)

        in_agent(runtime, steps)
        assert [b"C-4"] == [key for key, _, _ in self.dead.records]
        assert b'"invalid_event"' in self.dead.records[0][1]


async def until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Wait inside the event loop until ``condition`` holds; fail naming ``what`` after."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not condition():
        assert loop.time() < end, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


class TestRefusedWrites:
    def test_the_worker_stops_and_the_event_stays_unprocessed(
        self, runtime: Runtime, monkeypatch: pytest.MonkeyPatch, handed: Handed
    ) -> None:
        """A stop whose outcome the broker refuses: after the retries the app is crashed (its
        supervisor restarts it from the committed offset) and the table still holds the open
        clock, so the event is processed again; nothing is dropped and counted only."""
        handed.refused.add(runtime.topics.outcomes.name)
        crashed: list[BaseException] = []

        async def crash(reason: BaseException) -> None:
            crashed.append(reason)

        monkeypatch.setattr(runtime.app, "crash", crash)
        now = datetime.now(UTC)
        events = runtime.topics.events.name

        async def steps(agent: Any) -> None:
            await put(agent, events, event("C-5", "complaint_registered", now), b"C-5", 1)
            await put(agent, events, event("C-5", "complaint_acknowledged", now), b"C-5", 1)
            await until(lambda: bool(crashed), 30, "the agent to crash the app")

        in_agent(runtime, steps)
        row = decode_row(runtime.cases.get("C-5"))
        assert row is not None
        assert (["SendFailed"], ["first_response"]) == (
            [type(r).__name__ for r in crashed],
            row["open"],
        )
