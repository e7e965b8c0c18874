"""The OpenAPI 3.1 document of Telemetry API v1, generated from the models' field rules (served at ``/openapi.json``).

It also documents the dashboard's read API, ``GET /v1/stats/...`` (:mod:`.stats_openapi`).

One source: each model's JSON Schema is built from the same :mod:`mosaicstack_telemetry._rules` its validator is
generated from, in their *wire* form — what :mod:`.boundary` accepts: integers as JSON integers, gate lists as
arrays of at most 16, date-times as RFC 3339 strings. Nothing here is written by hand but the paths, the envelopes
and the statuses each path answers. ``python -m mosaicstack_telemetry.server.openapi`` prints the document.
"""

from __future__ import annotations

import json
from typing import Any

import attrs

from .._protocol import EVENTS_PATH, MAX_PREDICTION_QUERIES, PREDICTIONS_PATH
from .._rules import (
    Bool,
    DateTime,
    EnumList,
    EnumOf,
    FloatRange,
    IntRange,
    IsUUID,
    ListOf,
    MappingOf,
    Nested,
    Rule,
    Text,
    field_rules,
)
from .._version import __version__
from ..batch import MAX_BATCH_SIZE, BatchEventResponse
from ..events import TaskCompletionEvent
from ..predictions import PredictionQuery, PredictionResponse
from .boundary import RFC3339_PATTERN, SCHEMA_VERSION_PATTERN
from .stats_openapi import stats_paths, stats_schemas

__all__ = ["OPENAPI_PATH", "openapi_document"]

#: Where the server serves the document.
OPENAPI_PATH = "/openapi.json"

_REF = "#/components/schemas/"


def _rule_schema(rule: Rule, models: dict[str, Any]) -> dict[str, Any]:
    schema = _plain_schema(rule, models)
    if rule.optional:
        return {"anyOf": [schema, {"type": "null"}]}
    return schema


def _plain_schema(rule: Rule, models: dict[str, Any]) -> dict[str, Any]:
    if isinstance(rule, IntRange):
        return {"type": "integer", "minimum": rule.low, "maximum": rule.high}
    if isinstance(rule, FloatRange):
        bounds = {"minimum": rule.low, "maximum": rule.high}
        return {"type": "number", **{key: value for key, value in bounds.items() if value is not None}}
    if isinstance(rule, Text):
        text: dict[str, Any] = {"type": "string", "minLength": rule.min_length}
        if rule.max_length is not None:
            text["maxLength"] = rule.max_length
        return text
    if isinstance(rule, Bool):
        return {"type": "boolean"}
    if isinstance(rule, EnumOf):
        return {"type": "string", "enum": [member.value for member in rule.enum]}
    if isinstance(rule, EnumList):
        array: dict[str, Any] = {"type": "array", "items": {"type": "string", "enum": [m.value for m in rule.enum]}}
        if rule.max_items is not None:
            array["maxItems"] = rule.max_items
        return array
    if isinstance(rule, IsUUID):
        return {"type": "string", "format": "uuid"}
    if isinstance(rule, DateTime):
        return {"type": "string", "format": "date-time", "pattern": RFC3339_PATTERN}
    if isinstance(rule, MappingOf):
        return {"type": "object", "additionalProperties": _rule_schema(rule.values, models)}
    if isinstance(rule, Nested):
        return {"$ref": _REF + _model_schema(rule.model, models)}
    if isinstance(rule, ListOf):
        listed: dict[str, Any] = {"type": "array", "items": _plain_schema(rule.item, models)}
        listed["minItems"] = rule.min_items
        if rule.max_items is not None:
            listed["maxItems"] = rule.max_items
        return listed
    raise TypeError(f"no JSON Schema for {type(rule).__name__}")  # pragma: no cover - every rule kind is above


