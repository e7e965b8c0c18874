"""The documentation's snippets that build configs, events and queries run unchanged against this package.

Each test copies a snippet of the original SDK's README (seed 000) or integration guide (seed 002) verbatim — the
imports are at the top of this module — with only the placeholder config values (URL, API key, instance id) replaced
by valid test values, and checks what it produced. Snippets that start or stop a client or call the server are left
out; where a snippet reads a cached prediction, the client call is replaced by a fixed response (marked so).
"""

from __future__ import annotations

import os
import time
from typing import Any
from uuid import UUID

import pytest

from mosaicstack_telemetry import (
    Complexity,
    EventBuilder,
    Harness,
    Outcome,
    PredictionQuery,
    Provider,
    QualityGate,
    RepoSizeCategory,
    TaskCompletionEvent,
    TaskType,
    TelemetryConfig,
)

from ._support import ENV_VARS, empty_prediction_response, full_prediction_response

TEST_INSTANCE_ID = "12345678-1234-1234-1234-123456789abc"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Remove every MOSAIC_TELEMETRY_* variable, so the snippets see only what a test sets."""
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def assert_event_fields(event: TaskCompletionEvent, **expected: Any) -> None:
    """``event`` is a valid, fully converted event with the ``expected`` field values."""
    assert TaskCompletionEvent is type(event)
    assert expected == {name: getattr(event, name) for name in expected}
    assert 4 == event.event_id.version
    assert "1.0" == event.schema_version
    assert event == TaskCompletionEvent.model_validate_json(event.model_dump_json())


# -- seed 000 (README) -----------------------------------------------------------------------------------------------


def test_readme_quick_start_builds_the_config_and_event() -> None:
    """README "Quick Start (Sync)": the config and the EventBuilder chain (client lines left out)."""
    config = TelemetryConfig(
        server_url="https://telemetry.mosaicstack.dev",
        api_key="a" * 64,  # placeholder "your-64-char-hex-api-key-here..." replaced
        instance_id="12345678-1234-1234-1234-123456789abc",  # placeholder replaced
    )
    event = (
        EventBuilder(instance_id=config.instance_id)
        .task_type(TaskType.IMPLEMENTATION)
        .model("claude-sonnet-4-20250514")
        .provider(Provider.ANTHROPIC)
        .harness_type(Harness.AIDER)
        .complexity_level(Complexity.MEDIUM)
        .outcome_value(Outcome.SUCCESS)
        .duration_ms(45000)
        .tokens(estimated_in=5000, estimated_out=2000, actual_in=5200, actual_out=1800)
        .cost(estimated=50000, actual=48000)
        .quality(passed=True, gates_run=[QualityGate.LINT, QualityGate.TEST])
        .context(compactions=0, rotations=0, utilization=0.4)
        .language("python")
        .build()
    )

    assert [] == config.validate()
    assert_event_fields(
        event,
        instance_id=UUID(TEST_INSTANCE_ID),
        task_type=TaskType.IMPLEMENTATION,
        model="claude-sonnet-4-20250514",
        provider=Provider.ANTHROPIC,
        harness=Harness.AIDER,
        complexity=Complexity.MEDIUM,
        outcome=Outcome.SUCCESS,
        task_duration_ms=45000,
        estimated_input_tokens=5000,
        estimated_output_tokens=2000,
        actual_input_tokens=5200,
        actual_output_tokens=1800,
        estimated_cost_usd_micros=50000,
        actual_cost_usd_micros=48000,
        quality_gate_passed=True,
        quality_gates_run=[QualityGate.LINT, QualityGate.TEST],
        quality_gates_failed=[],
        context_compactions=0,
        context_rotations=0,
        context_utilization_final=0.4,
        retry_count=0,
        language="python",
        repo_size_category=None,
    )


def test_readme_config_from_environment(clean_env: pytest.MonkeyPatch) -> None:
    """README "Configuration via Environment Variables": ``TelemetryConfig()`` picks up the four variables."""
    clean_env.setenv("MOSAIC_TELEMETRY_ENABLED", "true")
    clean_env.setenv("MOSAIC_TELEMETRY_SERVER_URL", "https://telemetry.mosaicstack.dev")
    clean_env.setenv("MOSAIC_TELEMETRY_API_KEY", "a" * 64)  # placeholder replaced
    clean_env.setenv("MOSAIC_TELEMETRY_INSTANCE_ID", TEST_INSTANCE_ID)  # placeholder replaced

    config = TelemetryConfig()  # Picks up env vars automatically

    assert (True, "https://telemetry.mosaicstack.dev", "a" * 64, TEST_INSTANCE_ID) == (
        config.enabled,
        config.server_url,
        config.api_key,
        config.instance_id,
    )
    assert [] == config.validate()


def test_readme_prediction_query() -> None:
    """README "Querying Predictions": the query, and the cache-reading lines against a fixed response."""
    query = PredictionQuery(
        task_type=TaskType.IMPLEMENTATION,
        model="claude-sonnet-4-20250514",
        provider=Provider.ANTHROPIC,
        complexity=Complexity.MEDIUM,
    )

    assert (
        TaskType.IMPLEMENTATION,
        "claude-sonnet-4-20250514",
        Provider.ANTHROPIC,
        Complexity.MEDIUM,
    ) == (
        query.task_type,
        query.model,
        query.provider,
        query.complexity,
    )
    assert {query: 1}[
        PredictionQuery(task_type="implementation", model=query.model, provider="anthropic", complexity="medium")
    ] == 1


def test_readme_reading_a_prediction(capsys: pytest.CaptureFixture[str]) -> None:
    """README "Read from cache": the attribute accesses and formatting work on a PredictionResponse."""
    prediction = full_prediction_response()  # replaces client.get_prediction(query)
    if prediction and prediction.prediction:
        print(f"Expected input tokens (median): {prediction.prediction.input_tokens.median}")
        print(f"Expected cost (median): ${prediction.prediction.cost_usd_micros['median'] / 1_000_000:.4f}")
        print(f"Quality gate pass rate: {prediction.prediction.quality.gate_pass_rate:.0%}")

    assert (
        "Expected input tokens (median): 112000\nExpected cost (median): $0.9192\nQuality gate pass rate: 82%\n"
    ) == capsys.readouterr().out


def test_readme_dry_run_config() -> None:
    """README "Dry-Run Mode": the config as printed (its values are already valid)."""
    config = TelemetryConfig(
        server_url="https://telemetry.mosaicstack.dev",
        api_key="a" * 64,
        instance_id="12345678-1234-1234-1234-123456789abc",
        dry_run=True,  # Logs batches but doesn't send
    )

    assert config.dry_run is True
    assert config.enabled is True
    assert [] == config.validate()


# -- seed 002 (integration guide) ------------------------------------------------------------------------------------


def _guide_config() -> TelemetryConfig:
    """Integration guide "Constructor Parameters", placeholder key replaced."""
    config = TelemetryConfig(
        server_url="https://tel-api.mosaicstack.dev",
        api_key="a" * 64,  # placeholder "your-64-char-hex-api-key-here..." replaced
        instance_id="a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
    )
    return config  # noqa: RET504 - the guide's statement, verbatim


def test_guide_constructor_parameters() -> None:
    """Guide "Constructor Parameters": a valid config with the documented defaults for the rest."""
    config = _guide_config()
    assert [] == config.validate()
    assert (True, 300.0, 1000, 100, 10.0, 21600.0, False, 3) == (
        config.enabled,
        config.submit_interval_seconds,
        config.max_queue_size,
        config.batch_size,
        config.request_timeout_seconds,
        config.prediction_cache_ttl_seconds,
        config.dry_run,
        config.max_retries,
    )


def test_guide_config_from_environment(clean_env: pytest.MonkeyPatch) -> None:
    """Guide "Environment Variables": ``TelemetryConfig()`` reads the exported values."""
    clean_env.setenv("MOSAIC_TELEMETRY_ENABLED", "true")
    clean_env.setenv("MOSAIC_TELEMETRY_SERVER_URL", "https://tel-api.mosaicstack.dev")
    clean_env.setenv("MOSAIC_TELEMETRY_API_KEY", "a" * 64)  # placeholder replaced
    clean_env.setenv("MOSAIC_TELEMETRY_INSTANCE_ID", "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d")

    config = TelemetryConfig()  # Reads from environment

    assert _guide_config() == config


def test_guide_development_config() -> None:
    """Guide "Environment-Specific Configuration", Development: dry run, quick flushes."""
    config = TelemetryConfig(
        server_url="http://localhost:8000",
        api_key="a" * 64,
        instance_id="12345678-1234-1234-1234-123456789abc",
        dry_run=True,  # Log but don't send
        submit_interval_seconds=10.0,  # Flush quickly for testing
    )

    assert (True, 10.0, "http://localhost:8000") == (
        config.dry_run,
        config.submit_interval_seconds,
        config.server_url,
    )
    assert [] == config.validate()


def test_guide_production_config(clean_env: pytest.MonkeyPatch) -> None:
    """Guide "Environment-Specific Configuration", Production: key and instance id from os.environ."""
    clean_env.setenv("MOSAIC_TELEMETRY_API_KEY", "b" * 64)
    clean_env.setenv("MOSAIC_TELEMETRY_INSTANCE_ID", TEST_INSTANCE_ID)

    config = TelemetryConfig(
        server_url="https://tel-api.mosaicstack.dev",
        api_key=os.environ["MOSAIC_TELEMETRY_API_KEY"],
        instance_id=os.environ["MOSAIC_TELEMETRY_INSTANCE_ID"],
        submit_interval_seconds=300.0,  # Default: flush every 5 minutes
        max_retries=3,  # Retry transient failures
    )

    assert ("b" * 64, TEST_INSTANCE_ID, 300.0, 3) == (
        config.api_key,
        config.instance_id,
        config.submit_interval_seconds,
        config.max_retries,
    )
    assert [] == config.validate()


def test_guide_sync_usage_builds_the_event() -> None:
    """Guide "Sync Usage (Threading)": the config and the EventBuilder chain (client lines left out)."""
    config = TelemetryConfig(
        server_url="https://tel-api.mosaicstack.dev",
        api_key="a" * 64,  # placeholder replaced
        instance_id="a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
    )

    event = (
        EventBuilder(instance_id=config.instance_id)
        .task_type(TaskType.IMPLEMENTATION)
        .model("claude-sonnet-4-5-20250929")
        .provider(Provider.ANTHROPIC)
        .harness_type(Harness.CLAUDE_CODE)
        .complexity_level(Complexity.MEDIUM)
        .outcome_value(Outcome.SUCCESS)
        .duration_ms(45000)
        .tokens(estimated_in=105000, estimated_out=45000, actual_in=112340, actual_out=38760)
        .cost(estimated=630000, actual=919200)
        .quality(
            passed=True,
            gates_run=[
                QualityGate.BUILD,
                QualityGate.LINT,
                QualityGate.TEST,
                QualityGate.TYPECHECK,
            ],
        )
        .context(compactions=2, rotations=0, utilization=0.72)
        .language("typescript")
        .build()
    )

    assert_event_fields(
        event,
        instance_id=UUID("a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"),
        model="claude-sonnet-4-5-20250929",
        harness=Harness.CLAUDE_CODE,
        estimated_input_tokens=105000,
        estimated_output_tokens=45000,
        actual_input_tokens=112340,
        actual_output_tokens=38760,
        estimated_cost_usd_micros=630000,
        actual_cost_usd_micros=919200,
        quality_gates_run=[
            QualityGate.BUILD,
            QualityGate.LINT,
            QualityGate.TEST,
            QualityGate.TYPECHECK,
        ],
        context_compactions=2,
        context_utilization_final=0.72,
        language="typescript",
    )


def test_guide_fastapi_example_builds_the_event() -> None:
    """Guide "Example 1": the endpoint's event-building body, verbatim (decorator, track and return left out)."""
    config = _guide_config()

    def complete_task(  # noqa: PLR0917 - the guide's signature, verbatim
        task_type: str,
        model: str,
        provider: str,
        complexity: str,
        actual_input_tokens: int,
        actual_output_tokens: int,
        actual_cost_usd_micros: int,
        duration_ms: int,
        outcome: str,
    ) -> TaskCompletionEvent:
        """Record a completed AI coding task."""
        event = (
            EventBuilder(instance_id=config.instance_id)
            .task_type(TaskType(task_type))
            .model(model)
            .provider(Provider(provider))
            .harness_type(Harness.CLAUDE_CODE)
            .complexity_level(Complexity(complexity))
            .outcome_value(Outcome(outcome))
            .duration_ms(duration_ms)
            .tokens(
                estimated_in=0,
                estimated_out=0,
                actual_in=actual_input_tokens,
                actual_out=actual_output_tokens,
            )
            .cost(estimated=0, actual=actual_cost_usd_micros)
            .quality(passed=outcome == "success", gates_run=[QualityGate.BUILD, QualityGate.TEST])
            .context(compactions=0, rotations=0, utilization=0.0)
            .build()
        )
        return event  # noqa: RET504 - in place of the guide's telemetry.track(event)

    event = complete_task("debugging", "gpt-4o", "openai", "high", 1200, 300, 4500, 9000, "success")
    assert_event_fields(
        event,
        task_type=TaskType.DEBUGGING,
        model="gpt-4o",
        provider=Provider.OPENAI,
        complexity=Complexity.HIGH,
        outcome=Outcome.SUCCESS,
        quality_gate_passed=True,
        actual_input_tokens=1200,
        actual_output_tokens=300,
        actual_cost_usd_micros=4500,
        task_duration_ms=9000,
    )
    assert complete_task("testing", "m", "ollama", "low", 0, 0, 0, 0, "failure").quality_gate_passed is False


