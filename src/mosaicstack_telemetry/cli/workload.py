"""A simulated AI-coding workload: task completions with plausible tokens, costs, durations and outcomes.

The demo needs data whose predictions look like the real thing, and tests need the same data twice: every value
comes from one :class:`random.Random` seeded by the caller (event ids too), and timestamps are offsets from a
``now`` the caller passes, so a seed reproduces the workload exactly.

How the numbers are made (public list prices, rounded; the shapes matter more than the figures):

* a task's **tokens** are log-normal around a median set by its task type, scaled by complexity (low 0.45×,
  critical 4×) and, for output, by the model's verbosity (reasoning models write more);
* **estimates** run low, as they do in practice: input ~14 % and output ~18 % under the actual count, with noise;
* **cost** is tokens × the model's price per million tokens — which is microdollars per token, the schema's unit;
* **duration** is generation time (output tokens ÷ the model's speed) plus tool time (builds, tests), log-normal;
* **success** depends on the model's skill and the complexity; failures split into failure, partial and timeout;
  quality gates follow the task type and fail far more often when the task did not succeed.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone
from typing import TypeVar

import attrs

from ..builder import EventBuilder
from ..enums import Complexity, Harness, Outcome, Provider, QualityGate, RepoSizeCategory, TaskType
from ..events import TaskCompletionEvent
from ..predictions import PredictionQuery

__all__ = ["COMPLEXITIES", "MODELS", "TASKS", "ModelProfile", "combinations", "query_of", "simulate"]

_T = TypeVar("_T")


@attrs.frozen
class ModelProfile:
    model: str
    provider: Provider
    #: share of the workload (relative)
    weight: float
    #: USD per million tokens, i.e. microdollars per token
    input_price: float
    output_price: float
    #: output tokens per second
    speed: float
    #: chance of success on a medium task
    skill: float
    #: output tokens relative to the task's median
    verbosity: float
    harnesses: tuple[tuple[Harness, float], ...]


@attrs.frozen
class TaskProfile:
    task_type: TaskType
    weight: float
    input_median: int
    output_median: int
    #: median seconds spent outside the model (tools, builds, tests) on a medium task
    tool_seconds: float
    gates: tuple[QualityGate, ...]


@attrs.frozen
class ComplexityProfile:
    complexity: Complexity
    weight: float
    #: scales tokens and tool time
    scale: float
    #: added to the model's chance of success
    success_shift: float


_H = Harness
MODELS: tuple[ModelProfile, ...] = (
    ModelProfile(
        "claude-sonnet-4-20250514", Provider.ANTHROPIC, 30, 3.0, 15.0, 80, 0.86, 1.0,
        ((_H.CLAUDE_CODE, 6), (_H.AIDER, 2), (_H.OPENCODE, 2)),
    ),
    ModelProfile("claude-opus-4-20250514", Provider.ANTHROPIC, 5, 15.0, 75.0, 45, 0.90, 1.15, ((_H.CLAUDE_CODE, 1),)),
    ModelProfile(
        "claude-3-5-haiku-20241022", Provider.ANTHROPIC, 10, 0.8, 4.0, 120, 0.72, 0.8,
        ((_H.CLAUDE_CODE, 1), (_H.API_DIRECT, 1)),
    ),
    ModelProfile("gpt-4o", Provider.OPENAI, 18, 2.5, 10.0, 90, 0.80, 0.9, ((_H.OPENCODE, 2), (_H.AIDER, 2), (_H.API_DIRECT, 1))),
    ModelProfile("o3-mini", Provider.OPENAI, 8, 1.1, 4.4, 150, 0.78, 1.6, ((_H.OPENCODE, 1), (_H.AIDER, 1))),
    ModelProfile("gemini-2.5-pro", Provider.GOOGLE, 12, 1.25, 10.0, 100, 0.82, 1.2, ((_H.KILO_CODE, 1), (_H.OPENCODE, 1))),
    ModelProfile("codestral-latest", Provider.MISTRAL, 5, 0.3, 0.9, 140, 0.66, 0.9, ((_H.AIDER, 1), (_H.KILO_CODE, 1))),
    ModelProfile("qwen2.5-coder:32b", Provider.OLLAMA, 7, 0.0, 0.0, 25, 0.60, 0.9, ((_H.OLLAMA_LOCAL, 2), (_H.AIDER, 1))),
)  # fmt: skip

_G = QualityGate
TASKS: tuple[TaskProfile, ...] = (
    TaskProfile(TaskType.IMPLEMENTATION, 30, 14_000, 4_200, 90, (_G.BUILD, _G.LINT, _G.TEST, _G.TYPECHECK)),
    TaskProfile(TaskType.DEBUGGING, 18, 18_000, 1_800, 120, (_G.TEST,)),
    TaskProfile(TaskType.CODE_REVIEW, 14, 22_000, 1_400, 30, (_G.LINT,)),
    TaskProfile(TaskType.TESTING, 14, 11_000, 3_800, 75, (_G.TEST, _G.COVERAGE)),
    TaskProfile(TaskType.REFACTORING, 10, 16_000, 3_400, 80, (_G.LINT, _G.TEST, _G.TYPECHECK)),
    TaskProfile(TaskType.DOCUMENTATION, 8, 9_000, 2_600, 25, (_G.LINT,)),
    TaskProfile(TaskType.PLANNING, 6, 7_000, 1_600, 20, ()),
)

COMPLEXITIES: tuple[ComplexityProfile, ...] = (
    ComplexityProfile(Complexity.LOW, 25, 0.45, 0.08),
    ComplexityProfile(Complexity.MEDIUM, 45, 1.0, 0.0),
    ComplexityProfile(Complexity.HIGH, 24, 2.2, -0.12),
    ComplexityProfile(Complexity.CRITICAL, 6, 4.0, -0.25),
)

_NOT_SUCCESS = ((Outcome.FAILURE, 50), (Outcome.PARTIAL, 35), (Outcome.TIMEOUT, 15))
_LANGUAGES = (("python", 35), ("typescript", 30), ("go", 10), ("rust", 8), ("java", 7), (None, 10))
_REPO_SIZES = (
    (RepoSizeCategory.TINY, 10),
    (RepoSizeCategory.SMALL, 30),
    (RepoSizeCategory.MEDIUM, 35),
    (RepoSizeCategory.LARGE, 20),
    (RepoSizeCategory.HUGE, 5),
)
_CONTEXT_WINDOW = 200_000
_MAX_TOKENS = 10_000_000
_MAX_COST = 100_000_000
_MAX_DURATION = 86_400_000
#: Timestamps fall within this long before ``now``.
_SPAN = timedelta(days=7)


def _weighted(rng: random.Random, choices: Sequence[tuple[_T, float]]) -> _T:
    return rng.choices([value for value, _ in choices], weights=[weight for _, weight in choices])[0]


def _clamp(value: float, low: int, high: int) -> int:
    return max(low, min(high, round(value)))


def _event(
    rng: random.Random,
    *,
    instance_id: str | uuid.UUID,
    now: datetime,
    model: ModelProfile,
    task: TaskProfile,
    level: ComplexityProfile,
) -> TaskCompletionEvent:
    actual_in = _clamp(task.input_median * level.scale * rng.lognormvariate(0, 0.45), 200, _MAX_TOKENS)
    actual_out = _clamp(
        task.output_median * level.scale * model.verbosity * rng.lognormvariate(0, 0.5), 50, _MAX_TOKENS
    )
    estimated_in = _clamp(actual_in * rng.lognormvariate(-0.15, 0.25), 0, _MAX_TOKENS)
    estimated_out = _clamp(actual_out * rng.lognormvariate(-0.2, 0.35), 0, _MAX_TOKENS)

    succeeded = rng.random() < min(0.98, max(0.05, model.skill + level.success_shift))
    outcome = Outcome.SUCCESS if succeeded else _weighted(rng, _NOT_SUCCESS)
    seconds = actual_out / model.speed + task.tool_seconds * level.scale * rng.lognormvariate(0, 0.6)
    if outcome is Outcome.TIMEOUT:
        seconds = seconds * 1.5 + 300
    fail_chance = 0.04 if succeeded else 0.45
    failed = [gate for gate in task.gates if rng.random() < fail_chance]
    retries = min(20, int(rng.expovariate(3.0 if succeeded else 0.8)))
    utilization = min(1.0, actual_in / _CONTEXT_WINDOW * rng.uniform(0.8, 1.2) + rng.uniform(0.02, 0.1))
    compactions = min(100, actual_in // 120_000)
    return (
        EventBuilder(instance_id=instance_id)
        .event_id(uuid.UUID(int=rng.getrandbits(128), version=4))
        .timestamp(now - _SPAN * rng.random())
        .task_type(task.task_type)
        .model(model.model)
        .provider(model.provider)
        .harness_type(_weighted(rng, model.harnesses))
        .complexity_level(level.complexity)
        .outcome_value(outcome)
        .duration_ms(_clamp(seconds * 1_000, 1, _MAX_DURATION))
        .retry_count(retries)
        .language(_weighted(rng, _LANGUAGES))
        .repo_size(_weighted(rng, _REPO_SIZES))
        .tokens(estimated_in=estimated_in, estimated_out=estimated_out, actual_in=actual_in, actual_out=actual_out)
        .cost(
            estimated=_clamp(estimated_in * model.input_price + estimated_out * model.output_price, 0, _MAX_COST),
            actual=_clamp(actual_in * model.input_price + actual_out * model.output_price, 0, _MAX_COST),
        )
        .quality(passed=not failed and outcome is not Outcome.TIMEOUT, gates_run=task.gates, gates_failed=failed)
        .context(
            compactions=compactions,
            rotations=1 if compactions >= 3 and rng.random() < 0.3 else 0,
            utilization=round(utilization, 3),
        )
        .build()
    )


def simulate(
    count: int,
    *,
    seed: int,
    instance_id: str | uuid.UUID,
    now: datetime | None = None,
) -> list[TaskCompletionEvent]:
    """``count`` task completions of one instance, the same for the same ``seed`` and ``now``.

    :param now: the workload's end (timestamps spread over the week before it); default: the current time, UTC.
    """
    rng = random.Random(seed)  # noqa: S311 - a simulation wants reproducible numbers, not secrets
    end = datetime.now(timezone.utc) if now is None else now
    model_weights = [model.weight for model in MODELS]
    task_weights = [task.weight for task in TASKS]
    level_weights = [level.weight for level in COMPLEXITIES]
    events = []
    for _ in range(count):
        model = rng.choices(MODELS, weights=model_weights)[0]
        task = rng.choices(TASKS, weights=task_weights)[0]
        level = rng.choices(COMPLEXITIES, weights=level_weights)[0]
        events.append(_event(rng, instance_id=instance_id, now=end, model=model, task=task, level=level))
    return events


def query_of(event: TaskCompletionEvent) -> PredictionQuery:
    """The prediction combination an event belongs to."""
    return PredictionQuery(
        task_type=event.task_type,
        model=event.model,
        provider=event.provider,
        complexity=event.complexity,
    )


def combinations(events: Iterable[TaskCompletionEvent]) -> Counter[PredictionQuery]:
    """How many events each combination has, most used first when iterated with ``most_common()``."""
    return Counter(query_of(event) for event in events)
