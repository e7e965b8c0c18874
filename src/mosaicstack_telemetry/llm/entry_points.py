"""Entry points around code you write: a context manager, a decorator (sync and async) and stream wrappers.

Each times the call, reads its usage, prices it and ``track()``s one event through the telemetry client. None of
them raises into the caller's code or waits on anything. An exception from the call is recorded (outcome ``failure``,
or ``timeout``) and re-raised unchanged. Settings are validated where they are written (a bad enum value raises
``ValueError`` when :func:`llm_call`, :func:`track_llm` or a stream wrapper is called), never during a call.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, ParamSpec, TypeVar

from ..enums import Complexity, Harness, Outcome, Provider, TaskType
from .managers import (
    AsyncHelperStreamManager,
    AsyncMessageStreamManager,
    HelperStreamManager,
    MessageStreamManager,
)
from .pricing import Pricer
from .recorder import CallRecord, CallResult, Options, Telemetry, failure_outcome, recording
from .settle import settle
from .streams import InstrumentedAsyncStream, InstrumentedStream
from .usage import Usage, normalize_usage

__all__ = ["LlmCall", "llm_call", "result_of", "track_llm", "wrap_async_stream", "wrap_stream"]

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


class LlmCall:
    """The context manager :func:`llm_call` returns (sync ``with`` and ``async with`` alike).

    Inside the block, hand it what the call returned with :meth:`record` (a response), :meth:`record_usage` (counts
    you have), or :meth:`wrap_stream` / :meth:`wrap_async_stream` (a stream, reported when it ends). Leaving the
    block reports the call; an exception leaving it is recorded as a failure and propagates unchanged.
    """

    __slots__ = ("_model", "_record", "_response", "_streamed", "_usage")

    def __init__(self, record: CallRecord) -> None:
        self._record = record
        self._response: Any = None
        self._usage: Usage | None = None
        self._model: str | None = None
        self._streamed = False

    @property
    def result(self) -> CallResult | None:
        """What was reported, once the call has ended."""
        return self._record.result

    def record(self, response: T) -> T:
        """The call's response (SDK object or dict); returned unchanged."""
        self._response = response
        return response

    def record_usage(self, usage: Usage, *, model: str | None = None) -> None:
        """Usage you read yourself (see :class:`~mosaicstack_telemetry.llm.Usage` for the meaning)."""
        self._usage = usage
        self._model = model

    def wrap_stream(self, stream: Any) -> InstrumentedStream[Any]:
        """Wrap a sync stream: the call is reported when the stream ends, not when the block ends."""
        self._streamed = True
        return InstrumentedStream(stream, self._record)

    def wrap_async_stream(self, stream: Any) -> InstrumentedAsyncStream[Any]:
        """Wrap an async stream: the call is reported when the stream ends, not when the block ends."""
        self._streamed = True
        return InstrumentedAsyncStream(stream, self._record)

    def __enter__(self) -> LlmCall:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        record = self._record
        if exc is not None and not self._streamed:
            if isinstance(exc, Exception):
                usage = self._usage or (normalize_usage(self._response) if self._response is not None else None)
                record.finish(usage, outcome=failure_outcome(exc), model=self._model)
            else:
                record.cancelled()
        elif self._streamed:
            return
        elif self._usage is not None:
            record.finish(self._usage, outcome=Outcome.SUCCESS, model=self._model)
        elif self._response is not None:
            settle(record, self._response)
        else:
            record.finish(None, outcome=Outcome.SUCCESS)  # nothing recorded: usage unknown, counted

    async def __aenter__(self) -> LlmCall:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.__exit__(exc_type, exc, traceback)


