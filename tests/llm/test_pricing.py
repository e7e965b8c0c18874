"""Pricing: strict matching, overrides and aliases first, genai-prices only on an exact match, rounded once."""

from __future__ import annotations

import importlib.util
import logging
import uuid

import pytest

from mosaicstack_telemetry.llm import (
    PRICES,
    CostStatus,
    ModelPrice,
    Pricer,
    Tier,
    Usage,
    model_candidates,
    stats,
)

ONE_M = Usage(input_tokens=1_000_000, output_tokens=1_000_000)


@pytest.mark.parametrize(
    ("model", "key"),
    [
        ("gpt-4o-mini", "gpt-4o-mini"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("gpt-4o-2024-05-13", "gpt-4o-2024-05-13"),  # a dated snapshot with its own price is matched as given
        ("openai/gpt-4o-mini", "gpt-4o-mini"),
        ("anthropic/claude-sonnet-4.5", "claude-sonnet-4-5"),  # OpenRouter's dotted spelling
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("claude-sonnet-4-5@20250929", "claude-sonnet-4-5"),  # Vertex
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5"),  # Bedrock cross-region
        ("anthropic.claude-haiku-4-5-20251001-v1:0", "claude-haiku-4-5"),
        ("projects/p/locations/l/publishers/google/models/gemini-2.5-pro", "gemini-2.5-pro"),
        ("models/gemini-2.5-flash", "gemini-2.5-flash"),
        ("GPT-4o-Mini", "gpt-4o-mini"),
    ],
)
def test_packaging_is_removed_then_matched_exactly(model: str, key: str) -> None:
    found = Pricer(use_genai_prices=False).lookup(model)

    assert found is not None
    assert key == found[2]


@pytest.mark.parametrize(
    "model",
    [
        "gpt-4o-mini-search",
        "gpt-4o-mini-realtime-preview",
        "gpt-4",
        "claude-sonnet-4-5-madeup-variant",
        "claude-opus-4",
        "gemini-2.5-pro-tts",
        "gpt-5-codex",
        "mistral-large-latest",
    ],
)
def test_no_prefix_matching(model: str) -> None:
    """A name that merely starts like a known model is not priced as it (gpt-4o-mini is not gpt-4o, a new
    variant is not the old one)."""
    assert Pricer(use_genai_prices=False).lookup(model) is None


def test_gpt_4o_mini_is_not_priced_as_gpt_4o() -> None:
    pricer = Pricer(use_genai_prices=False)

    mini = pricer.price("gpt-4o-mini", ONE_M)
    full = pricer.price("gpt-4o", ONE_M)

    assert (750_000, 12_500_000) == (mini.micros, full.micros)


def test_unknown_model_is_unpriced_warned_once_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    """An unknown model costs 0 *and says so*: status unpriced, one warning per model, counted by model."""
    model = f"acme-coder-{uuid.uuid4().hex[:8]}"  # warned about once per process: a name no other test uses
    pricer = Pricer(use_genai_prices=False)
    with caplog.at_level(logging.WARNING, "mosaicstack_telemetry.llm"):
        costs = [pricer.price(model, ONE_M) for _ in range(3)]

    assert {(0, CostStatus.UNPRICED)} == {(cost.micros, cost.status) for cost in costs}
    assert not costs[0].priced
    assert 1 == sum(model in record.getMessage() for record in caplog.records)
    assert {model: 3} == dict(stats().unpriced)


def test_cache_subsets_are_charged_once_at_their_rates() -> None:
    """input − cache_read − cache_write at the base rate; reads, 5-minute and 1-hour writes at theirs."""
    usage = Usage(
        input_tokens=39_019,
        output_tokens=250,
        cache_read_tokens=38_000,
        cache_write_tokens=1_000,
        cache_write_1h_tokens=400,
    )

    cost = Pricer(use_genai_prices=False).price("claude-sonnet-5", usage)

    # 19 × $2 + 38,000 × $0.2 + 600 × $2.5 + 400 × $4 + 250 × $10 per Mtok
    assert (13_238, CostStatus.TABLE, "claude-sonnet-5") == (cost.micros, cost.status, cost.matched)


def test_rounded_once_at_the_end_half_up() -> None:
    """Three sub-µ$ parts that each round to 0 add up to a whole microdollar: rounding happens once."""
    price = ModelPrice(input=400_000, output=400_000, cache_read=400_000)
    usage = Usage(input_tokens=2, output_tokens=1, cache_read_tokens=1)  # 3 × 0.4 µ$ = 1.2 µ$

    assert 1 == price.cost_micros(usage)
    assert 1 == ModelPrice(input=500_000, output=0).cost_micros(Usage(input_tokens=1, output_tokens=0))


def test_long_context_tier_applies_to_every_token_above_the_threshold() -> None:
    pricer = Pricer(use_genai_prices=False)
    below = pricer.price("claude-sonnet-4-5", Usage(input_tokens=200_000, output_tokens=1_000))
    above = pricer.price("claude-sonnet-4-5", Usage(input_tokens=200_001, output_tokens=1_000))

    assert 200_000 * 3 + 1_000 * 15 == below.micros
    assert 200_001 * 6 + round(1_000 * 22.5) == above.micros


def test_tiers_are_sorted() -> None:
    low, high = ModelPrice(input=2, output=0), ModelPrice(input=3, output=0)
    price = ModelPrice(input=1, output=0, tiers=[Tier(above=100, price=high), Tier(above=10, price=low)])

    assert (price, low, high) == (price.for_input(10), price.for_input(11), price.for_input(101))


def test_overrides_and_aliases_win() -> None:
    mine = ModelPrice(input=1_000_000, output=2_000_000)
    pricer = Pricer(
        overrides={"gpt-4o": mine, "acme-coder": mine},
        aliases={"my-deployment": "gpt-4o-mini-2024-07-18"},
        use_genai_prices=False,
    )

    assert (3_000_000, CostStatus.OVERRIDE, "gpt-4o") == _triple(pricer.price("gpt-4o-2024-08-06", ONE_M))
    assert CostStatus.OVERRIDE is pricer.price("acme-coder", ONE_M).status
    assert (750_000, CostStatus.TABLE, "gpt-4o-mini") == _triple(pricer.price("my-deployment", ONE_M))


def test_provider_reported_cost_wins_and_local_is_free() -> None:
    pricer = Pricer(use_genai_prices=False)
    reported = Usage(input_tokens=10, output_tokens=10, cost_usd_micros=4_321)

    assert (4_321, CostStatus.PROVIDER_REPORTED) == (
        pricer.price("gpt-4o", reported).micros,
        pricer.price("gpt-4o", reported).status,
    )
    local = pricer.price("llama3.2:latest", ONE_M, provider="ollama")
    assert (0, CostStatus.LOCAL, True) == (local.micros, local.status, local.priced)


@pytest.mark.skipif(
    importlib.util.find_spec("genai_prices") is None, reason="genai-prices 0.2 needs Python 3.11+ (the prices extra)"
)
def test_genai_prices_fallback_on_exact_match_only(block_network: None) -> None:
    """The prices extra prices models the table lacks — but only when genai-prices names that exact model; its
    prefix matches (a made-up variant priced as the real model) are refused."""
    pricer = Pricer()

    exact = pricer.price("gpt-4.1-nano", ONE_M)
    variant = pricer.price("claude-sonnet-4-5-madeup-variant", ONE_M)

    assert (500_000, CostStatus.GENAI_PRICES, "gpt-4.1-nano") == _triple(exact)
    assert CostStatus.UNPRICED is variant.status


@pytest.mark.skipif(
    importlib.util.find_spec("genai_prices") is None, reason="genai-prices 0.2 needs Python 3.11+ (the prices extra)"
)
def test_genai_prices_fallback_charges_1h_cache_writes_at_their_rate(block_network: None) -> None:
    """A model only genai-prices knows: the 1-hour cache writes (a subset of the writes) are passed on and charged
    at the 1-hour rate, not at the 5-minute one."""
    usage = Usage(
        input_tokens=39_019,
        output_tokens=250,
        cache_read_tokens=38_000,
        cache_write_tokens=1_000,
        cache_write_1h_tokens=400,
    )

    cost = Pricer().price("claude-sonnet-5-5", usage, provider="anthropic")

    # 19 × $2 + 38,000 × $0.1 + 600 × $2.5 + 400 × $4 (1h) + 250 × $10 per Mtok; all 1,000 writes at $2.5: 8,838
    assert (9_438, CostStatus.GENAI_PRICES, "claude-sonnet-5-5") == _triple(cost)


def test_genai_prices_can_be_turned_off() -> None:
    assert CostStatus.UNPRICED is Pricer(use_genai_prices=False).price("gpt-4.1-nano", ONE_M).status


def test_table_keys_are_their_own_canonical_names() -> None:
    """Every key is reachable: it survives the packaging removal unchanged."""
    for key in PRICES:
        assert key in model_candidates(key)


def _triple(cost: object) -> tuple[object, object, object]:
    return (cost.micros, cost.status, cost.matched)  # type: ignore[attr-defined]
