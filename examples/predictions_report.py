"""Predictions: ask the server what similar tasks cost, and print it.

``refresh_predictions_sync(queries)`` fetches into the client's cache (``await refresh_predictions(...)`` from async
code); ``get_prediction(query)`` reads the cache from any thread without waiting. A prediction is ``None`` until
fetched; ``response.prediction`` is ``None`` when the server has no data at all for the task type.

So that a fresh local server has something to predict from, this example first reports a few made-up tasks.

Run it::

    python examples/predictions_report.py

It reads ``MOSAIC_TELEMETRY_SERVER_URL``/``_API_KEY``/``_INSTANCE_ID``; without them it starts a local reference
server. It sends made-up events: point it at a test server, not at production.
"""

from __future__ import annotations

from _server import telemetry_server

from mosaicstack_telemetry import (
    Complexity,
    Outcome,
    PredictionQuery,
    PredictionResponse,
    Provider,
    TaskType,
    TelemetryClient,
    TelemetryConfig,
)

MODEL = "claude-sonnet-4-20250514"
QUERIES = [
    PredictionQuery(task_type=TaskType.IMPLEMENTATION, model=MODEL, provider=Provider.ANTHROPIC, complexity=level)
    for level in (Complexity.LOW, Complexity.MEDIUM, Complexity.HIGH)
]


def seed(client: TelemetryClient) -> None:
    """Report a few finished tasks (medium and high complexity only: low will fall back)."""
    for number in range(6):
        complexity = Complexity.MEDIUM if number % 2 else Complexity.HIGH
        scale = 1 if complexity is Complexity.MEDIUM else 3
        client.track(
            client.event_builder()
            .task_type(TaskType.IMPLEMENTATION)
            .model(MODEL)
            .provider(Provider.ANTHROPIC)
            .complexity_level(complexity)
            .outcome_value(Outcome.SUCCESS if number != 4 else Outcome.FAILURE)
            .duration_ms(scale * (40_000 + 1_000 * number))
            .tokens(
                estimated_in=scale * 5_000,
                estimated_out=scale * 2_000,
                actual_in=scale * (5_000 + 100 * number),
                actual_out=scale * 1_900,
            )
            .cost(estimated=scale * 50_000, actual=scale * (47_000 + 500 * number))
            .quality(passed=number != 4)
            .build()
        )


def describe(query: PredictionQuery, response: PredictionResponse | None) -> str:
    label = f"{query.task_type.value}/{query.complexity.value}"
    if response is None:
        return f"{label}: not fetched"
    meta = response.metadata
    if response.prediction is None:
        return f"{label}: no data (confidence {meta.confidence})"
    data = response.prediction
    return (
        f"{label}: input tokens median {data.input_tokens.median} (p90 {data.input_tokens.p90}), "
        f"cost median ${data.cost_usd_micros['median'] / 1_000_000:.4f}, "
        f"success {data.quality.success_rate:.0%}, correction x{data.correction_factors.input:.2f}; "
        f"{meta.sample_size} events, confidence {meta.confidence}, fallback level {meta.fallback_level}"
    )


def main() -> None:
    with TelemetryClient(TelemetryConfig()) as client:  # from the MOSAIC_TELEMETRY_* environment variables
        seed(client)
        client.flush()  # the server predicts from what it has stored
        client.refresh_predictions_sync(QUERIES)
        for query in QUERIES:
            print(describe(query, client.get_prediction(query)))
        print(f"{client.stats.predictions_fetched} predictions fetched")


if __name__ == "__main__":
    with telemetry_server():
        main()
