"""One meaning for token usage, whatever the provider called it.

* ``input_tokens``: every token billed as input, **cached included**. Anthropic reports its cache buckets *beside*
  ``input_tokens`` (they are added); OpenAI reports cached tokens *inside* ``prompt_tokens`` (taken unchanged).
  This is what OpenTelemetry's ``gen_ai.usage.input_tokens`` means too.
* ``output_tokens``: every token billed as output, **reasoning/thinking included** (taken unchanged).
* ``cache_read_tokens``, ``cache_write_tokens`` (of which ``cache_write_1h_tokens`` at the 1-hour rate) are
  subsets of ``input_tokens``; ``reasoning_tokens`` is a subset of ``output_tokens``. The pricer charges
  ``input − cache_read − cache_write`` at the base rate and the subsets at their own rates: nothing twice.
* A count the provider did not send is ``None`` (unknown), never 0. Embeddings have a known output of 0.
* ``cost_usd_micros``: a cost the provider reported itself (OpenRouter's ``usage.cost``), which wins over any table.

:func:`normalize_usage` dispatches on the object's *shape*, not on who sent it: an OpenAI-compatible server
answering in the Chat Completions shape is read as such.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import attrs

from ._access import get, get_int

__all__ = ["Usage", "normalize_usage"]


@attrs.frozen(kw_only=True)
class Usage:
    """Token counts of one LLM call, in the one meaning described in this module."""

    #: every token billed as input, cached included; ``None`` if unknown
    input_tokens: int | None
    #: every token billed as output, reasoning included; ``None`` if unknown
    output_tokens: int | None
    #: subset of ``input_tokens`` read from the prompt cache
    cache_read_tokens: int = 0
    #: subset of ``input_tokens`` written to the prompt cache (5-minute and 1-hour writes together)
    cache_write_tokens: int = 0
    #: subset of ``cache_write_tokens`` written with the 1-hour TTL (Anthropic), charged at its own rate
    cache_write_1h_tokens: int = 0
    #: subset of ``output_tokens`` spent on reasoning/thinking, when reported
    reasoning_tokens: int | None = None
    #: the cost the provider reported itself (OpenRouter ``usage.cost``), in microdollars
    cost_usd_micros: int | None = None

    @property
    def known(self) -> bool:
        """Both totals are known: the call can be reported."""
        return self.input_tokens is not None and self.output_tokens is not None


#: no usage at all (a response without it, a stream that ended before it came)
UNKNOWN = Usage(input_tokens=None, output_tokens=None)


def normalize_usage(response: Any) -> Usage:
    """The :class:`Usage` of a response, a usage object, or a final stream chunk — SDK object or plain dict.

    Shapes read: Anthropic Messages (``usage.input_tokens`` + ``cache_*_input_tokens`` beside it), OpenAI Chat
    Completions and embeddings (``usage.prompt_tokens``), OpenAI Responses (``usage.input_tokens`` with
    ``input_tokens_details``), Ollama chat/generate/embed (``prompt_eval_count``/``eval_count`` on the response).
    Anything else is :data:`UNKNOWN`. Never raises on odd input.
    """
    usage = get(response, "usage")
    if usage is None:
        if _is_usage_itself(response):
            usage = response
        else:
            return _ollama(response)
    if get(usage, "prompt_tokens") is not None:
        return _openai_chat(usage)
    if get(usage, "input_tokens_details") is not None:
        return _openai_responses(usage)
    if get(usage, "input_tokens") is not None or get(usage, "output_tokens") is not None:
        return _anthropic(usage)
    return UNKNOWN


def _is_usage_itself(obj: Any) -> bool:
    return get(obj, "prompt_tokens") is not None or get(obj, "input_tokens") is not None


def _anthropic(usage: Any) -> Usage:
    """Anthropic: cache creation and cache reads are *beside* ``input_tokens``, so the total adds them."""
    base = get_int(usage, "input_tokens")
    cache_write = get_int(usage, "cache_creation_input_tokens") or 0
    cache_read = get_int(usage, "cache_read_input_tokens") or 0
    breakdown = get(usage, "cache_creation")
    write_1h = get_int(breakdown, "ephemeral_1h_input_tokens") or 0
    details = get(usage, "output_tokens_details")
    return Usage(
        input_tokens=None if base is None else base + cache_write + cache_read,
        output_tokens=get_int(usage, "output_tokens"),
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        cache_write_1h_tokens=min(write_1h, cache_write),
        reasoning_tokens=get_int(details, "thinking_tokens"),
        cost_usd_micros=_reported_cost(usage),
    )


def _openai_chat(usage: Any) -> Usage:
    """OpenAI Chat Completions and embeddings: cached tokens are *inside* ``prompt_tokens``; embeddings have no
    ``completion_tokens`` and produce no output tokens."""
    prompt_details = get(usage, "prompt_tokens_details")
    completion_details = get(usage, "completion_tokens_details")
    output = get_int(usage, "completion_tokens")
    if output is None and get(usage, "completion_tokens") is None and get(usage, "total_tokens") is not None:
        output = 0  # the embeddings shape: prompt_tokens and total_tokens only
    return Usage(
        input_tokens=get_int(usage, "prompt_tokens"),
        output_tokens=output,
        cache_read_tokens=get_int(prompt_details, "cached_tokens") or 0,
        cache_write_tokens=get_int(prompt_details, "cache_write_tokens") or 0,
        reasoning_tokens=get_int(completion_details, "reasoning_tokens"),
        cost_usd_micros=_reported_cost(usage),
    )


def _openai_responses(usage: Any) -> Usage:
    """OpenAI Responses: ``input_tokens`` includes cached tokens, like Chat's ``prompt_tokens``."""
    input_details = get(usage, "input_tokens_details")
    output_details = get(usage, "output_tokens_details")
    return Usage(
        input_tokens=get_int(usage, "input_tokens"),
        output_tokens=get_int(usage, "output_tokens"),
        cache_read_tokens=get_int(input_details, "cached_tokens") or 0,
        cache_write_tokens=get_int(input_details, "cache_write_tokens") or 0,
        reasoning_tokens=get_int(output_details, "reasoning_tokens"),
        cost_usd_micros=_reported_cost(usage),
    )


def _ollama(response: Any) -> Usage:
    """Ollama: counts ride on the response (or the ``done`` chunk). An absent ``prompt_eval_count`` — a cached
    prompt — is unknown, not 0. An embed response has no output."""
    if get(response, "embeddings") is not None:
        return Usage(input_tokens=get_int(response, "prompt_eval_count"), output_tokens=0)
    return Usage(
        input_tokens=get_int(response, "prompt_eval_count"),
        output_tokens=get_int(response, "eval_count"),
    )


def _reported_cost(usage: Any) -> int | None:
    """A provider-reported cost in USD (OpenRouter ``usage.cost``), as microdollars; ``None`` if absent or odd."""
    cost = get(usage, "cost")
    if isinstance(cost, bool) or not isinstance(cost, (int, float)) or not math.isfinite(cost) or cost < 0:
        return None
    # via its decimal spelling: 0.0012345 USD is 1,234.5 µ$ → 1,235 (a float product would say 1,234.4999…)
    return int((Decimal(str(cost)) * 1_000_000).quantize(Decimal(1), rounding=ROUND_HALF_UP))
