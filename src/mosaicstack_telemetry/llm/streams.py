"""Stream wrappers: every chunk passes through unchanged, and the call is reported exactly once when it ends.

A stream ends by exhaustion, by an error, by ``break`` followed by ``close()`` / leaving a ``with`` block, or by
being garbage-collected: each path calls the record's ``finish`` (which acts once). The wrappers keep one observer
(:mod:`.observers`) and no chunks: O(1) memory. Attributes they do not define (``response``, ``text_stream``…) are
read from the wrapped stream.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from types import TracebackType
from typing import Any, Generic, TypeVar

from ..enums import Outcome
from .observers import Observer, observer_for
from .recorder import CallRecord, CallResult, failure_outcome
from .usage import normalize_usage

__all__ = ["InstrumentedAsyncStream", "InstrumentedStream"]

T = TypeVar("T")


class _Base:
    __slots__ = ("__weakref__", "_consume", "_observer", "_record", "_stream")

    def __init__(self, stream: Any, record: CallRecord, *, consume_usage_chunk: bool = False) -> None:
        self._stream = stream
        self._record = record
        self._consume = consume_usage_chunk
        self._observer: Observer | None = None

    @property
    def result(self) -> CallResult | None:
        """What was reported, once the stream has ended (``None`` before, or after an internal error)."""
        return self._record.result

    def _first(self, chunk: Any) -> Observer:
        observer = self._observer = observer_for(chunk, consume_usage_chunk=self._consume)
        return observer

    def _observe(self, chunk: Any) -> bool:
        """Update the observer; ``True`` to consume the chunk. Never raises (a failure stops observing)."""
        try:
            observer = self._observer or self._first(chunk)
            return observer.observe(chunk)
        except Exception:
            self._observer = Observer()
            return False

    def _end(self, error: BaseException | None) -> None:
        """Report the call: exhausted (``error`` None, not early), failed, cancelled or abandoned early."""
        record = self._record
        if record.done:
            return
        observer = self._observer or Observer()
        try:
            usage = observer.usage()
        except Exception:
            usage = normalize_usage(None)
        if error is not None and not isinstance(error, Exception) and not usage.known:
            record.cancelled()
            return
        if isinstance(error, Exception):
            outcome = failure_outcome(error)
        elif observer.outcome is not None:
            outcome = observer.outcome
        elif observer.complete:
            outcome = Outcome.SUCCESS
        else:
            outcome = Outcome.PARTIAL
        record.finish(usage, outcome=outcome, model=observer.model, incomplete=not observer.complete)

    def end_with(self, exc: BaseException | None) -> None:
        """Report now, as the block that owns the stream exits with ``exc``: a stream that got its final usage report
        succeeded whatever the block raised; an incomplete one failed (an ``Exception``), was cancelled, or ended
        early."""
        observer = self._observer
        self._end(None if observer is not None and observer.complete else exc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def __del__(self) -> None:
        try:
            if not self._record.done:
                self._end(None)
        except Exception:  # noqa: S110 - nothing may escape a finalizer
            pass


class InstrumentedStream(_Base, Generic[T]):
    """A sync stream (SDK ``Stream``, Ollama generator, any iterator) that reports the call when it ends."""

    __slots__ = ("_iterator",)

    def __init__(self, stream: Any, record: CallRecord, *, consume_usage_chunk: bool = False) -> None:
        super().__init__(stream, record, consume_usage_chunk=consume_usage_chunk)
        self._iterator: Iterator[T] = iter(stream)

    def __iter__(self) -> InstrumentedStream[T]:
        return self

    def __next__(self) -> T:
        try:
            chunk = next(self._iterator)
        except StopIteration:
            self._end(None)
            raise
        except BaseException as error:
            self._end(error)
            raise
        if self._observe(chunk):
            return self.__next__()
        return chunk

    def close(self) -> None:
        """Report the call now (if the stream has not ended) and close the wrapped stream."""
        self._end(None)
        iterator_close = getattr(self._iterator, "close", None)
        if iterator_close is not None:
            iterator_close()
        close = getattr(self._stream, "close", None)
        if close is not None and self._stream is not self._iterator:
            close()

    def __enter__(self) -> InstrumentedStream[T]:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


class InstrumentedAsyncStream(_Base, Generic[T]):
    """An async stream (SDK ``AsyncStream``, Ollama async generator, any async iterator), reported when it ends."""

    __slots__ = ("_iterator",)

    def __init__(self, stream: Any, record: CallRecord, *, consume_usage_chunk: bool = False) -> None:
        super().__init__(stream, record, consume_usage_chunk=consume_usage_chunk)
        # an async iterator is used as is: the SDKs' __aiter__ adds an async generator that would need closing too
        self._iterator: AsyncIterator[T] = stream if hasattr(stream, "__anext__") else stream.__aiter__()

    def __aiter__(self) -> InstrumentedAsyncStream[T]:
        return self

    async def __anext__(self) -> T:
        while True:
            try:
                chunk = await self._iterator.__anext__()
            except StopAsyncIteration:
                self._end(None)
                raise
            except BaseException as error:
                self._end(error)
                raise
            if not self._observe(chunk):
                return chunk

    async def aclose(self) -> None:
        """Report the call now (if the stream has not ended) and close the wrapped stream."""
        self._end(None)
        iterator_close = getattr(self._iterator, "aclose", None)  # the SDKs' __aiter__ is an async generator
        if iterator_close is not None:
            await iterator_close()
        close = getattr(self._stream, "close", None) or getattr(self._stream, "aclose", None)
        if close is not None and self._stream is not self._iterator:
            await close()

    close = aclose  # the SDKs' async streams call it ``close()``

    async def __aenter__(self) -> InstrumentedAsyncStream[T]:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.aclose()
