"""The usage normalizer: one meaning for every provider, from SDK objects and plain dicts alike."""

from __future__ import annotations

import anthropic.types
import ollama
import openai.types
import openai.types.responses
import pytest

from mosaicstack_telemetry.llm import Usage, normalize_usage

from . import payloads


def test_anthropic_cache_tokens_are_added_to_input() -> None:
    """Anthropic reports cache reads and writes beside input_tokens: the input total is 19 + 1,000 + 38,000,
    and the cache counts are carried as subsets (the pricer charges them once, at their own rates)."""
    message = anthropic.types.Message.model_validate(payloads.anthropic_message())

    usage = normalize_usage(message)

    assert (
        Usage(
            input_tokens=39_019,
            output_tokens=250,
            cache_read_tokens=38_000,
            cache_write_tokens=1_000,
            cache_write_1h_tokens=400,
            reasoning_tokens=100,
        )
        == usage
    )


def test_openai_cached_tokens_are_inside_prompt_tokens() -> None:
    """OpenAI's cached_tokens and cache_write_tokens are already inside prompt_tokens: not added again."""
    completion = openai.types.chat.ChatCompletion.model_validate(payloads.chat_completion())

    usage = normalize_usage(completion)

    assert 2_000 == usage.input_tokens
    assert (1_500, 200) == (usage.cache_read_tokens, usage.cache_write_tokens)


def test_reasoning_tokens_are_a_subset_of_output() -> None:
    """Reasoning/thinking tokens are part of the output total, carried beside it, never added to it."""
    chat = normalize_usage(openai.types.chat.ChatCompletion.model_validate(payloads.chat_completion()))
    claude = normalize_usage(payloads.anthropic_message())
    responses = normalize_usage(openai.types.responses.Response.model_validate(payloads.response_object()))

    assert (300, 120) == (chat.output_tokens, chat.reasoning_tokens)
    assert (250, 100) == (claude.output_tokens, claude.reasoning_tokens)
    assert (700, 500) == (responses.output_tokens, responses.reasoning_tokens)


def test_ollama_missing_prompt_count_is_unknown_not_zero() -> None:
    """Ollama omits prompt_eval_count for a cached prompt: the input is unknown (None), never 0."""
    response = ollama.ChatResponse.model_validate(payloads.ollama_chat(prompt_eval_count=None))

    usage = normalize_usage(response)

    assert usage.input_tokens is None
    assert 12 == usage.output_tokens
    assert not usage.known


def test_ollama_counts() -> None:
    usage = normalize_usage(ollama.ChatResponse.model_validate(payloads.ollama_chat()))

    assert Usage(input_tokens=26, output_tokens=12) == usage


def test_responses_usage_is_read_by_its_shape() -> None:
    """The Responses API's input_tokens include cached tokens (like Chat's prompt_tokens), unlike Anthropic's
    input_tokens of the same name: the details objects tell the shapes apart."""
    response = openai.types.responses.Response.model_validate(payloads.response_object())

    usage = normalize_usage(response)

    assert Usage(input_tokens=5_000, output_tokens=700, cache_read_tokens=4_000, reasoning_tokens=500) == usage


def test_embeddings_have_a_known_zero_output() -> None:
    """OpenAI embeddings usage has only prompt_tokens/total_tokens; Ollama's EmbedResponse only
    prompt_eval_count. Output is a known 0."""
    openai_embedding = openai.types.CreateEmbeddingResponse.model_validate(payloads.EMBEDDING_RESPONSE)
    ollama_embedding = ollama.EmbedResponse.model_validate(
        {"model": "nomic-embed-text", "embeddings": [[0.1, 0.2]], "prompt_eval_count": 9}
    )

    assert Usage(input_tokens=8, output_tokens=0) == normalize_usage(openai_embedding)
    assert Usage(input_tokens=9, output_tokens=0) == normalize_usage(ollama_embedding)


def test_provider_reported_cost_is_carried() -> None:
    """OpenRouter adds usage.cost (USD): carried in microdollars, so it wins over any price table."""
    body = payloads.chat_completion(
        usage={"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15, "cost": 0.0012345}
    )
    completion = openai.types.chat.ChatCompletion.model_validate(body)

    assert 1_235 == normalize_usage(completion).cost_usd_micros  # 1,234.5 µ$, rounded half up


@pytest.mark.parametrize("cost", [None, "0.1", -1.0, float("nan"), True])
def test_odd_reported_costs_are_ignored(cost: object) -> None:
    usage = normalize_usage({"usage": {"prompt_tokens": 1, "completion_tokens": 1, "cost": cost}})

    assert usage.cost_usd_micros is None


@pytest.mark.parametrize("response", [None, {}, {"usage": {}}, "text", 42, {"usage": {"prompt_tokens": "7"}}])
def test_anything_else_is_unknown(response: object) -> None:
    assert not normalize_usage(response).known


def test_a_usage_object_itself_and_dicts() -> None:
    """The normalizer also takes the usage object alone, and plain dicts decoded from JSON."""
    assert 39_019 == normalize_usage(payloads.ANTHROPIC_USAGE).input_tokens
    assert 2_000 == normalize_usage(payloads.OPENAI_USAGE).input_tokens
    assert 26 == normalize_usage(payloads.ollama_chat()).input_tokens


def test_cache_write_1h_never_exceeds_cache_write() -> None:
    usage = normalize_usage(
        {
            "usage": {
                "input_tokens": 1,
                "output_tokens": 1,
                "cache_creation_input_tokens": 5,
                "cache_creation": {"ephemeral_1h_input_tokens": 9},
            }
        }
    )

    assert (5, 5) == (usage.cache_write_tokens, usage.cache_write_1h_tokens)
