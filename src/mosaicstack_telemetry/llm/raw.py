"""The SDKs' ``with_raw_response`` variants: the raw response goes back to the caller as is, and the call is reported.

``client.chat.completions.with_raw_response.create(...)`` (and the same on ``responses``, ``embeddings``, Anthropic's
``messages``) calls the patched method, which gets a raw response object instead of the parsed one: openai's
``LegacyAPIResponse`` (``parse()`` sync even on async clients), anthropic's ``APIResponse`` / ``AsyncAPIResponse``
(``parse()`` a coroutine on async clients). Its body has been read already, and the SDK caches what ``parse()``
returns, so parsing it here costs the caller nothing more:

* a response: parsed now and reported; the caller's ``parse()`` returns the same (cached) object;
* a stream: ``parse()`` makes the SDK's stream without reading anything; it is wrapped, and the raw response's
  ``parse()`` (an instance attribute: the SDK's class and other responses are untouched) returns the wrapped one.

``with_streaming_response`` (header value ``stream``: the body is not read yet) is left alone: such a call is
counted ``usage_unknown``, and no ``include_usage`` is added to its request (nothing would consume the extra chunk).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any

from ..enums import Outcome
from .recorder import CallRecord
from .settle import settle

__all__ = ["is_raw", "report_raw", "report_raw_async", "streamed_raw"]

_RAW_TYPES = frozenset({"LegacyAPIResponse", "APIResponse", "AsyncAPIResponse"})
_RAW_HEADER = "X-Stainless-Raw-Response"

#: wraps a parsed stream for the record (the ``create`` wrapper's own stream handling)
WrapStream = Callable[[Any], Any]


def is_raw(result: Any) -> bool:
    """A raw response whose body has been read (``with_raw_response``), not a streamed one."""
    if type(result).__name__ not in _RAW_TYPES:
        return False
    try:
        mode = result.http_response.request.headers.get(_RAW_HEADER)
    except Exception:
        return False
    return isinstance(mode, str) and mode != "stream"


def streamed_raw(kwargs: Mapping[str, Any]) -> bool:
    """The call's arguments ask for a ``with_streaming_response`` (its body read by the caller, later)."""
    headers = kwargs.get("extra_headers")
    return isinstance(headers, Mapping) and headers.get(_RAW_HEADER) == "stream"


def report_raw(raw: Any, record: CallRecord, streaming: bool, wrap: WrapStream) -> Any:
    """Report ``raw`` through its sync ``parse()``; returns ``raw``. Never raises."""
    parse = raw.parse
    try:
        parsed = parse()
    except Exception:  # a body the SDK cannot parse: the caller will see why; the usage is unknown
        record.finish(None, outcome=Outcome.SUCCESS)
        return raw
    if not streaming:
        settle(record, parsed)
        return raw
    stream = wrap(parsed)

    @functools.wraps(parse)
    def parse_instrumented(*, to: Any = None) -> Any:
        return stream if to is None else parse(to=to)

    _hand_out(raw, parse_instrumented, record)
    return raw


async def report_raw_async(raw: Any, record: CallRecord, streaming: bool, wrap: WrapStream) -> Any:
    """:func:`report_raw` for a raw response of an async client (its ``parse()`` may be a coroutine)."""
    parse = raw.parse
    if not inspect.iscoroutinefunction(parse):
        return report_raw(raw, record, streaming, wrap)
    try:
        parsed = await parse()
    except Exception:
        record.finish(None, outcome=Outcome.SUCCESS)
        return raw
    except BaseException:
        record.cancelled()
        raise
    if not streaming:
        settle(record, parsed)
        return raw
    stream = wrap(parsed)

    @functools.wraps(parse)
    async def parse_instrumented(*, to: Any = None) -> Any:
        return stream if to is None else await parse(to=to)

    _hand_out(raw, parse_instrumented, record)
    return raw


def _hand_out(raw: Any, parse: Callable[..., Any], record: CallRecord) -> None:
    try:
        raw.parse = parse
    except Exception:  # a response type that refuses attributes: the wrapped stream cannot be handed out
        record.finish(None, outcome=Outcome.SUCCESS)
