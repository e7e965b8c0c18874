"""The published contract: schemathesis drives both endpoints of a live server from its own /openapi.json.

Bounded examples, a valid key, and the key's instance id pinned into every generated event by a hook (otherwise
nearly every batch is a 403, documented but uninteresting). Every response must be documented and match its schema,
and none may be a 5xx. Needs the ``contract`` dependency group (``nox -s contract``); skipped without schemathesis.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")

import httpx  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402 - after the skip
from schemathesis.core.parameters import ParameterLocation  # noqa: E402
from schemathesis.specs.openapi.checks import negative_data_rejection  # noqa: E402

from mosaicstack_telemetry._protocol import EVENTS_PATH  # noqa: E402
from mosaicstack_telemetry.server import HEALTH_PATH, MAX_BODY_BYTES  # noqa: E402
from mosaicstack_telemetry.server.openapi import openapi_document  # noqa: E402
from mosaicstack_telemetry.server.runner import ServerThread, run_in_thread  # noqa: E402

INSTANCE_ID = "5f0c6c1e-8a7b-4c2d-9e3f-0a1b2c3d4e5f"
API_KEY = "c0ffee" * 10 + "c0fe"


@schemathesis.hook
def map_body(context: Any, body: Any) -> Any:
    """Events carry the key's instance: the server then judges each event on its merits."""
    if isinstance(body, dict) and isinstance(body.get("events"), list):
        for event in body["events"]:
            if isinstance(event, dict) and "instance_id" in event:
                event["instance_id"] = INSTANCE_ID
    return body


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    with run_in_thread(instance_id=INSTANCE_ID, api_key=API_KEY) as running:
        yield running


#: The document the server serves (test_the_served_document_is_this_one checks they are the same).
DOCUMENT = openapi_document(health_path=HEALTH_PATH, max_body_bytes=MAX_BODY_BYTES)
schema = schemathesis.openapi.from_dict(DOCUMENT)


def test_the_served_document_is_this_one(server: ServerThread) -> None:
    assert DOCUMENT == httpx.get(f"{server.url}/openapi.json").json()


def _header_negated(case: Any) -> bool:
    header = case.meta.components.get(ParameterLocation.HEADER) if case.meta is not None else None
    return header is not None and bool(header.mode.is_negative)


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_response_matches_the_document(case: Any, server: ServerThread) -> None:
    # A batch is judged event by event: a batch holding an invalid event is answered 200, that event "rejected"
    # with its reason (as documented), so "schema-violating data must get a 4xx" does not apply to event items.
    # A case made negative by leaving out the Authorization header (the document's only header: its security
    # scheme) is not negative once this test sends the key, so the rejection check does not apply to it either.
    excluded = [negative_data_rejection] if case.path == EVENTS_PATH or _header_negated(case) else []
    case.call_and_validate(
        base_url=server.url, headers={"Authorization": f"Bearer {API_KEY}"}, excluded_checks=excluded
    )
