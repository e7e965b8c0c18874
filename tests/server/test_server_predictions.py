"""Predictions: nearest-rank percentiles, correction factors, quality rates, fallback levels and confidence.

Expected values are computed by hand from the documented rules (``server/predictions.py``), not by re-running the
implementation: nearest rank = ceil(p/100 · n), ratio-of-sums correction factors, fallback by dropping complexity,
then model, then provider.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest

from mosaicstack_telemetry import PredictionQuery, PredictionResponse, TaskCompletionEvent
from mosaicstack_telemetry._protocol import PREDICTIONS_PATH, decode_prediction_response
from mosaicstack_telemetry.server import Predictor, SQLiteStorage, nearest_rank
from mosaicstack_telemetry.server.runner import ServerThread

from ._server_support import query, wire_event

INSTANCE = uuid4()
NOW = datetime(2026, 2, 1, 12, 0, tzinfo=timezone.utc)


class Clock:
    """A settable clock for ``last_updated``."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def storage() -> Iterator[SQLiteStorage]:
    with SQLiteStorage() as store:
        yield store


def add(storage: SQLiteStorage, count: int = 1, **fields: Any) -> None:
    """Store ``count`` events with these wire fields (``actual_input_tokens`` may be a list: one per event)."""
    events = []
    for index in range(count):
        values = {
            name: (value[index] if isinstance(value, list) and name != "quality_gates_run" else value)
            for name, value in fields.items()
        }
        events.append(TaskCompletionEvent.model_validate(wire_event(INSTANCE, **values)))
    storage.insert_events(events, NOW)


def predict(storage: SQLiteStorage, **overrides: str) -> PredictionResponse:
    (answer,) = Predictor(storage, clock=lambda: NOW).predict_batch(
        [PredictionQuery.model_validate(query(**overrides))]
    )
    return answer


# -- nearest rank -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("percent", "count", "rank"),
    [
        (10, 20, 2),
        (25, 20, 5),
        (50, 20, 10),
        (75, 20, 15),
        (90, 20, 18),
        (10, 7, 1),  # ceil(0.7)
        (25, 7, 2),  # ceil(1.75)
        (50, 7, 4),  # ceil(3.5)
        (75, 7, 6),  # ceil(5.25)
        (90, 7, 7),  # ceil(6.3)
        (50, 1, 1),
        (0, 5, 1),
        (100, 5, 5),
        (90, 100_000, 90_000),
        (10, 100_001, 10_001),  # ceil(10000.1): integer arithmetic, no float rounding
    ],
)
def test_nearest_rank(percent: int, count: int, rank: int) -> None:
    assert rank == nearest_rank(percent, count)


@pytest.mark.parametrize(("percent", "count"), [(50, 0), (-1, 5), (101, 5)])
def test_nearest_rank_rejects_nonsense(percent: int, count: int) -> None:
    with pytest.raises(ValueError, match=r"no values|outside 0\.\.100"):
        nearest_rank(percent, count)


# -- the statistics ---------------------------------------------------------------------------------------------------


def test_percentiles_of_twenty_values(storage: SQLiteStorage) -> None:
    """Input tokens 10, 20, …, 200 (stored shuffled): p10 = 2nd = 20, p25 = 5th = 50, median = 10th = 100, p75 =
    15th = 150, p90 = 18th = 180."""
    values = [10 * i for i in (7, 3, 19, 1, 12, 20, 5, 9, 14, 2, 16, 8, 11, 4, 18, 6, 13, 17, 10, 15)]
    add(storage, 20, actual_input_tokens=values, actual_output_tokens=[v + 1 for v in values])
    answer = predict(storage)
    assert answer.prediction is not None
    tokens = answer.prediction.input_tokens
    assert (
        20,
        50,
        100,
        150,
        180,
    ) == (tokens.p10, tokens.p25, tokens.median, tokens.p75, tokens.p90)
    output = answer.prediction.output_tokens
    assert (21, 101, 181) == (output.p10, output.median, output.p90)


