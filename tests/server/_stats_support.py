"""A known dataset for the dashboard's statistics, and what they must be, computed in plain Python from the events.

The expectations here never touch SQL: they are the definitions of :mod:`mosaicstack_telemetry.server.stats_queries`
written a second time, over the event models, so that a query and its test cannot share a mistake. The browser tests
use the same dataset and expectations.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

from mosaicstack_telemetry import TaskCompletionEvent
from mosaicstack_telemetry.enums import Complexity, Harness, Outcome, Provider, QualityGate, TaskType

UTC = timezone.utc
#: The dataset's instance, and another one whose events must never show.
INSTANCE = UUID("6d1f0d3e-0a1b-4c2d-8e3f-5a6b7c8d9e0f")
OTHER_INSTANCE = UUID("0b9e8d7c-6b5a-4f3e-9d2c-1b0a9f8e7d6c")
#: The dataset spans 3 days from here (so hour buckets: 72 of them at most).
START = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
MODELS = (
    ("claude-sonnet-4-5", Provider.ANTHROPIC),
    ("gpt-5", Provider.OPENAI),
    ("gemini-2.5-pro", Provider.GOOGLE),
)
TASK_TYPES = (TaskType.IMPLEMENTATION, TaskType.TESTING, TaskType.DEBUGGING, TaskType.DOCUMENTATION)
HARNESSES = (Harness.CLAUDE_CODE, Harness.AIDER, Harness.OPENCODE)
GATES = (QualityGate.LINT, QualityGate.TEST, QualityGate.BUILD, QualityGate.TYPECHECK)
DURATIONS_MS = (800, 9_999, 10_000, 25_000, 59_000, 61_000, 150_000, 400_000, 700_000, 2_000_000, 4_000_000)


def make_events(count: int, *, instance_id: UUID = INSTANCE, seed: int = 20) -> list[TaskCompletionEvent]:
    """``count`` varied events of ``instance_id`` over 3 days from :data:`START` (the same for the same seed)."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible dataset, not a secret
    events = []
    for _ in range(count):
        model, provider = rng.choice(MODELS)
        ran = rng.sample(GATES, rng.randint(0, 3))
        failed = [gate for gate in ran if rng.random() < 0.3]
        if rng.random() < 0.05:
            ran = ran + ran[:1]  # a gate listed twice still counts once
        moment = START + timedelta(
            seconds=rng.randrange(3 * 86_400), microseconds=rng.choice((0, rng.randrange(10**6)))
        )
        estimated_in, estimated_out = rng.randint(1_000, 50_000), rng.randint(200, 8_000)
        events.append(
            TaskCompletionEvent(
                instance_id=instance_id,
                event_id=UUID(int=rng.getrandbits(128), version=4),
                timestamp=moment,
                task_duration_ms=rng.choice(DURATIONS_MS) + rng.randint(0, 2),
                task_type=rng.choice(TASK_TYPES),
                complexity=rng.choice(list(Complexity)),
                harness=rng.choice(HARNESSES),
                model=model,
                provider=provider,
                estimated_input_tokens=estimated_in,
                estimated_output_tokens=estimated_out,
                actual_input_tokens=int(estimated_in * rng.uniform(0.5, 1.5)),
                actual_output_tokens=int(estimated_out * rng.uniform(0.5, 1.5)),
                estimated_cost_usd_micros=rng.randint(1_000, 900_000),
                actual_cost_usd_micros=rng.randint(1_000, 900_000),
                quality_gate_passed=not failed,
                quality_gates_run=ran,
                quality_gates_failed=failed,
                context_compactions=0,
                context_rotations=0,
                context_utilization_final=0.5,
                outcome=rng.choice((Outcome.SUCCESS, Outcome.SUCCESS, Outcome.FAILURE, Outcome.PARTIAL)),
                retry_count=0,
            )
        )
    return events


def select(
    events: Iterable[TaskCompletionEvent],
    *,
    instance_id: UUID = INSTANCE,
    start: datetime | None = None,
    end: datetime | None = None,
    model: str | None = None,
    task_type: str | None = None,
    harness: str | None = None,
) -> list[TaskCompletionEvent]:
    """The events a filter selects, by the definitions: ``start <= timestamp < end``, exact matches."""
    return [
        event
        for event in events
        if event.instance_id == instance_id
        and (start is None or event.timestamp >= start)
        and (end is None or event.timestamp < end)
        and (model is None or event.model == model)
        and (task_type is None or event.task_type.value == task_type)
        and (harness is None or event.harness.value == harness)
    ]


def totals(events: Sequence[TaskCompletionEvent]) -> dict[str, Any]:
    return {
        "events": len(events),
        "input_tokens": sum(event.actual_input_tokens for event in events),
        "output_tokens": sum(event.actual_output_tokens for event in events),
        "cost_usd_micros": sum(event.actual_cost_usd_micros for event in events),
        "succeeded": sum(event.outcome is Outcome.SUCCESS for event in events),
        "gate_passed": sum(event.quality_gate_passed for event in events),
    }


def by(events: Sequence[TaskCompletionEvent], field: str) -> dict[str, dict[str, Any]]:
    """:func:`totals` per value of ``field`` (an enum's wire value)."""
    groups: dict[str, list[TaskCompletionEvent]] = defaultdict(list)
    for event in events:
        value = getattr(event, field)
        groups[getattr(value, "value", value)].append(event)
    return {key: totals(group) for key, group in groups.items()}


def bucket_start(moment: datetime, bucket: str) -> datetime:
    """The start of the UTC hour, day, week (from Monday), month or year holding ``moment``."""
    hour = moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    day = hour.replace(hour=0)
    starts = {
        "hour": hour,
        "day": day,
        "week": day - timedelta(days=day.weekday()),
        "month": day.replace(day=1),
        "year": day.replace(month=1, day=1),
    }
    return starts[bucket]


def series(events: Sequence[TaskCompletionEvent], bucket: str) -> dict[datetime, int]:
    """Events per UTC hour, day, week, month or year of their timestamp (non-empty buckets only)."""
    counts: dict[datetime, int] = defaultdict(int)
    for event in events:
        counts[bucket_start(event.timestamp, bucket)] += 1
    return dict(counts)


def gate_rates(events: Sequence[TaskCompletionEvent]) -> dict[tuple[str, str], tuple[int, int]]:
    """(task type, gate) → (events that ran it, events that failed it)."""
    rates: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for event in events:
        for gate in set(event.quality_gates_run):
            rates[event.task_type.value, gate.value][0] += 1
        for gate in set(event.quality_gates_failed):
            rates[event.task_type.value, gate.value][1] += 1
    return {key: (runs, failures) for key, (runs, failures) in rates.items()}


def duration_bins(events: Sequence[TaskCompletionEvent], edges: Sequence[int]) -> list[int]:
    counts = [0] * len(edges)
    for event in events:
        counts[max(index for index, edge in enumerate(edges) if event.task_duration_ms >= edge)] += 1
    return counts


def nearest_rank_duration(events: Sequence[TaskCompletionEvent], percent: int) -> int:
    ordered = sorted(event.task_duration_ms for event in events)
    rank = max(1, -(-percent * len(ordered) // 100))
    return ordered[rank - 1]


def latest(events: Sequence[TaskCompletionEvent]) -> list[TaskCompletionEvent]:
    """Newest first, then by event id (descending)."""
    return sorted(events, key=lambda event: (event.timestamp, str(event.event_id)), reverse=True)
