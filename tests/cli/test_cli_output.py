"""What the commands print: numbers for people, the predictions table, the stats table."""

from __future__ import annotations

import io
from datetime import datetime, timezone
from types import MappingProxyType

import pytest
from rich.console import Console

from mosaicstack_telemetry import PredictionQuery, PredictionResponse
from mosaicstack_telemetry.cli import output
from mosaicstack_telemetry.predictions import (
    CorrectionFactors,
    PredictionData,
    PredictionMetadata,
    QualityPrediction,
    TokenDistribution,
)
from mosaicstack_telemetry.stats import ClientStats

QUERY = PredictionQuery(task_type="testing", model="claude-sonnet-4-20250514", provider="anthropic", complexity="high")


def _render(renderable: object, width: int = 132) -> str:
    console = Console(width=width, record=True, color_system=None, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def _response(level: int = 0, *, data: bool = True) -> PredictionResponse:
    distribution = TokenDistribution(p10=1_000, p25=2_000, median=5_200, p75=9_000, p90=14_000)
    prediction = PredictionData(
        input_tokens=distribution,
        output_tokens=distribution,
        cost_usd_micros={"median": 51_000},
        duration_ms={"median": 125_000},
        correction_factors=CorrectionFactors(input=1.1, output=1.25),
        quality=QualityPrediction(gate_pass_rate=0.8, success_rate=0.875),
    )
    return PredictionResponse(
        prediction=prediction if data else None,
        metadata=PredictionMetadata(
            sample_size=40 if data else 0,
            fallback_level=level if data else -1,
            confidence=("low" if level else "medium") if data else "none",
            last_updated=datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc) if data else None,
            fallback_note="using fewer dimensions" if level else None,
        ),
    )


@pytest.mark.parametrize(
    ("count", "expected"),
    [(0, "0"), (999, "999"), (1_000, "1.0k"), (9_949, "9.9k"), (9_950, "10k"), (999_499, "999k"), (999_500, "1.0M")],
)
def test_tokens(count: int, expected: str) -> None:
    """Token counts at a glance, never "10.0k" (the rounding boundary)."""
    assert expected == output.tokens(count)


@pytest.mark.parametrize(
    ("micros", "expected"),
    [(0, "$0"), (4_200, "$0.0042"), (51_000, "$0.051"), (1_234_567, "$1.23"), (12_345_678_901, "$12,345.68")],
)
def test_cost(micros: int, expected: str) -> None:
    """Microdollars as dollars, with the digits that matter."""
    assert expected == output.cost(micros)


@pytest.mark.parametrize(
    ("milliseconds", "expected"), [(850, "850 ms"), (42_400, "42 s"), (185_000, "3m05s"), (3_720_000, "1h02m")]
)
def test_duration(milliseconds: int, expected: str) -> None:
    assert expected == output.duration(milliseconds)


def test_labels() -> None:
    """Fallback levels in words; model release dates dropped for the table."""
    assert ["exact", "any cplx", "any model", "task only", "no data", "level 7"] == [
        output.fallback_label(level) for level in (0, 1, 2, 3, -1, 7)
    ]
    assert "claude-sonnet-4" == output.short_model("claude-sonnet-4-20250514")
    assert "gpt-4o" == output.short_model("gpt-4o")
    assert "88%" == output.percent(0.875)


def test_predictions_table_rows_fallbacks_and_gaps() -> None:
    """A row per combination: exact, fallback (confidence with the level), no data, not fetched; rare ones last."""
    other = PredictionQuery(task_type="planning", model="gpt-4o", provider="openai", complexity="low")
    missing = PredictionQuery(task_type="debugging", model="o3-mini", provider="openai", complexity="critical")
    table = output.predictions_table(
        [(QUERY, _response()), (other, _response(data=False))],
        rare=[(missing, None), (QUERY, _response(2))],
        title="Predictions",
    )
    text = _render(table)
    lines = text.splitlines()
    assert "Predictions" == lines[0].strip()
    exact = next(line for line in lines if line.startswith("testing") and "medium" in line.split()[-1:])
    assert [
        "testing",
        "claude-sonnet-4",
        "high",
        "40",
        "5.2k/14k",
        "5.2k/14k",
        "$0.051",
        "2m05s",
        "88%",
        "80%",
        "medium",
    ] == exact.split()
    nothing = next(line for line in lines if line.startswith("planning"))
    assert ["planning", "gpt-4o", "low", "0", *["-"] * 6, "none,", "no", "data"] == nothing.split()
    assert "not fetched" in lines[-2]
    assert lines[-1].endswith("low, any model")


def test_prediction_details_and_dict() -> None:
    """One prediction in full (predict), and as JSON types with the wire format's names."""
    text = _render(output.prediction_details(QUERY, _response(1)))
    assert "testing / claude-sonnet-4-20250514 / anthropic / high" in text
    assert "40 events, fallback: any cplx" in text
    assert "median 5,200  p90 14,000  (p10 1,000, p25 2,000, p75 9,000)" in text
    assert "input x1.10, output x1.25" in text
    assert "2026-01-02T03:04:05+00:00" in text
    assert "note" in text
    nothing = _render(output.prediction_details(QUERY, _response(data=False)))
    assert "none: the server has no events for this task type" in nothing
    document = output.prediction_dict(QUERY, _response())
    assert "testing" == document["query"]["task_type"]
    assert 5_200 == document["response"]["prediction"]["input_tokens"]["median"]
    assert {"query": QUERY.model_dump(mode="json"), "response": None} == output.prediction_dict(QUERY, None)


def test_stats_table_and_dict() -> None:
    """Every counter with its meaning, drops by reason, and whether everything is accounted for."""
    stats = ClientStats(
        tracked=10, sent=6, rejected=1, dropped=MappingProxyType({"overflow": 2}), retried=3,
        failed_batches=1, queued=1, in_flight=0, predictions_fetched=4, prediction_failures=1,
    )  # fmt: skip
    text = _render(output.stats_table(stats))
    assert "overflow 2" in text
    assert "accounted for" in text
    assert "yes" in text
    unbalanced = ClientStats(
        tracked=11, sent=6, rejected=1, dropped=MappingProxyType({}), retried=0, failed_batches=0, queued=1, in_flight=0
    )
    assert "NO" in _render(output.stats_table(unbalanced))
    assert {"overflow": 2} == output.stats_dict(stats)["dropped"]
    assert output.stats_dict(stats)["balanced"] is True
