"""The read API's part of the OpenAPI document: ``GET /v1/stats/...``, its parameters and its answers.

The parameters come from :mod:`.stats_params` (the same objects the server validates with), the paths from
:data:`.stats_api.STATS_PATHS`; the answers' schemas are written here, beside each other, and the contract tests
(schemathesis) hold the server to them.
"""

from __future__ import annotations

from typing import Any

from ..enums import QualityGate
from .stats_api import STATS_PATHS
from .stats_params import Parameter
from .stats_queries import SERIES_BUCKETS

__all__ = ["stats_paths", "stats_schemas"]

_REF = "#/components/schemas/"
_COUNT = {"type": "integer", "minimum": 0}
_TIME = {"type": "string", "format": "date-time"}
_MAYBE_TIME = {"anyOf": [_TIME, {"type": "null"}]}
_MAYBE_TEXT = {"anyOf": [{"type": "string"}, {"type": "null"}]}
_TEXTS = {"type": "array", "items": {"type": "string"}}
_SUMS = ("events", "input_tokens", "output_tokens", "cost_usd_micros", "succeeded")


def _object(properties: dict[str, Any], description: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties, "required": list(properties)}
    if description:
        schema["description"] = description
    return schema


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF + name}


def _array(name: str) -> dict[str, Any]:
    return {"type": "array", "items": _ref(name)}


def stats_schemas(prediction_query: str, prediction_response: str) -> dict[str, Any]:
    """The components the read API's answers use (``prediction_*``: the names of API v1's schemas)."""
    sums = dict.fromkeys(_SUMS, _COUNT)
    return {
        "StatsFilter": _object(
            {
                "from": _MAYBE_TIME,
                "to": _MAYBE_TIME,
                "model": _MAYBE_TEXT,
                "task_type": _MAYBE_TEXT,
                "harness": _MAYBE_TEXT,
            },
            "The filter the answer is for, as understood (times in UTC)",
        ),
        "StatsTotals": _object({**sums, "gate_passed": _COUNT, "first": _MAYBE_TIME, "last": _MAYBE_TIME}),
        "StatsBucket": _object(
            {"start": _TIME, **sums}, "One UTC hour, day, week (from Monday), month or year of event timestamps"
        ),
        "StatsGroup": _object({"key": {"type": "string"}, **sums, "gate_passed": _COUNT}),
        "StatsGate": _object(
            {
                "task_type": {"type": "string"},
                "gate": {"type": "string", "enum": [gate.value for gate in QualityGate]},
                "runs": _COUNT,
                "failures": _COUNT,
            },
            "Events of the task type that ran the gate, and those that failed it",
        ),
        "StatsOverview": _object(
            {
                "filter": _ref("StatsFilter"),
                "totals": _ref("StatsTotals"),
                "bucket": {"type": "string", "enum": list(SERIES_BUCKETS)},
                "range": _object({"start": _MAYBE_TIME, "end": _MAYBE_TIME}),
                "series": _array("StatsBucket"),
                "by_model": _array("StatsGroup"),
                "by_task_type": _array("StatsGroup"),
                "gates": _array("StatsGate"),
                "durations": _object(
                    {
                        "edges_ms": {"type": "array", "items": _COUNT},
                        "counts": {"type": "array", "items": _COUNT},
                        "p50_ms": {"anyOf": [_COUNT, {"type": "null"}]},
                        "p90_ms": {"anyOf": [_COUNT, {"type": "null"}]},
                    }
                ),
            }
        ),
        "StatsEvent": _object(
            {
                "event_id": {"type": "string", "format": "uuid"},
                "timestamp": _TIME,
                **{
                    name: {"type": "string"}
                    for name in ("task_type", "model", "provider", "complexity", "harness", "outcome")
                },
                "task_duration_ms": _COUNT,
                "input_tokens": _COUNT,
                "output_tokens": _COUNT,
                "cost_usd_micros": _COUNT,
                "quality_gate_passed": {"type": "boolean"},
                "quality_gates_failed": _TEXTS,
            }
        ),
        "StatsEvents": _object(
            {
                "filter": _ref("StatsFilter"),
                "total": _COUNT,
                "limit": _COUNT,
                "offset": _COUNT,
                "events": _array("StatsEvent"),
            },
            "A page of the latest events, newest timestamp first",
        ),
        "StatsFilters": _object(
            {
                "instance_id": {"type": "string", "format": "uuid"},
                "models": _TEXTS,
                "task_types": _TEXTS,
                "harnesses": _TEXTS,
                "first": _MAYBE_TIME,
                "last": _MAYBE_TIME,
            },
            "The values the instance's filters can take",
        ),
        "StatsPredictions": _object(
            {
                "filter": _ref("StatsFilter"),
                "generated_at": _TIME,
                "max_age_seconds": {"type": "number", "minimum": 0},
                "results": {
                    "type": "array",
                    "items": _object(
                        {"query": _ref(prediction_query), "events": _COUNT, "response": _ref(prediction_response)}
                    ),
                },
            },
            "Crowd-sourced predictions (every instance's events) for the instance's most used combinations",
        ),
    }


_ANSWERS = {
    "/v1/stats/overview": (
        "StatsOverview",
        "Totals, the time series, sums by model and task type, gate failures and durations of the instance's events",
    ),
    "/v1/stats/events": ("StatsEvents", "The instance's latest events, a page at a time"),
    "/v1/stats/filters": ("StatsFilters", "The models, task types and harnesses of the instance's events"),
    "/v1/stats/predictions": (
        "StatsPredictions",
        "Predictions for the instance's most used combinations: crowd-sourced, up to the freshness bound old",
    ),
}


def _parameter(parameter: Parameter) -> dict[str, Any]:
    return {
        "name": parameter.name,
        "in": "query",
        "required": False,
        "schema": dict(parameter.schema),
        "description": parameter.description,
    }


def stats_paths(errors: dict[str, Any]) -> dict[str, Any]:
    """The read API's paths; ``errors`` are the document's 401/403 answers, a 422 is added."""
    invalid = {
        "description": "an unknown, repeated or invalid query parameter (each one named in `errors`)",
        "content": {"application/json": {"schema": _ref("Error")}},
    }
    paths = {}
    for path, parameters in STATS_PATHS.items():
        schema, summary = _ANSWERS[path]
        ok = {"description": summary, "content": {"application/json": {"schema": _ref(schema)}}}
        operation: dict[str, Any] = {
            "summary": summary,
            "security": [{"bearer": []}],
            "responses": {"200": ok, **errors, "422": invalid},
        }
        if parameters:
            operation["parameters"] = [_parameter(parameter) for parameter in parameters]
        paths[path] = {"get": operation}
    return paths
