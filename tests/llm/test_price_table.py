"""Every built-in price agrees with genai-prices (pinned in the test group) within 1 µ$, offline."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from mosaicstack_telemetry.llm import AS_OF, PRICES, SOURCES, Pricer, Usage

genai_prices = pytest.importorskip("genai_prices", reason="genai-prices 0.2 needs Python 3.11+")

#: the provider each table entry is checked against
PROVIDERS = {
    "claude": "anthropic",
    "gpt": "openai",
    "o4": "openai",
    "text-embedding": "openai",
    "gemini": "google",
    "mistral": "mistral",
    "codestral": "mistral",
}

USAGES = [
    Usage(input_tokens=1_234_567, output_tokens=345_678),
    Usage(input_tokens=39_019, output_tokens=250, cache_read_tokens=38_000, cache_write_tokens=1_000),
    Usage(input_tokens=150_000, output_tokens=7, cache_read_tokens=100_000),
    Usage(input_tokens=300_000, output_tokens=20_000, cache_read_tokens=50_000, cache_write_tokens=10_000),  # tiers
    Usage(input_tokens=999, output_tokens=0),
    Usage(input_tokens=60_000, output_tokens=900, cache_write_tokens=50_000, cache_write_1h_tokens=20_000),
]


def provider_of(model: str) -> str:
    return next(provider for prefix, provider in PROVIDERS.items() if model.startswith(prefix))


@pytest.mark.parametrize("model", sorted(PRICES))
@pytest.mark.parametrize("usage", USAGES, ids=lambda usage: f"{usage.input_tokens}in")
def test_table_matches_genai_prices(model: str, usage: Usage, block_network: None) -> None:
    expected = genai_prices.calc_price(
        genai_prices.Usage(
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_read_tokens=usage.cache_read_tokens,
            cache_write_tokens=usage.cache_write_tokens,
            cache_write_1h_tokens=usage.cache_write_1h_tokens,
        ),
        model,
        provider_id=provider_of(model),
        genai_request_timestamp=datetime(AS_OF.year, AS_OF.month, AS_OF.day, tzinfo=timezone.utc),
    )
    assert model == expected.model.id or model in str(expected.model.match), "genai-prices priced another model"
    ours = Pricer(use_genai_prices=False).price(model, usage)

    assert abs(Decimal(ours.micros) - expected.total_price * 1_000_000) <= 1


def test_table_is_dated_and_sourced() -> None:
    assert AS_OF.year >= 2026
    assert {"anthropic", "openai", "google", "mistral"} <= set(SOURCES)
    assert all(value.startswith("https://") for key, value in SOURCES.items() if key != "cross-check")


def test_genai_prices_data_is_the_bundled_snapshot() -> None:
    """No price updater ran: genai-prices answers from the data shipped in the pinned package."""
    from genai_prices import data_snapshot

    assert not data_snapshot.get_snapshot().from_auto_update
