"""``instrument(client, telemetry)``: one line to report every call an Anthropic, OpenAI or Ollama client makes.

The client object is patched in place (its resource objects get instance attributes that shadow the SDK methods;
the SDK's classes and other clients are untouched) and returned. Covered:

* anthropic ``Anthropic`` / ``AsyncAnthropic``: ``messages.create`` (also ``stream=True``) and ``messages.stream``;
* openai ``OpenAI`` / ``AsyncOpenAI``: ``chat.completions.create`` (also ``stream=True``), ``responses.create``
  (also ``stream=True``) and ``embeddings.create``;
* ollama ``Client`` / ``AsyncClient``: ``chat``, ``generate`` (also ``stream=True``) and ``embed``.

For an OpenAI Chat stream the caller did not ask usage for, ``stream_options={"include_usage": True}`` is added
(otherwise the stream carries no usage at all, T4) and the extra usage-only chunk it brings is consumed, so code
written for the plain stream keeps working; ``include_usage=False`` turns that off (such streams then report no
event: their usage is unknown). ``client.with_options(...)`` returns a new, uninstrumented client.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from ..enums import Harness, Outcome
from .instrument import options, settle
from .providers import provider_of_client
from .recorder import CallRecord, Options, Telemetry
from .streams import InstrumentedAsyncStream, InstrumentedStream, failure_outcome

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
    shared = options(telemetry, harness=harness, **{"provider": provider_of_client(client), **settings})
    targets = _targets(client)
    if not targets:
        raise TypeError(f"instrument() supports anthropic, openai and ollama clients, not {type(client).__name__}")
    for owner, name, kind in targets:
        original = getattr(owner, name)
        setattr(owner, name, _wrap(original, shared, kind=kind, include_usage=include_usage))
    setattr(client, _MARK, True)
    return client


def _targets(client: Any) -> list[tuple[Any, str, str]]:
    """``(object, method name, kind)`` for each method to wrap; kind is ``chat``, ``openai_chat``, ``embeddings``
    or ``manager`` (Anthropic's ``messages.stream``)."""
    found: list[tuple[Any, str, str]] = []
    messages = getattr(client, "messages", None)
    if callable(getattr(messages, "create", None)) and callable(getattr(messages, "stream", None)):
        found += [(messages, "create", "chat"), (messages, "stream", "manager")]
    chat = getattr(client, "chat", None)
    completions = getattr(chat, "completions", None)
    if callable(getattr(completions, "create", None)):
        found.append((completions, "create", "openai_chat"))
    responses = getattr(client, "responses", None)
    if callable(getattr(responses, "create", None)):
        found.append((responses, "create", "chat"))
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
        consume = inject and streaming and "stream_options" not in kwargs
        if consume:
            kwargs = {**kwargs, "stream_options": {"include_usage": True}}
        return record, kwargs, streaming, consume

    async def awaited(pending: Awaitable[Any], record: CallRecord, streaming: bool, consume: bool) -> Any:
        try:
            result = await pending
        except Exception as error:
            record.finish(None, outcome=failure_outcome(error))
            raise
        except BaseException:
            record.cancelled()
            raise
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
        try:
            result = original(*args, **kwargs)
        except Exception as error:
            record.finish(None, outcome=failure_outcome(error))
            raise
        except BaseException:
            record.cancelled()
            raise
        if inspect.isawaitable(result):  # an async method that is not a coroutine function (a decorated one)
            return awaited(result, record, streaming, consume)
        return outcome_of(result, record, streaming, consume)

    return call


def outcome_of(result: Any, record: CallRecord, streaming: bool, consume: bool) -> Any:
    """What the caller gets: the response (reported now) or the stream, wrapped. Never raises."""
    if not streaming:
        return settle(record, result)
    try:
        if hasattr(result, "__aiter__"):
            return InstrumentedAsyncStream(result, record, consume_usage_chunk=consume)
        return InstrumentedStream(result, record, consume_usage_chunk=consume)
    except Exception:  # not a stream after all: hand it over untouched
        record.finish(None, outcome=Outcome.SUCCESS)
        return result
