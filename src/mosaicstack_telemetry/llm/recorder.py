"""One call, from start to event: time it, resolve task type, price it, build the event, ``track()`` it — once.

Everything here runs on the caller's thread after the call has returned (or while a stream ends) and never raises:
an unexpected error is counted (``internal_error``), logged once, and the caller's call is unaffected. Rules:

* outcome ``success``/``partial`` with unknown token counts → **no event**, counted ``usage_unknown``, logged once;
* outcome ``failure``/``timeout`` → an event with the counts that are known (0 for the rest: a refused request bills
  nothing), so failures are visible;
* values outside the schema's ranges (tokens ≤ 10,000,000, cost ≤ 100,000,000 µ$, duration ≤ 24 h, model name ≤ 100
  characters) are clamped and counted, never raised.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Protocol

import attrs

from ..builder import EventBuilder
from ..config import TelemetryConfig
from ..enums import Complexity, Harness, Outcome, Provider, TaskType
from ..events import TaskCompletionEvent
from .pricing import Cost, CostStatus, Pricer
from .providers import provider_of_model, system_prompt
from .stats import COUNTERS, SkipReason
from .task_types import current_hint, infer_task_type
from .usage import UNKNOWN, Usage

__all__ = ["CallRecord", "CallResult", "Options", "Telemetry", "failure_outcome", "recording"]

logger = logging.getLogger("mosaicstack_telemetry.llm")

_MAX_TOKENS = 10_000_000
_MAX_COST = 100_000_000
_MAX_DURATION_MS = 86_400_000
_MAX_MODEL = 100
_UNNAMED = frozenset({Provider.CUSTOM, Provider.UNKNOWN})


class Telemetry(Protocol):
    """What the instrumentation needs of a :class:`~mosaicstack_telemetry.TelemetryClient` (tests pass fakes)."""

    @property
    def config(self) -> TelemetryConfig: ...

    def track(self, event: TaskCompletionEvent) -> None: ...


@attrs.frozen(kw_only=True)
class CallResult:
    """What the instrumentation did with one call (``on_result``, ``call.result``, ``stream.result``)."""

    #: the event passed to ``track()``, or ``None`` when none was sent
    event: TaskCompletionEvent | None
    #: why no event was sent (a :class:`~mosaicstack_telemetry.llm.SkipReason`), or ``None``
    skipped: str | None
    outcome: Outcome
    model: str
    provider: Provider
    usage: Usage
    cost: Cost
    #: the stream ended before the provider's final usage report (early break, close, error)
    incomplete: bool = False

    @property
    def tracked(self) -> bool:
        return self.event is not None

    @property
    def unpriced(self) -> bool:
        return self.cost.status is CostStatus.UNPRICED


@attrs.frozen(kw_only=True)
class Options:
    """Settings shared by the calls of one entry point (see :func:`~mosaicstack_telemetry.llm.instrument`)."""

    telemetry: Telemetry
    task_type: TaskType | None = attrs.field(default=None, converter=attrs.converters.optional(TaskType))
    complexity: Complexity | None = attrs.field(default=None, converter=attrs.converters.optional(Complexity))
    harness: Harness = attrs.field(default=Harness.API_DIRECT, converter=Harness)
    provider: Provider | None = attrs.field(default=None, converter=attrs.converters.optional(Provider))
    model: str | None = None
    pricer: Pricer | None = None
    language: str | None = None
    estimated_input_tokens: int = 0
    estimated_output_tokens: int = 0
    on_result: Callable[[CallResult], object] | None = None

    def get_pricer(self) -> Pricer:
        return self.pricer if self.pricer is not None else _default_pricer()


_DEFAULT_PRICER: list[Pricer] = []


def _default_pricer() -> Pricer:
    if not _DEFAULT_PRICER:
        _DEFAULT_PRICER.append(Pricer())
    return _DEFAULT_PRICER[0]


class CallRecord:
    """One call in flight. :meth:`finish` turns it into at most one event, exactly once (later calls are no-ops)."""

    __slots__ = (
        "_done",
        "_hint",
        "_request",
        "embeddings",
        "options",
        "provider",
        "request_model",
        "result",
        "started",
    )

    def __init__(
        self,
        options: Options,
        *,
        request: Mapping[str, Any] | None = None,
        embeddings: bool = False,
        provider: Provider | None = None,
    ) -> None:
        self.options = options
        self.started = time.perf_counter()
        self._request = request
        self.embeddings = embeddings
        self.provider = provider or options.provider
        model = request.get("model") if request else None
        self.request_model = model if isinstance(model, str) else options.model
        self._hint = current_hint()  # captured now: a stream may end outside the block
        self._done = False
        self.result: CallResult | None = None

    @property
    def done(self) -> bool:
        return self._done

    def finish(
        self,
        usage: Usage | None,
        *,
        outcome: Outcome,
        model: str | None = None,
        provider: Provider | None = None,
        incomplete: bool = False,
    ) -> CallResult | None:
        """Report the call (see the module docstring). Never raises; only the first call does anything."""
        if self._done:
            return self.result
        self._done = True
        try:
            self.result = self._finish(usage or UNKNOWN, outcome, model, provider, incomplete)
        except Exception:
            COUNTERS.skipped(SkipReason.INTERNAL_ERROR)
            _log_once(SkipReason.INTERNAL_ERROR, "an internal error prevented an event", exc_info=True)
            return None
        callback = self.options.on_result
        if callback is not None:
            try:
                callback(self.result)
            except Exception:
                logger.exception("mosaicstack-telemetry: on_result callback failed")
        return self.result

    def cancelled(self) -> None:
        """The call was cancelled (``BaseException`` that is not an ``Exception``): nothing known, no event."""
        if not self._done:
            self._done = True
            COUNTERS.skipped(SkipReason.CANCELLED)

    def _finish(
        self, usage: Usage, outcome: Outcome, model: str | None, provider: Provider | None, incomplete: bool
    ) -> CallResult:
        options = self.options
        duration_ms = round((time.perf_counter() - self.started) * 1000)
        name = model or self.request_model or "unknown"
        served_by = self.provider or provider or Provider.UNKNOWN
        if served_by in _UNNAMED:  # a gateway on a custom base_url: a prefix (openai/gpt-4o-mini) names the provider
            served_by = provider_of_model(name) or provider_of_model(self.request_model) or served_by
        if outcome in {Outcome.SUCCESS, Outcome.PARTIAL} and not usage.known:
            COUNTERS.skipped(SkipReason.USAGE_UNKNOWN)
            _log_once(
                SkipReason.USAGE_UNKNOWN,
                f"token usage of a {name!r} call is unknown (stream ended before its usage report, or the provider "
                "omitted a count): no event sent, counted in mosaicstack_telemetry.llm.stats()",
            )
            return CallResult(
                event=None,
                skipped=SkipReason.USAGE_UNKNOWN,
                outcome=outcome,
                model=name,
                provider=served_by,
                usage=usage,
                cost=Cost(0, CostStatus.NONE),
                incomplete=incomplete,
            )
        pricer = options.get_pricer()
        if usage.input_tokens is None and usage.output_tokens is None and usage.cost_usd_micros is None:
            cost = Cost(0, CostStatus.NONE)
        else:
            cost = pricer.price(name, usage, provider=served_by.value)
        estimated_cost = 0
        estimated = options.estimated_input_tokens or options.estimated_output_tokens
        if estimated and cost.status in {CostStatus.TABLE, CostStatus.OVERRIDE}:  # priced by the same table
            found = pricer.lookup(name)
            estimate = Usage(input_tokens=options.estimated_input_tokens, output_tokens=options.estimated_output_tokens)
            estimated_cost = found[0].cost_micros(estimate) if found else 0
        task_type, complexity = self._task()
        clamp = _Clamp()
        event = (
            EventBuilder(instance_id=options.telemetry.config.instance_id)
            .task_type(task_type)
            .complexity_level(complexity)
            .harness_type(options.harness)
            .model(clamp.model(name))
            .provider(served_by)
            .duration_ms(clamp(duration_ms, _MAX_DURATION_MS))
            .outcome_value(outcome)
            .language(options.language)
            .tokens(
                estimated_in=clamp(options.estimated_input_tokens, _MAX_TOKENS),
                estimated_out=clamp(options.estimated_output_tokens, _MAX_TOKENS),
                actual_in=clamp(usage.input_tokens or 0, _MAX_TOKENS),
                actual_out=clamp(usage.output_tokens or 0, _MAX_TOKENS),
            )
            .cost(estimated=clamp(estimated_cost, _MAX_COST), actual=clamp(cost.micros, _MAX_COST))
            .quality(passed=outcome is Outcome.SUCCESS)
            .build()
        )
        options.telemetry.track(event)
        COUNTERS.event(failure=outcome is Outcome.FAILURE, clamped=clamp.clamped)
        return CallResult(
            event=event,
            skipped=None,
            outcome=outcome,
            model=name,
            provider=served_by,
            usage=usage,
            cost=cost,
            incomplete=incomplete,
        )

    def _task(self) -> tuple[TaskType, Complexity]:
        options, hint = self.options, self._hint
        complexity = options.complexity or (hint.complexity if hint else None) or Complexity.MEDIUM
        task_type = options.task_type or (hint.task_type if hint else None)
        if task_type is None:
            prompt = system_prompt(self._request) if self._request else None
            task_type = infer_task_type(embeddings=self.embeddings, system_prompt=prompt)
        return task_type, complexity


def failure_outcome(error: BaseException) -> Outcome:
    """``timeout`` for a timeout (the SDKs' ``APITimeoutError``, ``TimeoutError``), else ``failure``."""
    if isinstance(error, TimeoutError) or "Timeout" in type(error).__name__:
        return Outcome.TIMEOUT
    return Outcome.FAILURE


def recording(record: CallRecord) -> _Recording:
    """A context manager around the call itself: if the call raises, ``record`` ends (an ``Exception`` as a
    ``failure`` or ``timeout`` with unknown usage, anything else as :meth:`~CallRecord.cancelled`) and the exception
    propagates unchanged. On a normal exit the record stays open for what the call returned."""
    return _Recording(record)


class _Recording:
    __slots__ = ("_record",)

    def __init__(self, record: CallRecord) -> None:
        self._record = record

    def __enter__(self) -> CallRecord:
        return self._record

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if exc is None:
            return
        if isinstance(exc, Exception):
            self._record.finish(None, outcome=failure_outcome(exc))
        else:
            self._record.cancelled()


class _Clamp:
    """Clamps values into the schema's ranges, remembering whether it had to."""

    __slots__ = ("clamped",)

    def __init__(self) -> None:
        self.clamped = False

    def __call__(self, value: int, maximum: int) -> int:
        if 0 <= value <= maximum:
            return value
        self.clamped = True
        return min(max(value, 0), maximum)

    def model(self, name: str) -> str:
        if len(name) <= _MAX_MODEL:
            return name
        self.clamped = True
        return name[:_MAX_MODEL]


_logged: set[str] = set()


def _log_once(key: str, message: str, *, exc_info: bool = False) -> None:
    if key in _logged:
        return
    _logged.add(key)
    logger.warning("mosaicstack-telemetry: %s", message, exc_info=exc_info)
