"""The ``prices`` extra: genai-prices as a fallback source, on an exact model match only.

genai-prices matches by prefix (``claude-sonnet-4-5-madeup-variant`` would be priced as Sonnet 4.5): its answer is
accepted only when the model it picked *is* the name asked for (its id, or one of its exact ``equals`` names), else
the call stays unpriced. It is imported lazily (it brings pydantic) and used with its bundled data only: this
module never starts its price updater, so nothing touches the network.
"""

from __future__ import annotations

import importlib.util
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from .usage import Usage

__all__ = ["available", "genai_cost"]


def available() -> bool:
    """Whether genai-prices is installed (the ``prices`` extra)."""
    return importlib.util.find_spec("genai_prices") is not None


def genai_cost(model: str, usage: Usage, provider: str | None) -> tuple[int, str] | None:
    """``(microdollars, model id)`` when genai-prices knows exactly ``model``, else ``None``. Never raises."""
    try:
        import genai_prices  # noqa: PLC0415 - optional (the prices extra), and heavy: imported on first use

        counts: dict[str, Any] = {
            "input_tokens": usage.input_tokens or 0,
            "output_tokens": usage.output_tokens or 0,
            "cache_read_tokens": usage.cache_read_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
            "cache_write_1h_tokens": usage.cache_write_1h_tokens,  # a subset of cache_write_tokens, as here
        }
        provider_id = provider if provider in {"anthropic", "openai", "google", "mistral"} else None
        result = genai_prices.calc_price(genai_prices.Usage(**counts), model, provider_id=provider_id)
    except Exception:  # LookupError for an unknown model; anything else must not reach the caller either
        return None
    found = result.model
    if model != found.id.lower() and model not in exact_names(found.match):
        return None
    micros = (Decimal(result.total_price) * 1_000_000).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return int(micros), found.id


def exact_names(clause: Any) -> set[str]:
    """The names a genai-prices match clause accepts *exactly* (its ``equals`` leaves)."""
    names: set[str] = set()
    equals = getattr(clause, "equals", None)
    if isinstance(equals, str):
        names.add(equals.lower())
    for child in getattr(clause, "or_", None) or ():
        names |= exact_names(child)
    return names
