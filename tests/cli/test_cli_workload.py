"""The simulated workload: reproducible under a seed, varied, and plausible."""

from __future__ import annotations

import statistics
from datetime import datetime, timedelta, timezone
from uuid import uuid4

from mosaicstack_telemetry import Outcome, Provider
from mosaicstack_telemetry.cli.workload import MODELS, combinations, query_of, simulate

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
INSTANCE = uuid4()


def test_same_seed_same_events() -> None:
    """A seed (and a fixed end time) reproduces the workload exactly, event ids included; another seed does not."""
    first = simulate(200, seed=3, instance_id=INSTANCE, now=NOW)
    again = simulate(200, seed=3, instance_id=INSTANCE, now=NOW)
    other = simulate(200, seed=4, instance_id=INSTANCE, now=NOW)
    assert [event.model_dump_json() for event in first] == [event.model_dump_json() for event in again]
    assert [event.event_id for event in first] != [event.event_id for event in other]
    assert 200 == len({event.event_id for event in first})


def test_variety() -> None:
    """At the demo's size: every model, several providers, task types, all complexities and outcomes."""
    events = simulate(1_000, seed=7, instance_id=INSTANCE, now=NOW)
    assert len(MODELS) == len({event.model for event in events})
    assert len({event.provider for event in events}) >= 5
    assert len({event.task_type for event in events}) >= 7
    assert 4 == len({event.complexity for event in events})
    assert set(Outcome) == {event.outcome for event in events}
    assert all(NOW - timedelta(days=7) <= event.timestamp <= NOW for event in events)
    assert all(str(event.instance_id) == str(INSTANCE) for event in events)


def test_plausible_numbers() -> None:
    """Costs follow the price list (a local model is free), estimates run low, harder tasks cost more."""
    events = simulate(2_000, seed=1, instance_id=INSTANCE, now=NOW)
    local = [event for event in events if event.provider is Provider.OLLAMA]
    assert local
    assert all(0 == event.actual_cost_usd_micros for event in local)
    paid = [event for event in events if event.provider is not Provider.OLLAMA]
    assert all(event.actual_cost_usd_micros > 0 for event in paid)
    ratio = sum(e.actual_input_tokens for e in events) / sum(e.estimated_input_tokens for e in events)
    assert 1.05 < ratio < 1.3

    def median_cost(complexity: str) -> float:
        return statistics.median(e.actual_cost_usd_micros for e in paid if e.complexity.value == complexity)

    assert median_cost("low") < median_cost("medium") < median_cost("high") < median_cost("critical")
    success = sum(event.outcome is Outcome.SUCCESS for event in events) / len(events)
    assert 0.65 < success < 0.9
    assert all(not event.quality_gate_passed for event in events if event.quality_gates_failed)


def test_combinations_count_every_event() -> None:
    events = simulate(300, seed=2, instance_id=INSTANCE, now=NOW)
    counts = combinations(events)
    assert 300 == sum(counts.values())
    assert counts[query_of(events[0])] >= 1
