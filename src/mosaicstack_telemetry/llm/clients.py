"""``instrument(client, telemetry)``: one line to report every call an Anthropic, OpenAI or Ollama client makes.

The client object is patched in place (its resource objects get instance attributes that shadow the SDK methods;
the SDK's classes and other clients are untouched) and returned. Covered:

* anthropic ``Anthropic`` / ``AsyncAnthropic``: ``messages.create`` (also ``stream=True``) and ``messages.stream``;
* openai ``OpenAI`` / ``AsyncOpenAI``: ``chat.completions.create`` (also ``stream=True``), ``responses.create``
  (also ``stream=True``), ``responses.stream``, ``chat.completions.stream`` and ``embeddings.create``;
* ollama ``Client`` / ``AsyncClient``: ``chat``, ``generate`` (also ``stream=True``) and ``embed``.

The SDKs' ``with_raw_response`` variants of these methods call the patched ones, so they are covered too (the raw
response is returned as is and reported: :mod:`.raw`).

For an OpenAI Chat stream the caller did not ask usage for, ``stream_options={"include_usage": True}`` is added
(otherwise the stream carries no usage at all) and the extra usage-only chunk it brings is consumed, so code
written for the plain stream keeps working; ``include_usage=False`` turns that off (such streams then report no
event: their usage is unknown). ``client.with_options(...)`` returns a new, uninstrumented client.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from ..enums import Harness, Outcome
from .managers import AsyncHelperStreamManager, HelperStreamManager, adopt
from .providers import provider_of_client
from .raw import is_raw, report_raw, report_raw_async, streamed_raw
from .recorder import CallRecord, Options, Telemetry, recording
from .settle import settle
from .streams import InstrumentedAsyncStream, InstrumentedStream

__all__ = ["instrument"]

C = TypeVar("C")

_MARK = "_mosaicstack_telemetry_instrumented"


def instrument(
    client: C,
    telemetry: Telemetry,
    *,
    include_usage: bool = True,
    harness: Harness | str = Harness.API_DIRECT,
    **settings: Any,
) -> C:
    """Patch ``client`` so that each chat, streaming chat and embeddings call is reported; returns ``client``.

    Takes the keyword arguments of :func:`~mosaicstack_telemetry.llm.llm_call` that apply to every call
    (``task_type``, ``complexity``, ``pricer``, ``language``, ``on_result``…). Instrumenting twice is a no-op.

    :raises TypeError: if ``client`` is not an Anthropic, OpenAI or Ollama client (at setup, never during a call).
    """
    if getattr(client, _MARK, False):
        return client
    shared = Options(telemetry=telemetry, harness=harness, **{"provider": provider_of_client(client), **settings})
    targets = _targets(client)
    if not targets:
        raise TypeError(f"instrument() supports anthropic, openai and ollama clients, not {type(client).__name__}")
    for owner, name, kind in targets:
        original = getattr(owner, name)
        wrapped = (
            _wrap_manager(original)
            if kind == "helper_manager"
            else _wrap(original, shared, kind=kind, include_usage=include_usage)
        )
        setattr(owner, name, wrapped)
        for cached in _RAW_VARIANTS:  # already built around the SDK's method: rebuilt around the patched one on use
            vars(owner).pop(cached, None)
    setattr(client, _MARK, True)
    return client


#: the SDKs' ``cached_property`` variants built from the resource's own methods
_RAW_VARIANTS = ("with_raw_response", "with_streaming_response")


def _targets(client: Any) -> list[tuple[Any, str, str]]:
    """``(object, method name, kind)`` for each method to wrap; kind is ``chat``, ``openai_chat``, ``embeddings``,
    ``manager`` (Anthropic's ``messages.stream``) or ``helper_manager`` (OpenAI's ``responses.stream`` and
    ``chat.completions.stream``, whose requests go through the wrapped ``create``)."""
    found: list[tuple[Any, str, str]] = []
    messages = getattr(client, "messages", None)
    if callable(getattr(messages, "create", None)) and callable(getattr(messages, "stream", None)):
        found += [(messages, "create", "chat"), (messages, "stream", "manager")]
    chat = getattr(client, "chat", None)
    completions = getattr(chat, "completions", None)
    if callable(getattr(completions, "create", None)):
        found.append((completions, "create", "openai_chat"))
        if callable(getattr(completions, "stream", None)):
            found.append((completions, "stream", "helper_manager"))
    responses = getattr(client, "responses", None)
    if callable(getattr(responses, "create", None)):
        found.append((responses, "create", "chat"))
        if callable(getattr(responses, "stream", None)):
            found.append((responses, "stream", "helper_manager"))
    embeddings = getattr(client, "embeddings", None)
    if callable(getattr(embeddings, "create", None)):
        found.append((embeddings, "create", "embeddings"))
    if callable(chat) and callable(getattr(client, "generate", None)) and callable(getattr(client, "embed", None)):
        found += [(client, "chat", "chat"), (client, "generate", "chat"), (client, "embed", "embeddings")]
    return found


def _wrap(original: Callable[..., Any], shared: Options, *, kind: str, include_usage: bool) -> Callable[..., Any]:
    embeddings = kind == "embeddings"
    inject = include_usage and kind == "openai_chat"

    def begin(kwargs: dict[str, Any]) -> tuple[CallRecord, dict[str, Any], bool, bool]:
        record = CallRecord(shared, request=kwargs, embeddings=embeddings)
        streaming = kwargs.get("stream") is True
        asked = kwargs.get("stream_options", _ABSENT)
        consume = inject and streaming and _omitted(asked) and not streamed_raw(kwargs)
        if consume:
            kwargs = {**kwargs, "stream_options": {"include_usage": True}}
        return record, kwargs, streaming, consume

    async def awaited(pending: Awaitable[Any], record: CallRecord, streaming: bool, consume: bool) -> Any:
        with recording(record):
            result = await pending
        if is_raw(result):
            wrap = functools.partial(_stream, record=record, consume=consume)
            return await report_raw_async(result, record, streaming, wrap)
        return outcome_of(result, record, streaming, consume)

    if inspect.iscoroutinefunction(original):

        @functools.wraps(original)
        async def call_async(*args: Any, **kwargs: Any) -> Any:
            record, kwargs, streaming, consume = begin(kwargs)
            return await awaited(original(*args, **kwargs), record, streaming, consume)

        return call_async

    @functools.wraps(original)
    def call(*args: Any, **kwargs: Any) -> Any:
        record, kwargs, streaming, consume = begin(kwargs)
        with recording(record):
            result = original(*args, **kwargs)
        if inspect.isawaitable(result):  # an async method that is not a coroutine function (a decorated one)
            return awaited(result, record, streaming, consume)
        return outcome_of(result, record, streaming, consume)

    return call


_ABSENT: Any = object()


def _omitted(value: Any) -> bool:
    """An argument the caller did not give: absent, or the SDK's own "not given" marker (``chat.completions.stream``
    passes ``stream_options=omit`` on to ``create``)."""
    return value is _ABSENT or type(value).__name__ in {"Omit", "NotGiven"}


def _wrap_manager(original: Callable[..., Any]) -> Callable[..., Any]:
    """``responses.stream`` / ``chat.completions.stream``: the manager they return makes its request through the
    patched ``create``."""

    @functools.wraps(original)
    def stream(*args: Any, **kwargs: Any) -> Any:
        manager = original(*args, **kwargs)
        if hasattr(manager, "__aenter__"):
            return AsyncHelperStreamManager(manager)
        return HelperStreamManager(manager)

    return stream


def outcome_of(result: Any, record: CallRecord, streaming: bool, consume: bool) -> Any:
    """What the caller gets: the response (reported now), the stream (wrapped) or a raw response (reported, see
    :mod:`.raw`). Never raises."""
    if is_raw(result):
        return report_raw(result, record, streaming, functools.partial(_stream, record=record, consume=consume))
    if not streaming:
        return settle(record, result)
    return _stream(result, record=record, consume=consume)


def _stream(result: Any, *, record: CallRecord, consume: bool) -> Any:
    try:
        stream: InstrumentedStream[Any] | InstrumentedAsyncStream[Any]
        if hasattr(result, "__aiter__"):
            stream = InstrumentedAsyncStream(result, record, consume_usage_chunk=consume)
        else:
            stream = InstrumentedStream(result, record, consume_usage_chunk=consume)
    except Exception:  # not a stream after all: hand it over untouched
        record.finish(None, outcome=Outcome.SUCCESS)
        return result
    adopt(stream)
    return stream