def test_guide_generic_app_example_builds_the_event(clean_env: pytest.MonkeyPatch) -> None:
    """Guide "Example 2": run_coding_task and the event chain, verbatim (client lines left out)."""
    clean_env.setenv("MOSAIC_TELEMETRY_SERVER_URL", "https://tel-api.mosaicstack.dev")
    clean_env.setenv("MOSAIC_TELEMETRY_API_KEY", "a" * 64)
    clean_env.setenv("MOSAIC_TELEMETRY_INSTANCE_ID", TEST_INSTANCE_ID)

    def run_coding_task() -> dict:  # type: ignore[type-arg]  # the guide's annotation, verbatim
        """Simulate an AI coding task. Returns task metrics."""
        start = time.monotonic()
        # ... your AI coding logic here ...
        elapsed_ms = int((time.monotonic() - start) * 1000)
        return {
            "duration_ms": elapsed_ms,
            "actual_input_tokens": 4500,
            "actual_output_tokens": 1800,
            "actual_cost_usd_micros": 48000,
            "outcome": "success",
            "quality_gates_passed": True,
        }

    config = TelemetryConfig()  # Reads from MOSAIC_TELEMETRY_* env vars
    result = run_coding_task()
    event = (
        EventBuilder(instance_id=config.instance_id)
        .task_type(TaskType.IMPLEMENTATION)
        .model("claude-sonnet-4-5-20250929")
        .provider(Provider.ANTHROPIC)
        .harness_type(Harness.AIDER)
        .complexity_level(Complexity.MEDIUM)
        .outcome_value(Outcome(result["outcome"]))
        .duration_ms(result["duration_ms"])
        .tokens(
            estimated_in=5000,
            estimated_out=2000,
            actual_in=result["actual_input_tokens"],
            actual_out=result["actual_output_tokens"],
        )
        .cost(estimated=50000, actual=result["actual_cost_usd_micros"])
        .quality(
            passed=result["quality_gates_passed"],
            gates_run=[QualityGate.BUILD, QualityGate.LINT, QualityGate.TEST],
        )
        .context(compactions=0, rotations=0, utilization=0.35)
        .language("python")
        .repo_size(RepoSizeCategory.MEDIUM)
        .build()
    )

    assert [] == config.validate()
    assert_event_fields(
        event,
        instance_id=UUID(TEST_INSTANCE_ID),
        outcome=Outcome.SUCCESS,
        actual_input_tokens=4500,
        actual_output_tokens=1800,
        actual_cost_usd_micros=48000,
        quality_gate_passed=True,
        quality_gates_run=[QualityGate.BUILD, QualityGate.LINT, QualityGate.TEST],
        context_utilization_final=0.35,
        language="python",
        repo_size_category=RepoSizeCategory.MEDIUM,
    )
    assert 0 <= event.task_duration_ms < 1000


