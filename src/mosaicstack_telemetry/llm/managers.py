"""Stream-manager wrappers: the SDK helpers used as ``with client.….stream(...) as stream:``, reported once at exit.

* anthropic ``messages.stream()``: the helper accumulates usage itself; its snapshot is read when the block exits.
  Until the final ``message_delta`` (which sets ``stop_reason``) the snapshot's output count is ``message_start``'s
  placeholder, so the output is unknown.
* openai ``responses.stream()`` and ``chat.completions.stream()``: each helper makes its request through the
  resource's ``create(stream=True)``, which :func:`~mosaicstack_telemetry.llm.instrument` already wraps; the wrapper
  here only *collects* the instrumented stream that call returns (:func:`adopt`) and ends it when the block exits,
  so a block left early is reported then, not whenever the stream is garbage-collected. One call, one record.

The ``with`` block yields the SDK's own stream object, untouched.
"""

from __future__ import annotations

from contextvars import ContextVar
from types import TracebackType
from typing import Any, TypeAlias

import attrs

from ..enums import Outcome
from .recorder import CallRecord, CallResult, failure_outcome, recording
from .streams import InstrumentedAsyncStream, InstrumentedStream
from .usage import normalize_usage

__all__ = [
    "AsyncHelperStreamManager",
    "AsyncMessageStreamManager",
    "HelperStreamManager",
    "MessageStreamManager",
    "adopt",
]

Instrumented: TypeAlias = "InstrumentedStream[Any] | InstrumentedAsyncStream[Any]"

#: set while an OpenAI stream helper's manager is being entered: the instrumented streams created meanwhile are its own
_COLLECTED: ContextVar[list[Instrumented] | None] = ContextVar("mosaicstack_telemetry_llm_collected", default=None)


def adopt(stream: Instrumented) -> None:
    """Hand ``stream`` to the stream manager being entered, if any (called by the ``create`` wrapper)."""
    collected = _COLLECTED.get()
    if collected is not None:
        collected.append(stream)


def _finish_from_snapshot(record: CallRecord, stream: Any, exc: BaseException | None) -> None:
    """Anthropic's helper accumulates usage correctly itself: read its snapshot (see the module docstring)."""
    try:
        snapshot = stream.current_message_snapshot
    except Exception:  # no message_start yet (the helper asserts)
        snapshot = None
    complete = snapshot is not None and getattr(snapshot, "stop_reason", None) is not None
    usage = normalize_usage(snapshot)
    if not complete and usage.output_tokens is not None:
        usage = attrs.evolve(usage, output_tokens=None, reasoning_tokens=None)
    if exc is not None and not isinstance(exc, Exception) and not usage.known:
        record.cancelled()
        return
    if isinstance(exc, Exception) and not complete:
        outcome = failure_outcome(exc)
    else:
        outcome = Outcome.SUCCESS if complete else Outcome.PARTIAL
    record.finish(usage, outcome=outcome, model=getattr(snapshot, "model", None), incomplete=not complete)


class _Wrapper:
    """Wraps an SDK stream manager; :meth:`_end` reports the call once the SDK's manager has exited."""

    __slots__ = ("_manager",)

    def __init__(self, manager: Any) -> None:
        self._manager = manager

    def _end(self, exc: BaseException | None) -> None:
        raise NotImplementedError


class _Exits(_Wrapper):
    __slots__ = ()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> Any:
        try:
            return self._manager.__exit__(exc_type, exc, traceback)
        finally:
            self._end(exc)


class _AsyncExits(_Wrapper):
    __slots__ = ()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> Any:
        try:
            return await self._manager.__aexit__(exc_type, exc, traceback)
        finally:
            self._end(exc)


class _Snapshotting(_Wrapper):
    """Anthropic's managers: one record, reported from the helper's own snapshot."""

    __slots__ = ("_record", "_stream")

    def __init__(self, manager: Any, record: CallRecord) -> None:
        super().__init__(manager)
        self._record = record
        self._stream: Any = None

    @property
    def result(self) -> CallResult | None:
        return self._record.result

    def _end(self, exc: BaseException | None) -> None:
        _finish_from_snapshot(self._record, self._stream, exc)


class MessageStreamManager(_Snapshotting, _Exits):
    """Wraps anthropic's ``MessageStreamManager``: ``with`` yields the SDK's own ``MessageStream``, untouched."""

    __slots__ = ()

    def __enter__(self) -> Any:
        with recording(self._record):
            self._stream = self._manager.__enter__()
        return self._stream


class AsyncMessageStreamManager(_Snapshotting, _AsyncExits):
    """Wraps anthropic's ``AsyncMessageStreamManager`` (``async with``), like :class:`MessageStreamManager`."""

    __slots__ = ()

    async def __aenter__(self) -> Any:
        with recording(self._record):
            self._stream = await self._manager.__aenter__()
        return self._stream


class _Collecting(_Wrapper):
    """OpenAI's helpers: the instrumented streams their request made, ended when the block exits."""

    __slots__ = ("_streams",)

    def __init__(self, manager: Any) -> None:
        super().__init__(manager)
        self._streams: list[Instrumented] = []

    @property
    def result(self) -> CallResult | None:
        """What was reported for the call the block made, once it has exited (``None`` before)."""
        return self._streams[0].result if self._streams else None

    def _end(self, exc: BaseException | None) -> None:
        for stream in self._streams:
            stream.end_with(exc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._manager, name)


class HelperStreamManager(_Collecting, _Exits):
    """Wraps openai's ``ResponseStreamManager`` / ``ChatCompletionStreamManager``: ``with`` yields the SDK's own
    stream helper, untouched."""

    __slots__ = ()

    def __enter__(self) -> Any:
        token = _COLLECTED.set(self._streams)
        try:
            return self._manager.__enter__()
        finally:
            _COLLECTED.reset(token)


class AsyncHelperStreamManager(_Collecting, _AsyncExits):
    """Wraps openai's ``AsyncResponseStreamManager`` / ``AsyncChatCompletionStreamManager`` (``async with``), like
    :class:`HelperStreamManager`."""

    __slots__ = ()

    async def __aenter__(self) -> Any:
        token = _COLLECTED.set(self._streams)
        try:
            return await self._manager.__aenter__()
        finally:
            _COLLECTED.reset(token)
