"""One open prompt: the facts of its records summed as they arrive (in any order), and its task event.

:class:`PromptState` keeps only sums and a few small keyed values — never the records — so an open prompt costs
about the same whatever its length (benchmarks/bench_bridge.py measures it). :meth:`PromptState.event` applies the mapping rules (docs/otel.md):
tokens, cost (the harness's ``cost_usd``, summed exactly and rounded half-up once; our pricer only for a request
that carries no cost), duration, main model, quality gates (per gate the last run decides), outcome and retries.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal

from ..enums import Complexity, Outcome, QualityGate, TaskType
from ..events import TaskCompletionEvent
from ..llm.pricing import Pricer
from ..llm.usage import Usage
from .extract import Mapped
from .harness import HarnessTable, Kind

__all__ = ["MAX_RETRIES", "PromptState", "prompt_event_id"]

MAX_RETRIES = 20
_MAX_TOKENS = 10_000_000
_MAX_COST = 100_000_000
_MAX_DURATION_MS = 86_400_000
_MAX_ERRORS = 64  # per prompt; past it only their attempts are summed
#: event ids are derived from (harness, session, prompt), so a prompt reported twice is one event on the server
_NAMESPACE = uuid.UUID("6f1c3d2e-8a44-4c55-9d0e-2b7f0a9c1e37")
_Order = tuple[int, int]


def prompt_event_id(table: HarnessTable, session: str, prompt_key: str) -> uuid.UUID:
    """The event id of a prompt: the same prompt always maps to the same id (the server keeps one)."""
    return uuid.uuid5(_NAMESPACE, f"{table.prefix}\x00{session}\x00{prompt_key}")


class PromptState:
    """The running sums of one prompt of one session."""

    __slots__ = (
        "cost_micros",
        "cost_usd",
        "errors",
        "extra_attempts",
        "first",
        "gates",
        "input_tokens",
        "key",
        "last",
        "last_arrival",
        "last_request",
        "models",
        "output_tokens",
        "prompt_time",
        "session",
        "task_type",
    )

    def __init__(self, session: str, key: str, arrival: float) -> None:
        self.session = session
        self.key = key
        self.last_arrival = arrival
        self.prompt_time: int | None = None  # the user_prompt's time, once it arrived
        self.first: _Order | None = None
        self.last: _Order | None = None
        self.input_tokens = 0
        self.output_tokens = 0
        self.cost_usd = Decimal(0)
        self.cost_micros = 0
        self.models: dict[str, int] = {}  # model → output tokens, in first-seen order
        self.last_request: _Order | None = None
        self.errors: list[tuple[_Order, str | None]] = []
        self.extra_attempts = 0  # Σ (attempt − 1) over api_error
        self.gates: dict[QualityGate, tuple[_Order, bool]] = {}  # gate → (last run, failed)
        self.task_type: TaskType | None = None

    def add(self, fact: Mapped, pricer: Pricer | None, provider: str) -> None:
        """Fold one record's fact in."""
        order = fact.order
        self.first = order if self.first is None else min(self.first, order)
        self.last = order if self.last is None else max(self.last, order)
        kind = fact.kind
        if kind is Kind.PROMPT:
            self.prompt_time = fact.time_unix_nano
            if fact.task_type is not None:
                self.task_type = fact.task_type
        elif kind is Kind.REQUEST:
            self.input_tokens += fact.input_tokens
            self.output_tokens += fact.output_tokens
            if fact.model is not None:
                self.models[fact.model] = self.models.get(fact.model, 0) + fact.output_tokens
            if fact.cost_usd is not None:
                self.cost_usd += fact.cost_usd
            elif fact.cost_usd_micros is not None:
                self.cost_micros += fact.cost_usd_micros
            elif pricer is not None and fact.model is not None:
                usage = Usage(
                    input_tokens=fact.input_tokens,
                    output_tokens=fact.output_tokens,
                    cache_read_tokens=fact.cache_read_tokens,
                    cache_write_tokens=fact.cache_write_tokens,
                )
                self.cost_micros += pricer.price(fact.model, usage, provider=provider).micros
            if self.last_request is None or order > self.last_request:
                self.last_request = order
        elif kind is Kind.ERROR:
            self.extra_attempts += fact.attempt - 1
            if len(self.errors) < _MAX_ERRORS:
                self.errors.append((order, fact.model))
        elif kind is Kind.TOOL:
            for gate in fact.gates:
                seen = self.gates.get(gate)
                if seen is None or order >= seen[0]:
                    self.gates[gate] = (order, not fact.success)

    def model(self) -> str | None:
        """The model with most output tokens (tie: first seen); without requests, the first error's model."""
        if self.models:
            return max(self.models.items(), key=lambda item: item[1])[0]  # max keeps the first of equals
        named = sorted((order, model) for order, model in self.errors if model)
        return named[0][1] if named else None

    def event(
        self, table: HarnessTable, *, instance_id: str, task_type: TaskType, complexity: Complexity
    ) -> TaskCompletionEvent | None:
        """The task event, or ``None`` when the prompt made no model call (no model to report)."""
        model = self.model()
        if model is None or self.last is None or self.first is None:
            return None
        start = self.prompt_time if self.prompt_time is not None else self.first[0]
        duration_ms = max(0, self.last[0] - start) // 1_000_000
        cost = (self.cost_usd * 1_000_000).quantize(Decimal(1), rounding=ROUND_HALF_UP) + self.cost_micros
        recovered = sum(1 for order, _ in self.errors if self.last_request is not None and self.last_request > order)
        failed_gates = [gate for gate, (_, failed) in self.gates.items() if failed]
        if len(self.errors) > recovered:
            outcome = Outcome.FAILURE
        elif failed_gates:
            outcome = Outcome.PARTIAL
        else:
            outcome = Outcome.SUCCESS
        return TaskCompletionEvent(
            instance_id=instance_id,
            event_id=prompt_event_id(table, self.session, self.key),
            timestamp=datetime.fromtimestamp(self.last[0] / 1e9, timezone.utc)
            if self.last[0]
            else datetime.now(timezone.utc),
            task_duration_ms=min(duration_ms, _MAX_DURATION_MS),
            task_type=self.task_type or task_type,
            complexity=complexity,
            harness=table.harness,
            model=model[:100],
            provider=table.provider,
            estimated_input_tokens=0,
            estimated_output_tokens=0,
            actual_input_tokens=min(self.input_tokens, _MAX_TOKENS),
            actual_output_tokens=min(self.output_tokens, _MAX_TOKENS),
            estimated_cost_usd_micros=0,
            actual_cost_usd_micros=min(int(cost), _MAX_COST),
            quality_gate_passed=not failed_gates,
            quality_gates_run=[gate for gate in QualityGate if gate in self.gates],
            quality_gates_failed=[gate for gate in QualityGate if gate in failed_gates],
            context_compactions=0,
            context_rotations=0,
            context_utilization_final=0.0,
            outcome=outcome,
            retry_count=min(self.extra_attempts + recovered, MAX_RETRIES),
        )