def test_percentiles_of_seven_values_with_ties(storage: SQLiteStorage) -> None:
    """Sorted 5, 5, 8, 13, 21, 21, 34 — ranks 1, 2, 4, 6, 7 (see test_nearest_rank) give 5, 5, 13, 21, 34; cost
    and duration medians are the 4th values."""
    add(
        storage,
        7,
        actual_input_tokens=[21, 5, 34, 8, 5, 21, 13],
        actual_cost_usd_micros=[700, 100, 500, 300, 200, 600, 400],
        task_duration_ms=[7, 6, 5, 4, 3, 2, 1],
    )
    answer = predict(storage)
    assert answer.prediction is not None
    tokens = answer.prediction.input_tokens
    assert (5, 5, 13, 21, 34) == (tokens.p10, tokens.p25, tokens.median, tokens.p75, tokens.p90)
    assert {"median": 400} == answer.prediction.cost_usd_micros
    assert {"median": 4} == answer.prediction.duration_ms


def test_correction_factors_are_ratios_of_sums_over_positive_estimates(
    storage: SQLiteStorage,
) -> None:
    """Input: (150 + 300) / (100 + 200) = 1.5, the event estimated at 0 left out; output: (50 + 50) / (100 + 100)."""
    add(
        storage,
        3,
        estimated_input_tokens=[100, 200, 0],
        actual_input_tokens=[150, 300, 9_999],
        estimated_output_tokens=[100, 100, 0],
        actual_output_tokens=[50, 50, 7],
    )
    answer = predict(storage)
    assert answer.prediction is not None
    factors = answer.prediction.correction_factors
    assert (1.5, 0.5) == (factors.input, factors.output)


def test_correction_factor_without_estimates_is_one(storage: SQLiteStorage) -> None:
    add(storage, 2, estimated_input_tokens=0, estimated_output_tokens=0)
    answer = predict(storage)
    assert answer.prediction is not None
    assert 1.0 == answer.prediction.correction_factors.input
    assert 1.0 == answer.prediction.correction_factors.output


def test_quality_rates(storage: SQLiteStorage) -> None:
    """3 of 4 passed their gates, 1 of 4 succeeded."""
    add(
        storage,
        4,
        quality_gate_passed=[True, True, False, True],
        outcome=["success", "failure", "partial", "timeout"],
    )
    answer = predict(storage)
    assert answer.prediction is not None
    assert 0.75 == answer.prediction.quality.gate_pass_rate
    assert 0.25 == answer.prediction.quality.success_rate


# -- fallback ---------------------------------------------------------------------------------------------------------

EXACT = {"task_type": "testing", "model": "m-exact", "provider": "openai", "complexity": "high"}


def test_level_0_with_enough_exact_samples(storage: SQLiteStorage) -> None:
    add(storage, 10, **EXACT)
    add(storage, 50, **{**EXACT, "complexity": "low"})  # a broader match does not dilute an exact one
    meta = predict(storage, **EXACT).metadata
    assert (0, 10, "low") == (meta.fallback_level, meta.sample_size, meta.confidence)
    assert EXACT == meta.dimensions_matched
    assert meta.fallback_note is None
    assert NOW == meta.last_updated


def test_level_1_drops_complexity(storage: SQLiteStorage) -> None:
    add(storage, 9, **EXACT)
    add(storage, 3, **{**EXACT, "complexity": "low"})
    meta = predict(storage, **EXACT).metadata
    assert (1, 12, "low") == (meta.fallback_level, meta.sample_size, meta.confidence)
    assert {**EXACT, "complexity": None} == meta.dimensions_matched
    assert (
        "9 events match exactly (fewer than 10); using 12 events matching task_type, model, provider"
        " (complexity dropped)"
    ) == meta.fallback_note


def test_level_2_drops_model(storage: SQLiteStorage) -> None:
    add(storage, 2, **EXACT)
    add(storage, 20, **{**EXACT, "model": "m-other"})
    add(storage, 50, **{**EXACT, "provider": "google"})  # another provider: not part of level 2
    answer = predict(storage, **EXACT)
    meta = answer.metadata
    assert (2, 22, "low") == (meta.fallback_level, meta.sample_size, meta.confidence)
    assert {**EXACT, "model": None, "complexity": None} == meta.dimensions_matched
    assert meta.fallback_note is not None
    assert meta.fallback_note.endswith("(model, complexity dropped)")


