"""The OpenAPI document: served without a key, OpenAPI 3.1, built from the models' own field rules."""

from __future__ import annotations

import httpx

from mosaicstack_telemetry._converters import MAX_GATES
from mosaicstack_telemetry._protocol import EVENTS_PATH, PREDICTIONS_PATH
from mosaicstack_telemetry.enums import QualityGate
from mosaicstack_telemetry.server.runner import ServerThread


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