def _model_schema(cls: type[Any], models: dict[str, Any]) -> str:
    """Add ``cls``'s schema to ``models`` (once) and return its name."""
    name = cls.__name__
    if name in models:
        return name
    models[name] = {}  # reserved: nested references terminate
    fields = {field.name: field for field in attrs.fields(cls)}
    properties = {name: _rule_schema(rule, models) for name, rule in field_rules(cls).items()}
    required = [name for name in properties if fields[name].default is attrs.NOTHING]
    models[name] = {"type": "object", "properties": properties, "required": required}
    if cls.__doc__:
        models[name]["description"] = cls.__doc__.strip().splitlines()[0]
    return name


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": _REF + "Error"}}}}


def _ok(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _authenticated_errors(max_body_bytes: int) -> dict[str, Any]:
    return {
        "400": _error("the body is not UTF-8 JSON, or a Content-Encoding cannot be inflated"),
        "401": _error("Authorization is missing or not `Bearer <64 hex>`"),
        "403": _error("unknown or revoked key, or an event of another instance"),
        "413": _error(f"the body (inflated) exceeds {max_body_bytes} bytes"),
        "415": _error("Content-Type is not application/json, or a Content-Encoding other than identity or gzip"),
        "422": _error("the envelope is not an object with 1 to 100 items, or a prediction query is invalid"),
    }


def _post(
    summary: str, key: str, item: dict[str, Any], limit: int, reply: dict[str, Any], *, errors: dict[str, Any]
) -> dict[str, Any]:
    envelope = {
        "type": "object",
        "properties": {key: {"type": "array", "items": item, "minItems": 1, "maxItems": limit}},
        "required": [key],
    }
    return {
        "post": {
            "summary": summary,
            "security": [{"bearer": []}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": envelope}}},
            "responses": {"200": reply, **errors},
        }
    }


def openapi_document(*, health_path: str, max_body_bytes: int) -> dict[str, Any]:
    """The OpenAPI 3.1 document of a server with this health path and body limit (a new dict each call)."""
    errors = _authenticated_errors(max_body_bytes)
    models: dict[str, Any] = {}
    event = _model_schema(TaskCompletionEvent, models)
    models[event]["properties"]["schema_version"]["pattern"] = SCHEMA_VERSION_PATTERN  # the server reads 1.x
    query = _model_schema(PredictionQuery, models)
    batch_reply = _model_schema(BatchEventResponse, models)
    prediction = _model_schema(PredictionResponse, models)
    models["Error"] = {
        "type": "object",
        "properties": {"detail": {"type": "string"}, "errors": {"type": "array", "items": {"type": "string"}}},
        "required": ["detail"],
    }
    models.update(stats_schemas(query, prediction))
    results = {
        "type": "object",
        "properties": {"results": {"type": "array", "items": {"$ref": _REF + prediction}}},
        "required": ["results"],
    }
    health = {
        "type": "object",
        "properties": {"status": {"const": "ok"}, "api_version": {"const": "v1"}},
        "required": ["status", "api_version"],
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Mosaic Telemetry API", "version": f"v1 (reference server {__version__})"},
        "paths": {
            EVENTS_PATH: _post(
                "Submit a batch of task-completion events: each is accepted or rejected on its own",
                "events",
                {"$ref": _REF + event},
                MAX_BATCH_SIZE,
                _ok({"$ref": _REF + batch_reply}, "one result per event, in order (also when all were rejected)"),
                errors=errors,
            ),
            PREDICTIONS_PATH: _post(
                "Predictions for a batch of queries (crowd-sourced across instances)",
                "queries",
                {"$ref": _REF + query},
                MAX_PREDICTION_QUERIES,
                _ok(results, "one prediction per query, in order"),
                errors=errors,
            ),
            health_path: {"get": {"summary": "Liveness", "responses": {"200": _ok(health, "the server is up")}}},
            **stats_paths({status: errors[status] for status in ("401", "403")}),  # the dashboard's read API
        },
        "components": {
            "schemas": models,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "64 hex characters"}},
        },
    }


if __name__ == "__main__":  # pragma: no cover - a convenience for the docs
    from .app import HEALTH_PATH, MAX_BODY_BYTES

    print(json.dumps(openapi_document(health_path=HEALTH_PATH, max_body_bytes=MAX_BODY_BYTES), indent=2))
