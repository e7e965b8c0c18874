"""Per-protocol stream observers: O(1) state, updated chunk by chunk, read once when the stream ends.

Each observer looks at as little as possible per chunk (one field for most chunks) and keeps only the latest usage
report — never the chunks — so memory stays constant however long the stream. The first chunk decides which
protocol a stream speaks (:func:`observer_for`), by shape:

* Anthropic raw events (``type`` ``message_start``/``message_delta``/…): ``message_start`` carries the input and
  cache counts and a placeholder output count (ignored), each ``message_delta`` a *cumulative* usage: every non-null
  field overwrites, nothing is summed. Ended before a ``message_delta``, the output is unknown.
* OpenAI Chat chunks (``choices``): usage only on an extra last chunk whose ``choices`` is empty. When the
  instrumentation asked for it itself (``include_usage`` injected), that chunk is consumed, not passed on: the
  caller's ``chunk.choices[0]`` keeps working.
* OpenAI Responses events (``type`` ``response.*``): usage only on ``response.completed`` / ``incomplete`` /
  ``failed``.
* Ollama chunks (``done``): the counts are on the ``done=True`` chunk.
"""

from __future__ import annotations

from typing import Any

from ..enums import Outcome
from ._access import get
from .usage import UNKNOWN, Usage, normalize_usage

__all__ = ["Observer", "observer_for"]


class Observer:
    """Base: sees nothing. ``observe`` returns ``True`` to consume a chunk instead of passing it on."""

    __slots__ = ("complete", "model", "outcome")

    def __init__(self) -> None:
        self.model: str | None = None
        #: the provider's final usage report arrived
        self.complete = False
        #: the outcome the stream itself reported (Responses ``failed``/``incomplete``), if any
        self.outcome: Outcome | None = None

    def observe(self, chunk: Any) -> bool:
        return False

    def usage(self) -> Usage:
        return UNKNOWN


_ANTHROPIC_FIELDS = ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
#: ``message_start``'s ``output_tokens`` is a placeholder (1, or a few), not a count: the output is known only once a
#: ``message_delta`` reports it (the model may have produced hundreds of tokens before an early close)
_START_FIELDS = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")


class AnthropicObserver(Observer):
    __slots__ = ("_breakdown", "_counts", "_thinking")

    def __init__(self) -> None:
        super().__init__()
        self._counts: dict[str, Any] = {}
        self._breakdown: Any = None
        self._thinking: Any = None

    def observe(self, chunk: Any) -> bool:
        kind = get(chunk, "type")
        if kind == "message_delta":
            self._merge(get(chunk, "usage"))
            if get(get(chunk, "delta"), "stop_reason") is not None:
                self.complete = True
        elif kind == "message_start":
            message = get(chunk, "message")
            self.model = get(message, "model")
            self._merge(get(message, "usage"), _START_FIELDS)
        return False

    def _merge(self, usage: Any, names: tuple[str, ...] = _ANTHROPIC_FIELDS) -> None:
        """Overwrite every field this report carries: the counts are cumulative."""
        counts = self._counts
        for name in names:
            value = get(usage, name)
            if value is not None:
                counts[name] = value
        breakdown = get(usage, "cache_creation")
        if breakdown is not None:
            self._breakdown = breakdown
        details = get(usage, "output_tokens_details")
        if details is not None:
            self._thinking = details

    def usage(self) -> Usage:
        if not self._counts:
            return UNKNOWN
        thinking = self._thinking if "output_tokens" in self._counts else None  # no output count, no subset of it
        report = dict(self._counts, cache_creation=self._breakdown, output_tokens_details=thinking)
        return normalize_usage({"usage": report})


class ChatObserver(Observer):
    __slots__ = ("_consume", "_usage")

    def __init__(self, *, consume_usage_chunk: bool) -> None:
        super().__init__()
        self._consume = consume_usage_chunk
        self._usage: Any = None

    def observe(self, chunk: Any) -> bool:
        usage = get(chunk, "usage")
        if usage is None:
            return False
        self._usage = usage
        self.complete = True
        return self._consume and not get(chunk, "choices")

    def usage(self) -> Usage:
        return UNKNOWN if self._usage is None else normalize_usage({"usage": self._usage})


_RESPONSES_FINAL = {
    "response.completed": Outcome.SUCCESS,
    "response.incomplete": Outcome.PARTIAL,
    "response.failed": Outcome.FAILURE,
}


class ResponsesObserver(Observer):
    __slots__ = ("_response",)

    def __init__(self) -> None:
        super().__init__()
        self._response: Any = None

    def observe(self, chunk: Any) -> bool:
        kind = get(chunk, "type")
        outcome = _RESPONSES_FINAL.get(kind)
        if outcome is not None:
            self._response = get(chunk, "response")
            self.model = get(self._response, "model") or self.model
            self.outcome = outcome
            self.complete = True
        elif kind == "response.created":
            self.model = get(get(chunk, "response"), "model")
        return False

    def usage(self) -> Usage:
        return UNKNOWN if self._response is None else normalize_usage(self._response)


class OllamaObserver(Observer):
    __slots__ = ("_final",)

    def __init__(self) -> None:
        super().__init__()
        self._final: Any = None

    def observe(self, chunk: Any) -> bool:
        if get(chunk, "done"):
            self._final = chunk
            self.complete = True
        return False

    def usage(self) -> Usage:
        return UNKNOWN if self._final is None else normalize_usage(self._final)


def observer_for(chunk: Any, *, consume_usage_chunk: bool = False) -> Observer:
    """The observer for the protocol ``chunk`` (a stream's first) speaks; a do-nothing one if unrecognised."""
    kind = get(chunk, "type")
    observer: Observer
    if isinstance(kind, str):
        observer = ResponsesObserver() if kind.startswith("response.") else AnthropicObserver()
    elif get(chunk, "choices") is not None:
        observer = ChatObserver(consume_usage_chunk=consume_usage_chunk)
    elif get(chunk, "done") is not None:
        observer = OllamaObserver()
    else:
        return Observer()
    observer.model = get(chunk, "model")
    return observer
