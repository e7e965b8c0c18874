"""The built-in price table: a few current models per provider, in microdollars per million tokens.

Keep it small and exact: a model missing here is reported *unpriced* (and warned about once), which is better than a
plausible wrong price. Users add or correct entries with :class:`~mosaicstack_telemetry.llm.Pricer`
overrides; the ``prices`` extra adds ``genai-prices`` as a fallback for models not listed.

Every figure is USD per million tokens × 1,000,000 (so ``$0.075 / Mtok`` is ``75_000``): integers, no float drift.
``tests/llm/test_price_table.py`` checks every entry against ``genai-prices`` (pinned in the test group) within 1 µ$.
"""

from __future__ import annotations

from datetime import date

import attrs

from .pricing import ModelPrice, Tier

__all__ = ["AS_OF", "PRICES", "SOURCES"]

#: The date these prices were last checked.
AS_OF = date(2026, 11, 23)

#: Where they come from: the providers' pricing pages, as transcribed by genai-prices 0.2.3 (its bundled data).
SOURCES = {
    "anthropic": "https://docs.anthropic.com/en/docs/about-claude/pricing",
    "openai": "https://platform.openai.com/docs/pricing",
    "google": "https://ai.google.dev/gemini-api/docs/pricing",
    "mistral": "https://mistral.ai/pricing#api-pricing",
    "cross-check": "genai-prices 0.2.3 (pydantic/genai-prices, MIT), bundled data",
}

_M = 1_000_000  # USD → microdollars


def _usd(value: float) -> int:
    """USD per Mtok → µ$ per Mtok, exactly (the table's literals have at most 6 decimals)."""
    return round(value * _M)


def _anthropic(inp: float, out: float) -> ModelPrice:
    """Anthropic's rule: cache reads 0.1×, 5-minute writes 1.25×, 1-hour writes 2× the input rate."""
    return ModelPrice(
        input=_usd(inp),
        output=_usd(out),
        cache_read=_usd(inp * 0.1),
        cache_write=_usd(inp * 1.25),
        cache_write_1h=_usd(inp * 2),
    )


def _plain(inp: float, out: float, cache_read: float | None = None) -> ModelPrice:
    """Input, output and (when discounted) cache reads; cache writes at the input rate."""
    return ModelPrice(input=_usd(inp), output=_usd(out), cache_read=None if cache_read is None else _usd(cache_read))


def _long_context(short: ModelPrice, threshold: int, long: ModelPrice) -> ModelPrice:
    """A cliff tier: once the prompt's input total exceeds ``threshold``, every token of the call pays ``long``."""
    return attrs.evolve(short, tiers=(Tier(above=threshold, price=long),))


#: model id (canonical: no provider prefix, no date suffix) → price
PRICES: dict[str, ModelPrice] = {
    # Anthropic
    "claude-opus-4-7": _anthropic(5, 25),
    "claude-opus-4-6": _anthropic(5, 25),
    "claude-opus-4-5": _anthropic(5, 25),
    "claude-opus-4-1": _anthropic(15, 75),
    "claude-sonnet-5": _anthropic(2, 10),
    "claude-sonnet-4-6": _anthropic(3, 15),
    "claude-sonnet-4-5": _long_context(_anthropic(3, 15), 200_000, _anthropic(6, 22.5)),
    "claude-haiku-4-5": _anthropic(1, 5),
    # OpenAI
    "gpt-5.4": _long_context(_plain(2.5, 15, 0.25), 272_000, _plain(5, 22.5, 0.5)),
    "gpt-5.2": _plain(1.75, 14, 0.175),
    "gpt-5": _plain(1.25, 10, 0.125),
    "gpt-5-mini": _plain(0.25, 2, 0.025),
    "gpt-5-nano": _plain(0.05, 0.4, 0.005),
    "gpt-4.1": _plain(2, 8, 0.5),
    "gpt-4.1-mini": _plain(0.4, 1.6, 0.1),
    "gpt-4o": _plain(2.5, 10, 1.25),
    "gpt-4o-2024-05-13": _plain(5, 15),  # the first gpt-4o snapshot kept its own, higher price
    "gpt-4o-mini": _plain(0.15, 0.6, 0.075),
    "o4-mini": _plain(1.1, 4.4, 0.275),
    "text-embedding-3-small": _plain(0.02, 0),
    "text-embedding-3-large": _plain(0.13, 0),
    # Google Gemini
    "gemini-3.1-pro-preview": _long_context(_plain(2, 12, 0.2), 200_000, _plain(4, 18, 0.4)),
    "gemini-2.5-pro": _long_context(_plain(1.25, 10, 0.125), 200_000, _plain(2.5, 15, 0.25)),
    "gemini-2.5-flash": _plain(0.3, 2.5, 0.03),
    "gemini-2.5-flash-lite": _plain(0.1, 0.4, 0.01),
    # Mistral
    "mistral-large-2512": _plain(0.5, 1.5, 0.05),
    "mistral-medium-2508": _plain(0.4, 2, 0.04),
    "mistral-small-2603": _plain(0.15, 0.6, 0.015),
    "codestral-2508": _plain(0.3, 0.9, 0.03),
}
