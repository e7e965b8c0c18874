"""The original SDK's usage examples (seeds 000 and 002), run unchanged against the reference server.

Each body below is the seed's code as published, with only the placeholder config values (URL, api key, instance id)
replaced by the test server's, and its imports at module top. The FastAPI example needs FastAPI (not a dependency);
its event-building body is covered by tests/models/test_seed_snippets.py.
"""

from __future__ import annotations

import asyncio
import time

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
    TaskType,
    TelemetryClient,
    TelemetryConfig,
)
from mosaicstack_telemetry.server.runner import ServerThread


def guide_event(config: TelemetryConfig) -> object:
    """The integration guide's sync-usage event, verbatim."""
    return (
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
            gates_run=[QualityGate.BUILD, QualityGate.LINT, QualityGate.TEST, QualityGate.TYPECHECK],
        )
        .context(compactions=2, rotations=0, utilization=0.72)
        .language("typescript")
        .build()
    )


def test_guide_sync_usage(server: ServerThread) -> None:
    """Integration guide, "Sync Usage (Threading)": start, track, stop."""
    config = TelemetryConfig(
        server_url=server.url,
        api_key=server.api_key,
        instance_id=str(server.instance_id),
    )

    client = TelemetryClient(config)
    client.start()  # Starts background daemon thread

    event = guide_event(config)

    client.track(event)  # type: ignore[arg-type]  # Non-blocking, thread-safe

    client.stop()  # Flushes remaining events and stops the thread

    assert 1 == server.storage.count_events()


def test_guide_sync_context_manager(server: ServerThread) -> None:
    """Integration guide, "Sync Context Manager"."""
    config = TelemetryConfig(server_url=server.url, api_key=server.api_key, instance_id=str(server.instance_id))
    event = guide_event(config)

    with TelemetryClient(config) as client:
        client.track(event)  # type: ignore[arg-type]
    # Automatically flushed and stopped here

    assert 1 == server.storage.count_events()


def test_guide_async_usage_and_async_context_manager(server: ServerThread) -> None:
    """Integration guide, "Async Usage (asyncio)" and "Async Context Manager", under asyncio.run as published."""
    config_for_event = TelemetryConfig(
        server_url=server.url, api_key=server.api_key, instance_id=str(server.instance_id)
    )
    event = guide_event(config_for_event)
    second = guide_event(config_for_event)

    async def main() -> None:
        config = TelemetryConfig(
            server_url=server.url,
            api_key=server.api_key,
            instance_id=str(server.instance_id),
        )
        client = TelemetryClient(config)
        await client.start_async()  # Starts asyncio background task

        # track() is always synchronous and non-blocking
        client.track(event)  # type: ignore[arg-type]

        await client.stop_async()  # Flushes remaining events

        async with TelemetryClient(config) as client:
            client.track(second)  # type: ignore[arg-type]
        # Automatically flushed and stopped here

    asyncio.run(main())
    assert 2 == server.storage.count_events()


def test_guide_generic_python_app(server: ServerThread, monkeypatch: pytest.MonkeyPatch) -> None:
    """Integration guide, "Example 2: Instrumenting a Generic Python App": config from the environment."""
    monkeypatch.setenv("MOSAIC_TELEMETRY_SERVER_URL", server.url)
    monkeypatch.setenv("MOSAIC_TELEMETRY_API_KEY", server.api_key)
    monkeypatch.setenv("MOSAIC_TELEMETRY_INSTANCE_ID", str(server.instance_id))
    monkeypatch.delenv("MOSAIC_TELEMETRY_ENABLED", raising=False)
    tracked: list[object] = []

    def run_coding_task() -> dict[str, object]:
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

    def main() -> None:
        config = TelemetryConfig()  # Reads from MOSAIC_TELEMETRY_* env vars

        with TelemetryClient(config) as client:
            result = run_coding_task()

            event = (
                EventBuilder(instance_id=config.instance_id)
                .task_type(TaskType.IMPLEMENTATION)
                .model("claude-sonnet-4-5-20250929")
                .provider(Provider.ANTHROPIC)
                .harness_type(Harness.AIDER)
                .complexity_level(Complexity.MEDIUM)
                .outcome_value(Outcome(result["outcome"]))
                .duration_ms(result["duration_ms"])  # type: ignore[arg-type]
                .tokens(
                    estimated_in=5000,
                    estimated_out=2000,
                    actual_in=result["actual_input_tokens"],  # type: ignore[arg-type]
                    actual_out=result["actual_output_tokens"],  # type: ignore[arg-type]
                )
                .cost(estimated=50000, actual=result["actual_cost_usd_micros"])  # type: ignore[arg-type]
                .quality(
                    passed=result["quality_gates_passed"],  # type: ignore[arg-type]
                    gates_run=[QualityGate.BUILD, QualityGate.LINT, QualityGate.TEST],
                )
                .context(compactions=0, rotations=0, utilization=0.35)
                .language("python")
                .repo_size(RepoSizeCategory.MEDIUM)
                .build()
            )

            client.track(event)
            tracked.append(event.event_id)
        # Client is automatically flushed and stopped after the `with` block

    main()
    assert 1 == server.storage.count_events()
    assert server.storage.fetch_event(server.instance_id, tracked[0]) is not None  # type: ignore[arg-type]


def test_readme_querying_predictions(server: ServerThread, capsys: pytest.CaptureFixture[str]) -> None:
    """README, "Querying Predictions": sync refresh, then read from the cache and print."""
    config = TelemetryConfig(server_url=server.url, api_key=server.api_key, instance_id=str(server.instance_id))
    client = TelemetryClient(config)
    with client:
        client.track(guide_event(config))  # type: ignore[arg-type]

    query = PredictionQuery(
        task_type=TaskType.IMPLEMENTATION,
        model="claude-sonnet-4-5-20250929",
        provider=Provider.ANTHROPIC,
        complexity=Complexity.MEDIUM,
    )

    # Sync
    client.refresh_predictions_sync([query])

    # Read from cache
    prediction = client.get_prediction(query)
    if prediction and prediction.prediction:
        print(f"Expected input tokens (median): {prediction.prediction.input_tokens.median}")
        print(f"Expected cost (median): ${prediction.prediction.cost_usd_micros['median'] / 1_000_000:.4f}")
        print(f"Quality gate pass rate: {prediction.prediction.quality.gate_pass_rate:.0%}")

    assert capsys.readouterr().out.splitlines() == [
        "Expected input tokens (median): 112340",
        "Expected cost (median): $0.9192",
        "Quality gate pass rate: 100%",
    ]
