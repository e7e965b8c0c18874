"""Shared values and helpers of the model tests: fixed ids, a full event, golden files, the stdlib JSON path."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from unittest import mock
from uuid import UUID

from mosaicstack_telemetry import (
    BatchEventResponse,
    BatchEventResult,
    CorrectionFactors,
    PredictionData,
    PredictionMetadata,
    PredictionQuery,
    PredictionResponse,
    QualityPrediction,
    TaskCompletionEvent,
    TokenDistribution,
    _wire,
)

GOLDEN = Path(__file__).parent / "golden"

INSTANCE_ID = "12345678-1234-1234-1234-123456789abc"
EVENT_ID = "0f3c2b1a-9d8e-4f7a-b6c5-d4e3f2a1b0c9"
OTHER_EVENT_ID = "6a1e2f3d-4c5b-4a69-8877-665544332211"
API_KEY = "a" * 64
TIMESTAMP = datetime(2026, 2, 15, 12, 30, 45, 123456, tzinfo=timezone.utc)

ENV_VARS = (
    "MOSAIC_TELEMETRY_ENABLED",
    "MOSAIC_TELEMETRY_SERVER_URL",
    "MOSAIC_TELEMETRY_API_KEY",
    "MOSAIC_TELEMETRY_INSTANCE_ID",
)


def golden(name: str) -> Any:
    """The parsed JSON value of ``golden/<name>.json``."""
    return json.loads((GOLDEN / f"{name}.json").read_text(encoding="utf-8"))


def golden_bytes(name: str) -> bytes:
    """The raw text of ``golden/<name>.json``."""
    return (GOLDEN / f"{name}.json").read_bytes()


@contextmanager
def stdlib_json() -> Iterator[None]:
    """Run the block with ``_wire`` on the stdlib :mod:`json` path (as without the ``fast`` extra)."""
    with mock.patch.object(_wire, "orjson", None):
        yield


def valid_event_kwargs(**overrides: Any) -> dict[str, Any]:
    """Keyword arguments of a valid event with every required field (documented types), plus ``overrides``."""
    kwargs: dict[str, Any] = {
        "instance_id": INSTANCE_ID,
        "task_duration_ms": 45000,
        "task_type": "implementation",
        "complexity": "medium",
        "harness": "claude_code",
        "model": "claude-sonnet-4-5-20250929",
        "provider": "anthropic",
        "estimated_input_tokens": 105000,
        "estimated_output_tokens": 45000,
        "actual_input_tokens": 112340,
        "actual_output_tokens": 38760,
        "estimated_cost_usd_micros": 630000,
        "actual_cost_usd_micros": 919200,
        "quality_gate_passed": True,
        "context_compactions": 2,
        "context_rotations": 0,
        "context_utilization_final": 0.72,
        "outcome": "success",
        "retry_count": 0,
    }
    kwargs.update(overrides)
    return kwargs


def full_event() -> TaskCompletionEvent:
    """The event of ``golden/event.json``: every field set, optional ones included."""
    return TaskCompletionEvent(
        instance_id=UUID(INSTANCE_ID),
        event_id=UUID(EVENT_ID),
        schema_version="1.0",
        timestamp=TIMESTAMP,
        task_duration_ms=45000,
        task_type="implementation",
        complexity="high",
        harness="claude_code",
        model="claude-sonnet-4-5-20250929",
        provider="anthropic",
        estimated_input_tokens=105000,
        estimated_output_tokens=45000,
        actual_input_tokens=112340,
        actual_output_tokens=38760,
        estimated_cost_usd_micros=630000,
        actual_cost_usd_micros=919200,
        quality_gate_passed=False,
        quality_gates_run=["build", "lint", "test", "coverage"],
        quality_gates_failed=["coverage"],
        context_compactions=2,
        context_rotations=1,
        context_utilization_final=0.72,
        outcome="partial",
        retry_count=1,
        language="python",
        repo_size_category="medium",
    )


def batch_event_response() -> BatchEventResponse:
    """The reply of ``golden/batch_event_response.json``: one accepted and one rejected event."""
    return BatchEventResponse(
        accepted=1,
        rejected=1,
        results=[
            BatchEventResult(event_id=EVENT_ID, status="accepted"),
            BatchEventResult(event_id=OTHER_EVENT_ID, status="rejected", error="Duplicate event_id"),
        ],
    )


def prediction_query() -> PredictionQuery:
    """The first query of ``golden/prediction_request.json``."""
    return PredictionQuery(
        task_type="implementation",
        model="claude-sonnet-4-5-20250929",
        provider="anthropic",
        complexity="medium",
    )


def other_prediction_query() -> PredictionQuery:
    """The second query of ``golden/prediction_request.json``."""
    return PredictionQuery(
        task_type="testing",
        model="claude-haiku-4-5-20251001",
        provider="anthropic",
        complexity="low",
    )


def full_prediction_response() -> PredictionResponse:
    """The reply of ``golden/prediction_response_full.json``: every field set, a fallback with a note."""
    return PredictionResponse(
        prediction=PredictionData(
            input_tokens=TokenDistribution(p10=50000, p25=80000, median=112000, p75=150000, p90=210000),
            output_tokens=TokenDistribution(p10=12000, p25=20000, median=38000, p75=52000, p90=71000),
            cost_usd_micros={"median": 919200},
            duration_ms={"median": 45000},
            correction_factors=CorrectionFactors(input=1.07, output=0.86),
            quality=QualityPrediction(gate_pass_rate=0.82, success_rate=0.91),
        ),
        metadata=PredictionMetadata(
            sample_size=1234,
            fallback_level=1,
            confidence="medium",
            last_updated=datetime(2026, 2, 15, 6, 0, tzinfo=timezone.utc),
            dimensions_matched={
                "task_type": "implementation",
                "model": None,
                "provider": "anthropic",
                "complexity": "medium",
            },
            fallback_note="model dropped: fewer than 30 samples",
            cache_hit=True,
        ),
    )


def empty_prediction_response() -> PredictionResponse:
    """The reply of ``golden/prediction_response_none.json``: no data, confidence "none", fallback_level -1."""
    return PredictionResponse(
        prediction=None,
        metadata=PredictionMetadata(
            sample_size=0,
            fallback_level=-1,
            confidence="none",
            last_updated=None,
            dimensions_matched=None,
            fallback_note="No telemetry data for this combination",
            cache_hit=False,
        ),
    )