def test_guide_token_and_cost_values() -> None:
    """Guide "Token and Cost Values": tokens and microdollar costs on a builder with other fields defaulted."""
    config = _guide_config()
    event = (
        EventBuilder(instance_id=config.instance_id)
        # ... other fields ...
        .tokens(
            estimated_in=105000,  # Pre-task estimate: input tokens
            estimated_out=45000,  # Pre-task estimate: output tokens
            actual_in=112340,  # Actual input tokens consumed
            actual_out=38760,  # Actual output tokens generated
        )
        .cost(
            estimated=630000,  # $0.63 in microdollars
            actual=919200,  # $0.92 in microdollars
        )
        .build()
    )

    assert_event_fields(
        event,
        estimated_input_tokens=105000,
        estimated_output_tokens=45000,
        actual_input_tokens=112340,
        actual_output_tokens=38760,
        estimated_cost_usd_micros=630000,
        actual_cost_usd_micros=919200,
        task_type=TaskType.UNKNOWN,
        model="unknown",
        outcome=Outcome.FAILURE,
    )


def test_guide_quality_gates() -> None:
    """Guide "Quality Gates": gates run and failed recorded as lists of members."""
    config = _guide_config()
    event = (
        EventBuilder(instance_id=config.instance_id)
        # ... other fields ...
        .quality(
            passed=False,
            gates_run=[QualityGate.BUILD, QualityGate.LINT, QualityGate.TEST, QualityGate.COVERAGE],
            gates_failed=[QualityGate.COVERAGE],
        )
        .build()
    )

    assert_event_fields(
        event,
        quality_gate_passed=False,
        quality_gates_run=[
            QualityGate.BUILD,
            QualityGate.LINT,
            QualityGate.TEST,
            QualityGate.COVERAGE,
        ],
        quality_gates_failed=[QualityGate.COVERAGE],
    )
    assert ["BUILD", "LINT", "TEST", "COVERAGE", "TYPECHECK", "SECURITY"] == [gate.name for gate in QualityGate]


