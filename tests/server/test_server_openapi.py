"""The OpenAPI document: served without a key, OpenAPI 3.1, built from the models' own field rules."""

from __future__ import annotations

import httpx

from mosaicstack_telemetry._converters import MAX_GATES
from mosaicstack_telemetry._protocol import EVENTS_PATH, PREDICTIONS_PATH
from mosaicstack_telemetry.enums import QualityGate
from mosaicstack_telemetry.server.runner import ServerThread
from mosaicstack_telemetry.server.stats_api import STATS_PATHS


def test_served_without_a_key_and_built_from_the_rules(reference_server: ServerThread) -> None:
    response = httpx.get(f"{reference_server.url}/openapi.json")
    assert (200, "application/json") == (response.status_code, response.headers["content-type"])
    document = response.json()
    assert "3.1.0" == document["openapi"]
    schemas = document["components"]["schemas"]
    event = schemas["TaskCompletionEvent"]
    assert {"type": "integer", "minimum": 0, "maximum": 86_400_000} == event["properties"]["task_duration_ms"]
    gates = event["properties"]["quality_gates_run"]
    assert (MAX_GATES, [gate.value for gate in QualityGate]) == (gates["maxItems"], gates["items"]["enum"])
    assert "^1(\\.[0-9]+)?$" == event["properties"]["schema_version"]["pattern"]
    assert "event_id" not in event["required"]  # the model's default: the server assigns one
    assert "instance_id" in event["required"]
    assert {"anyOf": [{"type": "string", "minLength": 0, "maxLength": 30}, {"type": "null"}]} == event["properties"][
        "language"
    ]
    for path in (EVENTS_PATH, PREDICTIONS_PATH):
        operation = document["paths"][path]["post"]
        assert {"200", "400", "401", "403", "413", "415", "422"} == set(operation["responses"])
        assert [{"bearer": []}] == operation["security"]
    assert "1048576 bytes" in document["paths"][EVENTS_PATH]["post"]["responses"]["413"]["description"]


def test_the_dashboards_read_api_is_documented_beside_api_v1(reference_server: ServerThread) -> None:
    document = httpx.get(f"{reference_server.url}/openapi.json").json()
    for path, accepted in STATS_PATHS.items():
        operation = document["paths"][path]["get"]
        assert {"200", "401", "403", "422"} == set(operation["responses"])
        assert [{"bearer": []}] == operation["security"]
        parameters = {parameter["name"]: parameter for parameter in operation.get("parameters", [])}
        assert [parameter.name for parameter in accepted] == list(parameters)
        assert all(parameter["in"] == "query" and not parameter["required"] for parameter in parameters.values())
    events = document["paths"]["/v1/stats/events"]["get"]["parameters"]
    assert {"type": "integer", "minimum": 1, "maximum": 100, "default": 20} == events[-2]["schema"]
    predictions = document["components"]["schemas"]["StatsPredictions"]["properties"]["results"]["items"]
    assert {"$ref": "#/components/schemas/PredictionResponse"} == predictions["properties"]["response"]
    assert "/dashboard" not in document["paths"]  # the page is not part of the API