def test_level_3_keeps_only_the_task_type(storage: SQLiteStorage) -> None:
    add(storage, 1, **EXACT)
    add(storage, 30, **{**EXACT, "provider": "google", "model": "g"})
    add(storage, 99, **{**EXACT, "task_type": "planning"})
    meta = predict(storage, **EXACT).metadata
    assert (3, 31, "low") == (meta.fallback_level, meta.sample_size, meta.confidence)
    assert {
        "task_type": "testing",
        "model": None,
        "provider": None,
        "complexity": None,
    } == meta.dimensions_matched


def test_no_data_for_the_task_type(storage: SQLiteStorage) -> None:
    add(storage, 40, **{**EXACT, "task_type": "planning"})
    answer = predict(storage, **EXACT)
    assert answer.prediction is None
    meta = answer.metadata
    assert (-1, 0, "none") == (meta.fallback_level, meta.sample_size, meta.confidence)
    assert meta.dimensions_matched is None
    assert meta.last_updated is None
    assert "no events for task_type 'testing'" == meta.fallback_note


def test_too_few_everywhere_uses_the_most_specific_level_with_data(
    storage: SQLiteStorage,
) -> None:
    """No level reaches 10 events: the most specific level with any data answers, flagged in the note."""
    add(storage, 2, **{**EXACT, "complexity": "low"})
    add(storage, 3, **{**EXACT, "provider": "google"})
    meta = predict(storage, **EXACT).metadata
    assert (1, 2, "low") == (meta.fallback_level, meta.sample_size, meta.confidence)
    assert meta.fallback_note is not None
    assert meta.fallback_note.endswith("; no level has 10 events")


def test_few_exact_samples_and_nothing_broader(storage: SQLiteStorage) -> None:
    add(storage, 4, **EXACT)
    meta = predict(storage, **EXACT).metadata
    assert (0, 4, "low") == (meta.fallback_level, meta.sample_size, meta.confidence)
    assert "only 4 events match exactly (fewer than 10), and no broader match has more data" == meta.fallback_note


@pytest.mark.parametrize(
    ("exact", "confidence"),
    [(100, "high"), (99, "medium"), (30, "medium"), (29, "low"), (10, "low")],
)
def test_confidence_thresholds(storage: SQLiteStorage, exact: int, confidence: str) -> None:
    add(storage, exact, **EXACT)
    meta = predict(storage, **EXACT).metadata
    assert (0, confidence) == (meta.fallback_level, meta.confidence)


def test_any_fallback_is_low_confidence_however_large(storage: SQLiteStorage) -> None:
    add(storage, 300, **{**EXACT, "complexity": "low"})
    meta = predict(storage, **EXACT).metadata
    assert (1, 300, "low") == (meta.fallback_level, meta.sample_size, meta.confidence)


# -- caching and batches ----------------------------------------------------------------------------------------------


def test_summaries_are_cached_until_events_are_added(storage: SQLiteStorage) -> None:
    clock = Clock()
    predictor = Predictor(storage, clock=clock)
    probe = PredictionQuery.model_validate(query())
    add(storage, 12)
    first = predictor.predict_batch([probe])[0].metadata
    clock.now = NOW + timedelta(minutes=5)
    second = predictor.predict_batch([probe])[0].metadata
    assert (False, True) == (first.cache_hit, second.cache_hit)
    assert NOW == first.last_updated == second.last_updated
    add(storage, 1)
    third = predictor.predict_batch([probe])[0].metadata
    assert (False, 13, clock.now) == (third.cache_hit, third.sample_size, third.last_updated)
    predictor.clear_cache()
    assert predictor.predict_batch([probe])[0].metadata.cache_hit is False