def test_guide_fetching_predictions_queries() -> None:
    """Guide "Fetching Predictions": the two queries (the refresh calls left out)."""
    queries = [
        PredictionQuery(
            task_type=TaskType.IMPLEMENTATION,
            model="claude-sonnet-4-5-20250929",
            provider=Provider.ANTHROPIC,
            complexity=Complexity.MEDIUM,
        ),
        PredictionQuery(
            task_type=TaskType.TESTING,
            model="claude-haiku-4-5-20251001",
            provider=Provider.ANTHROPIC,
            complexity=Complexity.LOW,
        ),
    ]

    assert 2 == len(set(queries))
    assert [TaskType.IMPLEMENTATION, TaskType.TESTING] == [query.task_type for query in queries]


@pytest.mark.parametrize("found", [True, False], ids=["with-data", "no-data"])
def test_guide_reading_from_cache(capsys: pytest.CaptureFixture[str], found: bool) -> None:
    """Guide "Reading from Cache": every attribute it reads exists and formats, with data and without."""
    # replaces client.get_prediction(queries[0])
    prediction = full_prediction_response() if found else empty_prediction_response()
    if prediction and prediction.prediction:
        data = prediction.prediction
        print(f"Input tokens (median): {data.input_tokens.median}")
        print(f"Input tokens (p90): {data.input_tokens.p90}")
        print(f"Output tokens (median): {data.output_tokens.median}")
        print(f"Cost (median): ${data.cost_usd_micros['median'] / 1_000_000:.4f}")
        print(f"Duration (median): {data.duration_ms['median'] / 1000:.1f}s")
        print(f"Correction factor (input): {data.correction_factors.input:.2f}")
        print(f"Quality gate pass rate: {data.quality.gate_pass_rate:.0%}")
        print(f"Success rate: {data.quality.success_rate:.0%}")
        meta = prediction.metadata
        print(f"Sample size: {meta.sample_size}")
        print(f"Confidence: {meta.confidence}")
        if meta.fallback_note:
            print(f"Note: {meta.fallback_note}")
    else:
        print("No prediction data available for this combination")

    expected = (
        (
            "Input tokens (median): 112000\n"
            "Input tokens (p90): 210000\n"
            "Output tokens (median): 38000\n"
            "Cost (median): $0.9192\n"
            "Duration (median): 45.0s\n"
            "Correction factor (input): 1.07\n"
            "Quality gate pass rate: 82%\n"
            "Success rate: 91%\n"
            "Sample size: 1234\n"
            "Confidence: medium\n"
            "Note: model dropped: fewer than 30 samples\n"
        )
        if found
        else "No prediction data available for this combination\n"
    )
    assert expected == capsys.readouterr().out


def test_guide_dry_run_and_disabled_configs(clean_env: pytest.MonkeyPatch) -> None:
    """Guide "Dry-Run Mode" and "Disabling Telemetry": the configs (client lines left out)."""
    config = TelemetryConfig(
        server_url="https://tel-api.mosaicstack.dev",
        api_key="a" * 64,
        instance_id="12345678-1234-1234-1234-123456789abc",
        dry_run=True,
    )
    assert (True, []) == (config.dry_run, config.validate())

    config = TelemetryConfig(enabled=False)
    assert config.enabled is False

    clean_env.setenv("MOSAIC_TELEMETRY_ENABLED", "false")
    assert TelemetryConfig().enabled is False
