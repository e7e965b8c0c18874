"""``GenAISpanProcessor``: OpenTelemetry GenAI spans in, task events out, for apps already instrumented.

Add it to your own ``opentelemetry-sdk`` ``TracerProvider``; nothing here imports the SDK (it is duck-typed to the
``SpanProcessor`` interface)::

    provider.add_span_processor(GenAISpanProcessor(telemetry))

* A model-call span (``gen_ai.operation.name`` ``chat``, ``text_completion``, ``generate_content`` or
  ``embeddings``) becomes one event: tokens from ``gen_ai.usage.input_tokens`` (cached included, as the conventions
  define it) and ``gen_ai.usage.output_tokens``, the cache subsets priced at their own rates by the ``llm`` pricer,
  the model from ``gen_ai.response.model`` (else ``gen_ai.request.model``), the provider from
  ``gen_ai.provider.name`` (else the older ``gen_ai.system``), the span's duration, ``failure`` when the span's
  status is an error or it has ``error.type``.
* An ``invoke_agent`` span aggregates every model call below it (any depth, via parent span ids) into one event: the
  sums, the model with most output tokens, the agent span's duration; failed model calls count as retries.
* A span without usage is not reported (a model call whose usage is unknown has no honest event); counted.

It never raises into the tracer. Spans that never end cannot grow memory without bound: at most
``max_open_spans`` are remembered.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from typing import TYPE_CHECKING, Any

from ..enums import Complexity, Harness, Outcome, Provider, TaskType
from ..events import TaskCompletionEvent
from ..llm.pricing import Pricer
from ..llm.task_types import EMBEDDINGS_TASK_TYPE
from ..llm.usage import Usage

if TYPE_CHECKING:
    from ..client import TelemetryClient

__all__ = ["GenAISpanProcessor"]

_log = logging.getLogger(__name__)

MODEL_CALLS = frozenset({"chat", "text_completion", "generate_content", "embeddings"})
AGENT = "invoke_agent"
_MAX_TOKENS = 10_000_000
_MAX_COST = 100_000_000
#: ``gen_ai.provider.name`` / ``gen_ai.system`` values → the schema's providers (others: ``custom``)
PROVIDERS = {
    "anthropic": Provider.ANTHROPIC,
    "openai": Provider.OPENAI,
    "azure.ai.openai": Provider.OPENAI,
    "aws.bedrock": Provider.CUSTOM,
    "gcp.gemini": Provider.GOOGLE,
    "gcp.vertex_ai": Provider.GOOGLE,
    "gcp.gen_ai": Provider.GOOGLE,
    "gemini": Provider.GOOGLE,
    "vertex_ai": Provider.GOOGLE,
    "mistral_ai": Provider.MISTRAL,
    "ollama": Provider.OLLAMA,
    "openrouter": Provider.OPENROUTER,
}


def _int(attributes: Any, key: str) -> int | None:
    value = attributes.get(key)
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None


class _Call:
    """One model call read from its span."""

    __slots__ = ("cost", "failed", "input", "model", "output", "provider")

    def __init__(self, span: Any, pricer: Pricer) -> None:
        attributes = span.attributes or {}
        self.model = str(attributes.get("gen_ai.response.model") or attributes.get("gen_ai.request.model") or "")
        system = str(attributes.get("gen_ai.provider.name") or attributes.get("gen_ai.system") or "").lower()
        self.provider = PROVIDERS.get(system, Provider.CUSTOM if system else Provider.UNKNOWN)
        operation = attributes.get("gen_ai.operation.name")
        self.input = _int(attributes, "gen_ai.usage.input_tokens")
        output = _int(attributes, "gen_ai.usage.output_tokens")
        self.output = 0 if output is None and operation == "embeddings" and self.input is not None else output
        self.failed = _failed(span)
        self.cost = 0
        if self.input is not None and self.output is not None and self.model:
            usage = Usage(
                input_tokens=self.input,
                output_tokens=self.output,
                cache_read_tokens=_int(attributes, "gen_ai.usage.cache_read.input_tokens") or 0,
                cache_write_tokens=_int(attributes, "gen_ai.usage.cache_creation.input_tokens") or 0,
            )
            self.cost = pricer.price(self.model, usage, provider=self.provider.value).micros

    @property
    def known(self) -> bool:
        return self.input is not None and self.output is not None and bool(self.model)


class _Agent:
    __slots__ = ("calls",)

    def __init__(self) -> None:
        self.calls: list[_Call] = []


def _failed(span: Any) -> bool:
    status = getattr(getattr(span, "status", None), "status_code", None)
    return getattr(status, "name", "") == "ERROR" or bool((span.attributes or {}).get("error.type"))


def _operation(span: Any) -> str | None:
    operation = (span.attributes or {}).get("gen_ai.operation.name")
    if isinstance(operation, str):
        return operation
    name = getattr(span, "name", "") or ""
    return AGENT if name.startswith(AGENT) else None


class GenAISpanProcessor:
    """A span processor reporting ``gen_ai.*`` spans as task events on ``telemetry`` (see the module docstring).

    :param telemetry: the client whose ``track()`` takes the events.
    :param harness: the events' harness (default ``api_direct``, as the ``llm`` instrumentation).
    :param task_type: the events' task type (embeddings spans: ``EMBEDDINGS_TASK_TYPE``).
    :param pricer: prices the calls (default: the ``llm`` pricer).
    """

    def __init__(
        self,
        telemetry: TelemetryClient,
        *,
        harness: Harness | str = Harness.API_DIRECT,
        task_type: TaskType | str = TaskType.UNKNOWN,
        complexity: Complexity | str = Complexity.MEDIUM,
        pricer: Pricer | None = None,
        max_open_spans: int = 100_000,
    ) -> None:
        self._telemetry = telemetry
        self._harness = Harness(harness)
        self._task_type = TaskType(task_type)
        self._complexity = Complexity(complexity)
        self._pricer = pricer if pricer is not None else Pricer()
        self._max_open = max_open_spans
        self._lock = threading.Lock()
        self._parents: dict[tuple[int, int], int | None] = {}  # open spans → parent span id
        self._agents: dict[tuple[int, int], _Agent] = {}
        #: events, calls folded into an agent, spans without usage, errors swallowed
        self.counts: Counter[str] = Counter()

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        try:
            context = span.context
            key = (context.trace_id, context.span_id)
            parent = span.parent.span_id if span.parent is not None else None
            with self._lock:
                if len(self._parents) >= self._max_open:
                    self._parents.pop(next(iter(self._parents)))
                    self.counts["forgotten"] += 1
                self._parents[key] = parent
                if _operation(span) == AGENT:
                    if len(self._agents) >= self._max_open:
                        self._agents.pop(next(iter(self._agents)))
                        self.counts["forgotten"] += 1
                    self._agents[key] = _Agent()
        except Exception:
            self.counts["errors"] += 1
            _log.debug("GenAISpanProcessor.on_start failed", exc_info=True)

    def _on_ending(self, span: Any) -> None:
        """The SDK's hook before ``on_end`` (nothing to do)."""

    def on_end(self, span: Any) -> None:
        try:
            self._end(span)
        except Exception:
            self.counts["errors"] += 1
            _log.debug("GenAISpanProcessor.on_end failed", exc_info=True)

    def _end(self, span: Any) -> None:
        context = span.context
        key = (context.trace_id, context.span_id)
        operation = _operation(span)
        with self._lock:
            self._parents.pop(key, None)
            agent = self._agents.pop(key, None)
            owner = self._agent_above(context.trace_id, span) if operation in MODEL_CALLS else None
        if agent is not None:
            self._report_agent(span, agent)
            return
        if operation not in MODEL_CALLS:
            return
        call = _Call(span, self._pricer)
        if owner is not None:
            owner.calls.append(call)
            self.counts["folded"] += 1
            return
        if not call.known:
            self.counts["no_usage"] += 1
            return
        task_type = EMBEDDINGS_TASK_TYPE if operation == "embeddings" else self._task_type
        self._track(span, [call], task_type=task_type, outcome_failed=call.failed)

    def _agent_above(self, trace_id: int, span: Any) -> _Agent | None:
        parent = span.parent.span_id if span.parent is not None else None
        for _ in range(64):  # depth bound: a broken chain never loops
            if parent is None:
                return None
            agent = self._agents.get((trace_id, parent))
            if agent is not None:
                return agent
            parent = self._parents.get((trace_id, parent))
        return None

    def _report_agent(self, span: Any, agent: _Agent) -> None:
        calls = [call for call in agent.calls if call.known]
        if not calls:
            self.counts["no_usage"] += 1
            return
        self._track(span, calls, task_type=self._task_type, outcome_failed=_failed(span))

    def _track(self, span: Any, calls: list[_Call], *, task_type: TaskType, outcome_failed: bool) -> None:
        models: dict[str, int] = {}
        for call in calls:
            models[call.model] = models.get(call.model, 0) + (call.output or 0)
        main = max(models.items(), key=lambda item: item[1])[0]
        provider = next(call.provider for call in calls if call.model == main)
        duration_ms = max(0, (span.end_time or 0) - (span.start_time or 0)) // 1_000_000
        retries = sum(1 for call in calls if call.failed) if len(calls) > 1 else 0
        event = TaskCompletionEvent(
            instance_id=self._telemetry.config.instance_id,
            task_duration_ms=min(duration_ms, 86_400_000),
            task_type=task_type,
            complexity=self._complexity,
            harness=self._harness,
            model=main[:100],
            provider=provider,
            estimated_input_tokens=0,
            estimated_output_tokens=0,
            actual_input_tokens=min(sum(call.input or 0 for call in calls), _MAX_TOKENS),
            actual_output_tokens=min(sum(call.output or 0 for call in calls), _MAX_TOKENS),
            estimated_cost_usd_micros=0,
            actual_cost_usd_micros=min(sum(call.cost for call in calls), _MAX_COST),
            quality_gate_passed=not outcome_failed,
            quality_gates_run=[],
            quality_gates_failed=[],
            context_compactions=0,
            context_rotations=0,
            context_utilization_final=0.0,
            outcome=Outcome.FAILURE if outcome_failed else Outcome.SUCCESS,
            retry_count=min(retries, 20),
        )
        self._telemetry.track(event)
        self.counts["events"] += 1

    def shutdown(self) -> None:
        """Nothing to release (the client is the caller's)."""

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Events are already on the client (flush the client to send them)."""
        return True