def test_a_full_cache_starts_over(storage: SQLiteStorage) -> None:
    """With room for one summary, each new group empties the cache: only the last one computed is a hit."""
    add(storage, 12)
    add(storage, 12, task_type="planning")
    predictor = Predictor(storage, cache_size=1)
    first, second = (PredictionQuery.model_validate(query(task_type=t)) for t in ("implementation", "planning"))
    predictor.predict_batch([first, second])
    assert predictor.predict_batch([second])[0].metadata.cache_hit
    assert not predictor.predict_batch([first])[0].metadata.cache_hit


def test_a_batch_answers_in_order_and_repeats_are_computed_once(storage: SQLiteStorage) -> None:
    add(storage, 12)
    add(storage, 15, task_type="planning")
    queries = [
        PredictionQuery.model_validate(query(task_type=task_type))
        for task_type in ("planning", "implementation", "planning", "debugging")
    ]
    answers = Predictor(storage).predict_batch(queries)
    assert [15, 12, 15, 0] == [a.metadata.sample_size for a in answers]
    assert answers[0] is answers[2]


def test_file_storage_answers_the_same(tmp_path: Path) -> None:
    """WAL file + pooled reader connections: same numbers; the data survives reopening."""
    path = tmp_path / "telemetry.sqlite3"
    with SQLiteStorage(path) as store:
        add(store, 20, actual_input_tokens=[10 * i for i in range(1, 21)])
        assert str(path) == store.path
    with SQLiteStorage(path) as store:
        answer = predict(store)
        assert answer.prediction is not None
        assert 100 == answer.prediction.input_tokens.median
        assert 20 == store.count_events()


# -- over HTTP --------------------------------------------------------------------------------------------------------


def test_predictions_over_http(reference_server: ServerThread, client: httpx.Client) -> None:
    """Events in, predictions out, decoded with the client's own decoder; same order as the queries."""
    events = [wire_event(reference_server.instance_id, actual_input_tokens=100 * i) for i in range(1, 11)]
    assert 10 == client.post("/v1/events/batch", json={"events": events}).json()["accepted"]
    response = client.post(PREDICTIONS_PATH, json={"queries": [query(task_type="debugging"), query()]})
    assert 200 == response.status_code
    nothing, answer = decode_prediction_response(response.content)
    assert nothing.prediction is None
    assert answer.prediction is not None
    assert 500 == answer.prediction.input_tokens.median
    assert 0 == answer.metadata.fallback_level


def test_predictions_need_a_key(reference_server: ServerThread) -> None:
    response = httpx.post(f"{reference_server.url}{PREDICTIONS_PATH}", json={"queries": [query()]})
    assert 401 == response.status_code


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"queries": []}, "queries must hold 1 to 100 items, got 0"),
        ({"queries": [query()] * 101}, "queries must hold 1 to 100 items, got 101"),
        ({"query": []}, 'expected a JSON object {"queries": [...]}'),
        ([query()], 'expected a JSON object {"queries": [...]}'),
    ],
)
def test_prediction_envelope_errors_are_422(client: httpx.Client, body: Any, detail: str) -> None:
    response = client.post(PREDICTIONS_PATH, json=body)
    assert (422, {"detail": detail}) == (response.status_code, response.json())


def test_invalid_query_is_422_naming_the_path(client: httpx.Client) -> None:
    response = client.post(PREDICTIONS_PATH, json={"queries": [query(), query(provider="nobody"), 7]})
    assert 422 == response.status_code
    body = response.json()
    assert "invalid prediction queries" == body["detail"]
    assert body["errors"][0].startswith("queries[1].provider='nobody' is not one of")
    assert "queries[2]: expected an object, got int" == body["errors"][1]


def test_prediction_body_errors(client: httpx.Client) -> None:
    bad_json = client.post(PREDICTIONS_PATH, content=b"{", headers={"Content-Type": "application/json"})
    assert 400 == bad_json.status_code
    wrong_type = client.post(
        PREDICTIONS_PATH,
        content=json.dumps({"queries": [query()]}),
        headers={"Content-Type": "text/json"},
    )
    assert 415 == wrong_type.status_code
