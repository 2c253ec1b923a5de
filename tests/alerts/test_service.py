"""Escalation, acknowledgement, resolution and storm control against the real Redis."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from alerts.ack import AckRecord
from tests.alerts._helpers import Harness
from tests.alerts.conftest import T0, breach, make_spec, outcome, run_with_redis, warning

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("redis_available")]


async def at(h: Harness, seconds: float) -> int:
    """Move the clock to T0 + ``seconds``, fire what is due, send it; returns levels fired."""
    h.clock.set(T0 + timedelta(seconds=seconds))
    fired = await h.service.escalate_due()
    await h.service.flush_digests()
    await h.dispatcher.run_once()
    return fired


class TestEscalation:
    def test_unacknowledged_breach_escalates_at_the_configured_delay(self) -> None:
        """Nothing at 29 s; the supervisor at 30 s; the department head at 90 s; then nothing."""

        async def scenario(redis: Any, prefix: str) -> tuple[list[int], list[str], int]:
            h = Harness(make_spec(), redis, prefix)
            await h.service.on_breach(breach())
            fired = [await at(h, s) for s in (0, 29, 30, 89, 90, 500)]
            return fired, h.lines(), await h.timers.pending_count()

        fired, lines, pending = run_with_redis(scenario)
        assert [0, 0, 1, 0, 1, 0] == fired
        assert ["1 -> agent-1", "2 -> sup-1", "3 -> head-1"] == [
            line.split("]")[0].removeprefix("[alert ") for line in lines
        ]
        assert "ESCALATION L2 (unacknowledged) case C-1" in lines[1]
        assert 0 == pending

    def test_acknowledged_breach_does_not_escalate(self) -> None:
        """An ack before the delay stops the climb: only level 1 is ever sent."""

        async def scenario(redis: Any, prefix: str) -> tuple[list[int], list[str], dict[str, str]]:
            h = Harness(make_spec(), redis, prefix)
            record = breach()
            await h.service.on_breach(record)
            await at(h, 10)
            ack = AckRecord(breach_id=record.breach_id, case_id="C-1", level=1, by="agent-1", at=T0)
            await h.service.on_ack(ack)
            fired = [await at(h, s) for s in (30, 90, 600)]
            return fired, h.lines(), await h.timers.state(record.breach_id)

        fired, lines, state = run_with_redis(scenario)
        assert [0, 0, 0] == fired
        assert 1 == len(lines)
        assert "agent-1" == state["acked_by"]

    def test_time_to_acknowledge_is_measured_once(self) -> None:
        """The first ack of a breach 10 s after it was emitted is observed; a second is not."""

        async def scenario(redis: Any, prefix: str) -> tuple[float | None, float | None]:
            h = Harness(make_spec(), redis, prefix)
            record = breach()
            await h.service.on_breach(record)
            await at(h, 10)
            ack = AckRecord(breach_id=record.breach_id, case_id="C-1", level=1, by="agent-1", at=T0)
            await h.service.on_ack(ack)
            await h.service.on_ack(ack)
            labels = {"clock": record.clock, "team": record.team or "none"}
            return (
                h.registry.get_sample_value("slawatch_alert_ack_seconds_count", labels),
                h.registry.get_sample_value("slawatch_alert_ack_seconds_sum", labels),
            )

        assert (1.0, 10.0) == run_with_redis(scenario)

    def test_stop_ends_escalation_and_tells_whoever_was_alerted(self) -> None:
        """The case answered after a warning and a breach: no escalation, one resolved notice."""

        async def scenario(redis: Any, prefix: str) -> list[str]:
            h = Harness(make_spec(), redis, prefix)
            await h.service.on_warning(warning())
            await at(h, 0)
            await h.service.on_breach(breach())
            await at(h, 5)
            await h.service.on_outcome(outcome(T0 + timedelta(seconds=20), "breached"))
            await h.service.on_outcome(outcome(T0 + timedelta(seconds=20), "breached"))
            await at(h, 30)
            await at(h, 100)
            return h.lines()

        lines = run_with_redis(scenario)
        assert ["WARNING", "BREACH", "RESOLVED"] == [
            line.split("] ")[1].split()[0] for line in lines
        ]
        assert "stopped, outcome breached" in lines[2]

    def test_retraction_ends_escalation(self) -> None:
        """A breach retracted (the stop came in time after all) does not escalate."""

        async def scenario(redis: Any, prefix: str) -> int:
            h = Harness(make_spec(), redis, prefix)
            await h.service.on_breach(breach())
            await h.service.on_breach(breach().model_copy(update={"type": "breach_retracted"}))
            return await at(h, 30) + await at(h, 90)

        assert 0 == run_with_redis(scenario)

    def test_breach_overtaken_by_its_met_outcome_is_not_alerted(self) -> None:
        """An outcome 'met' handled before its (retracted) breach: no breach alert, no climb."""

        async def scenario(redis: Any, prefix: str) -> list[str]:
            h = Harness(make_spec(), redis, prefix)
            await h.service.on_outcome(outcome(T0 + timedelta(seconds=20), "met"))
            await h.service.on_breach(breach())
            await at(h, 0)
            await at(h, 30)
            await at(h, 100)
            return h.lines()

        assert [] == run_with_redis(scenario)

    def test_restart_neither_forgets_nor_fires_twice(self) -> None:
        """A new worker finds the pending level; two workers racing for it fire it once."""

        async def scenario(redis: Any, prefix: str) -> tuple[list[int], list[str]]:
            first = Harness(make_spec(), redis, prefix)
            await first.service.on_breach(breach())
            await at(first, 1)
            del first  # the worker stops; the timer lives in Redis
            spec = make_spec()
            one = Harness(spec, redis, prefix)
            two = Harness(spec, redis, prefix, sinks={"console": one.runtime.sinks["console"]})
            for h in (one, two):
                h.clock.set(T0 + timedelta(seconds=30))
            fired = await asyncio.gather(one.service.escalate_due(), two.service.escalate_due())
            await asyncio.gather(one.dispatcher.run_once(), two.dispatcher.run_once())
            return list(fired), one.lines()

        fired, lines = run_with_redis(scenario)
        assert 1 == sum(fired)
        assert ["[alert 2 -> sup-1]"] == [line.split(" ESC")[0] for line in lines]


class TestBatches:
    """A fetch of records is handled a run at a time: the same alerts and climbs as one by one."""

    def test_a_batch_of_breaches_alerts_and_climbs_as_one_by_one(self) -> None:
        """Three cases in one batch, one of them twice: three level-1 alerts, three climbs."""

        async def scenario(redis: Any, prefix: str) -> tuple[int, list[str], int, float | None]:
            h = Harness(make_spec(), redis, prefix)
            records = [breach(case_id=c) for c in ("C-1", "C-2", "C-1", "C-3")]
            new = await h.service.on_breaches(records)
            await at(h, 0)
            deduplicated = h.registry.get_sample_value(
                "slawatch_alerts_deduplicated_total", {"channel": "console", "level": "1"}
            )
            return new, h.lines(), await h.timers.pending_count(), deduplicated

        new, lines, pending, deduplicated = run_with_redis(scenario)
        assert 3 == new
        assert ["C-1", "C-2", "C-3"] == sorted(line.split("case ")[1].split()[0] for line in lines)
        assert 3 == pending
        assert 1.0 == deduplicated

    def test_a_retraction_in_a_batch_ends_only_its_own_climb(self) -> None:
        """Breach, its retraction, another breach: the first never escalates, the second does."""

        async def scenario(redis: Any, prefix: str) -> list[str]:
            h = Harness(make_spec(), redis, prefix)
            retracted = breach(case_id="C-1").model_copy(update={"type": "breach_retracted"})
            await h.service.on_breaches([breach(case_id="C-1"), retracted, breach(case_id="C-2")])
            await at(h, 0)
            await at(h, 30)
            return h.lines()

        lines = run_with_redis(scenario)
        assert ["1 -> agent-1 C-1", "1 -> agent-1 C-2", "2 -> sup-1 C-2"] == [
            line.split("]")[0].removeprefix("[alert ") + " " + line.split("case ")[1].split()[0]
            for line in lines
        ]

    def test_a_breach_whose_met_outcome_came_first_is_skipped_within_a_batch(self) -> None:
        """The met outcome of C-1 is known: C-1 is not alerted, C-2 in the same batch is."""

        async def scenario(redis: Any, prefix: str) -> tuple[int, list[str]]:
            h = Harness(make_spec(), redis, prefix)
            await h.service.on_outcomes([outcome(T0 + timedelta(seconds=20), "met")])
            new = await h.service.on_breaches([breach(case_id="C-1"), breach(case_id="C-2")])
            await at(h, 0)
            return new, h.lines()

        new, lines = run_with_redis(scenario)
        assert 1 == new
        assert ["C-2"] == [line.split("case ")[1].split()[0] for line in lines]

    def test_outcomes_in_a_batch_end_every_climb(self) -> None:
        """Two breaches, then both outcomes in one batch: nothing escalates."""

        async def scenario(redis: Any, prefix: str) -> tuple[int, int]:
            h = Harness(make_spec(), redis, prefix)
            await h.service.on_breaches([breach(case_id="C-1"), breach(case_id="C-2")])
            pending = await h.timers.pending_count()
            stop_at = T0 + timedelta(seconds=20)
            await h.service.on_outcomes(
                [outcome(stop_at, "breached", case_id=c) for c in ("C-1", "C-2")]
            )
            return pending, await h.timers.pending_count()

        assert (2, 0) == run_with_redis(scenario)


class TestStorm:
    def test_over_budget_alerts_become_one_digest(self) -> None:
        """Budget 3 a minute, 6 breaches: 3 sent, 3 held, then one digest listing the 3."""

        async def scenario(redis: Any, prefix: str) -> tuple[list[str], float, str]:
            storm = {"max_per_minute": 3, "digest_to": ["supervisor"]}
            spec = make_spec(storm=storm, escalation={})
            h = Harness(spec, redis, prefix)
            for case in range(6):
                await h.service.on_breach(breach(case_id=f"C-{case}"))
            await at(h, 1)
            await at(h, 61)
            digested = h.metric("slawatch_alerts_digested_total", channel="console", level="1")
            return h.lines(), digested, h.console.getvalue()

        lines, digested, text = run_with_redis(scenario)
        assert 4 == len(lines)
        assert "[alert digest -> sup-1] DIGEST team cs-frontline: 3 alerts held back" in lines[-1]
        assert 3.0 == digested
        assert 3 == text.count("  - BREACH complaint_first_response case C-")