def llm_call(
    telemetry: Telemetry,
    *,
    model: str | None = None,
    provider: Provider | str | None = None,
    task_type: TaskType | str | None = None,
    complexity: Complexity | str | None = None,
    harness: Harness | str = Harness.API_DIRECT,
    pricer: Pricer | None = None,
    language: str | None = None,
    estimated_input_tokens: int = 0,
    estimated_output_tokens: int = 0,
    embeddings: bool = False,
    request: Mapping[str, Any] | None = None,
    on_result: Callable[[CallResult], object] | None = None,
) -> LlmCall:
    """Report the LLM call made inside a ``with`` (or ``async with``) block; the clock starts here.

    :param model: the model asked for (the response's own ``model`` wins when it has one).
    :param provider: who serves it (default: read from the response).
    :param task_type: what the call is for (default: a :func:`task_hint`, else inferred from ``request``).
    :param embeddings: the call is an embeddings call (task type inference; no output tokens).
    :param request: the call's arguments (``system``, ``messages``…) for task-type inference.
    :param estimated_input_tokens: your pre-call estimate (``estimated_*`` fields; the cost estimate is priced too).
    :param on_result: called with the :class:`CallResult` once reported (its exceptions are logged, never raised).
    """
    settings = Options(
        telemetry=telemetry,
        model=model,
        provider=provider,
        task_type=task_type,
        complexity=complexity,
        harness=harness,
        pricer=pricer,
        language=language,
        estimated_input_tokens=estimated_input_tokens,
        estimated_output_tokens=estimated_output_tokens,
        on_result=on_result,
    )
    return LlmCall(CallRecord(settings, request=request, embeddings=embeddings))


def track_llm(telemetry: Telemetry, **settings: Any) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a function (sync or ``async``) that makes one LLM call and returns its response or stream.

    A response is reported when the function returns; a stream (iterator, async iterator, Anthropic's
    ``messages.stream()`` manager) is returned wrapped and reported when it ends. The function's keyword arguments
    serve for task-type inference (``system=``, ``messages=``…). Takes the keyword arguments of :func:`llm_call`
    (but ``request``/``embeddings``: pass ``embeddings`` here for an embeddings function).
    """
    embeddings = bool(settings.pop("embeddings", False))
    shared = Options(telemetry=telemetry, **settings)

    def decorate(func: Callable[P, Any]) -> Callable[P, Any]:
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def run_async(*args: P.args, **kwargs: P.kwargs) -> Any:
                with recording(CallRecord(shared, request=kwargs, embeddings=embeddings)) as record:
                    result = await func(*args, **kwargs)
                return settle(record, result)

            return run_async

        @functools.wraps(func)
        def run(*args: P.args, **kwargs: P.kwargs) -> Any:
            with recording(CallRecord(shared, request=kwargs, embeddings=embeddings)) as record:
                result = func(*args, **kwargs)
            return settle(record, result)

        return run

    return decorate


def wrap_stream(stream: Any, telemetry: Telemetry, **settings: Any) -> InstrumentedStream[Any]:
    """Wrap a sync stream you already have (the clock starts now); takes the keyword arguments of :func:`llm_call`.

    Pass ``include_usage_injected=True`` only if *you* added OpenAI's ``stream_options={"include_usage": True}`` for
    the instrumentation's sake and your code does not expect the extra usage chunk: it is then consumed here.
    """
    record, consume = _stream_record(telemetry, settings)
    return InstrumentedStream(stream, record, consume_usage_chunk=consume)


def wrap_async_stream(stream: Any, telemetry: Telemetry, **settings: Any) -> InstrumentedAsyncStream[Any]:
    """:func:`wrap_stream` for an async stream."""
    record, consume = _stream_record(telemetry, settings)
    return InstrumentedAsyncStream(stream, record, consume_usage_chunk=consume)


def _stream_record(telemetry: Telemetry, settings: dict[str, Any]) -> tuple[CallRecord, bool]:
    """The record for a stream wrapper, and whether it consumes an injected usage chunk."""
    consume = bool(settings.pop("include_usage_injected", False))
    request = settings.pop("request", None)
    embeddings = bool(settings.pop("embeddings", False))
    return CallRecord(Options(telemetry=telemetry, **settings), request=request, embeddings=embeddings), consume


def result_of(wrapped: object) -> CallResult | None:
    """The :class:`CallResult` of an instrumented stream, stream manager or :class:`LlmCall` once it has ended
    (``None`` before, or for anything else). Typed code reads it here: ``instrument()`` keeps the SDK's declared
    return types, which know nothing of ``.result``."""
    result = getattr(wrapped, "result", None) if isinstance(wrapped, _HAS_RESULT) else None
    return result if isinstance(result, CallResult) else None


_HAS_RESULT = (
    LlmCall,
    InstrumentedStream,
    InstrumentedAsyncStream,
    MessageStreamManager,
    AsyncMessageStreamManager,
    HelperStreamManager,
    AsyncHelperStreamManager,
)
