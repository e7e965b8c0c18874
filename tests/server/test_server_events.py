"""POST /v1/events/batch against a running server: auth, envelope, per-event validation, duplicates, bad bodies."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest

from mosaicstack_telemetry import TaskCompletionEvent
from mosaicstack_telemetry._protocol import EVENTS_PATH
from mosaicstack_telemetry.server.runner import ServerThread, run_in_thread

from ._server_support import wire_event

NIL_UUID = "00000000-0000-0000-0000-000000000000"


def post(client: httpx.Client, events: list[Any], **kwargs: Any) -> httpx.Response:
    return client.post(EVENTS_PATH, json={"events": events}, **kwargs)


# -- health and routing -----------------------------------------------------------------------------------------------


def test_healthz_needs_no_key(reference_server: ServerThread) -> None:
    """/healthz answers without authentication."""
    response = httpx.get(f"{reference_server.url}/healthz")
    assert 200 == response.status_code
    assert {"status": "ok", "api_version": "v1"} == response.json()


def test_unknown_path_and_method_answer_json(client: httpx.Client) -> None:
    """404 and 405 are JSON errors like every other."""
    missing = client.get("/v2/events/batch")
    assert (404, {"detail": "Not Found"}) == (missing.status_code, missing.json())
    wrong_method = client.get(EVENTS_PATH)
    assert 405 == wrong_method.status_code
    assert "application/json" == wrong_method.headers["content-type"]


@pytest.mark.parametrize("path", [EVENTS_PATH + "/", "/v1/predictions/batch/", "/healthz/"])
def test_a_trailing_slash_is_404_not_a_redirect(client: httpx.Client, path: str) -> None:
    """No redirect built from a forged Host header (an open redirect): a path the API lacks is a plain 404."""
    response = client.post(path, json={"events": []}, headers={"Host": "evil.example"})
    assert (404, {"detail": "Not Found"}) == (response.status_code, response.json())
    assert "location" not in response.headers


# -- authentication ---------------------------------------------------------------------------------------------------


def test_missing_authorization_is_401(reference_server: ServerThread) -> None:
    event = wire_event(reference_server.instance_id)
    response = httpx.post(f"{reference_server.url}{EVENTS_PATH}", json={"events": [event]})
    assert 401 == response.status_code
    assert "Bearer" == response.headers["www-authenticate"]
    assert "missing Authorization" in response.json()["detail"]
    assert 0 == reference_server.storage.count_events()


@pytest.mark.parametrize(
    "header",
    [
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "Bearer abc123",
        "Bearer " + "g" * 64,
        "Bearer " + "a" * 63,
        "Bearer " + "a" * 65,
        "a" * 64,
    ],
)
def test_malformed_authorization_is_401(reference_server: ServerThread, header: str) -> None:
    event = wire_event(reference_server.instance_id)
    response = httpx.post(
        f"{reference_server.url}{EVENTS_PATH}",
        json={"events": [event]},
        headers={"Authorization": header},
    )
    assert 401 == response.status_code
    assert "malformed Authorization" in response.json()["detail"]


def test_unknown_key_is_403(reference_server: ServerThread) -> None:
    event = wire_event(reference_server.instance_id)
    response = httpx.post(
        f"{reference_server.url}{EVENTS_PATH}",
        json={"events": [event]},
        headers={"Authorization": "Bearer " + "ab" * 32},
    )
    assert (403, {"detail": "unknown api key"}) == (response.status_code, response.json())


def test_key_is_case_insensitive_and_scheme_too(reference_server: ServerThread) -> None:
    """A hex key copied in upper case, and the scheme spelled 'bearer', still authenticate."""
    event = wire_event(reference_server.instance_id)
    response = httpx.post(
        f"{reference_server.url}{EVENTS_PATH}",
        json={"events": [event]},
        headers={"Authorization": f"bearer {reference_server.api_key.upper()}"},
    )
    assert 200 == response.status_code
    assert 1 == response.json()["accepted"]


def test_event_of_another_instance_is_403_and_nothing_is_stored(
    reference_server: ServerThread, client: httpx.Client
) -> None:
    """One event whose instance_id is not the key's fails the whole batch: a key/instance mismatch."""
    mine = wire_event(reference_server.instance_id)
    other = wire_event(uuid4())
    response = post(client, [mine, other])
    assert 403 == response.status_code
    body = response.json()
    assert "instance_id does not match the api key" == body["detail"]
    assert [f"events[1].instance_id={other['instance_id']!r}"] == body["errors"]
    assert 0 == reference_server.storage.count_events()


def test_key_of_another_instance_is_403(reference_server: ServerThread, client: httpx.Client) -> None:
    """A valid key used with events of the runner's instance: the key belongs to someone else."""
    other_key = reference_server.create_key()
    response = post(
        client,
        [wire_event(reference_server.instance_id)],
        headers={"Authorization": f"Bearer {other_key.key}"},
    )
    assert 403 == response.status_code
    own = post(
        client,
        [wire_event(other_key.instance_id)],
        headers={"Authorization": f"Bearer {other_key.key}"},
    )
    assert 1 == own.json()["accepted"]


def test_event_ids_are_unique_per_instance_not_across_instances(
    reference_server: ServerThread, client: httpx.Client
) -> None:
    """Instance B posting an event_id instance A used is accepted and stored: nothing tells B the id exists elsewhere."""
    mine = wire_event(reference_server.instance_id)
    other_key = reference_server.create_key()
    theirs = wire_event(other_key.instance_id, event_id=mine["event_id"])
    assert "accepted" == post(client, [mine]).json()["results"][0]["status"]
    as_other = {"Authorization": f"Bearer {other_key.key}"}
    first = post(client, [theirs], headers=as_other).json()["results"][0]
    assert ("accepted", None) == (first["status"], first["error"])
    assert "duplicate" == post(client, [theirs], headers=as_other).json()["results"][0]["error"]
    assert "duplicate" == post(client, [mine]).json()["results"][0]["error"]
    assert (1, 1) == (
        reference_server.storage.count_events(reference_server.instance_id),
        reference_server.storage.count_events(other_key.instance_id),
    )


# -- the envelope -----------------------------------------------------------------------------------------------------


def test_empty_batch_is_422(client: httpx.Client) -> None:
    response = post(client, [])
    assert 422 == response.status_code
    assert {"detail": "events must hold 1 to 100 items, got 0"} == response.json()


def test_batch_over_100_is_422(reference_server: ServerThread, client: httpx.Client) -> None:
    events = [wire_event(reference_server.instance_id) for _ in range(101)]
    response = post(client, events)
    assert 422 == response.status_code
    assert {"detail": "events must hold 1 to 100 items, got 101"} == response.json()
    assert 0 == reference_server.storage.count_events()


def test_batch_of_100_is_accepted(reference_server: ServerThread, client: httpx.Client) -> None:
    events = [wire_event(reference_server.instance_id) for _ in range(100)]
    response = post(client, events)
    assert 200 == response.status_code
    assert 100 == response.json()["accepted"]
    assert 100 == reference_server.storage.count_events()


@pytest.mark.parametrize("body", [[], "events", {"events": {}}, {"event": []}, None, 3])
def test_wrong_envelope_is_422(client: httpx.Client, body: Any) -> None:
    response = client.post(EVENTS_PATH, content=json.dumps(body), headers={"Content-Type": "application/json"})
    assert 422 == response.status_code
    assert {"detail": 'expected a JSON object {"events": [...]}'} == response.json()


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded", "application/jsonx"])
def test_wrong_content_type_is_415(client: httpx.Client, content_type: str | None) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    response = client.post(EVENTS_PATH, content=b'{"events": []}', headers=headers)
    assert 415 == response.status_code
    assert {"detail": "Content-Type must be application/json"} == response.json()


def test_content_type_parameters_are_allowed(reference_server: ServerThread, client: httpx.Client) -> None:
    body = httpx.Request("POST", "/", json={"events": [wire_event(reference_server.instance_id)]})
    response = client.post(
        EVENTS_PATH,
        content=body.read(),
        headers={"Content-Type": "Application/JSON; charset=utf-8"},
    )
    assert 200 == response.status_code


@pytest.mark.parametrize("body", [b"", b"{", b"not json", b'{"events": [}', b"\xff\xfe"])
def test_invalid_json_is_400(client: httpx.Client, body: bytes) -> None:
    response = client.post(EVENTS_PATH, content=body, headers={"Content-Type": "application/json"})
    assert 400 == response.status_code
    assert response.json()["detail"].startswith("invalid JSON: ")


def test_body_over_the_limit_is_413() -> None:
    """Both a declared Content-Length and a chunked body over the limit get 413, with the body drained."""
    with run_in_thread(max_body_bytes=1_000) as server, httpx.Client(base_url=server.url) as http:
        headers = {
            "Authorization": f"Bearer {server.api_key}",
            "Content-Type": "application/json",
        }
        declared = http.post(EVENTS_PATH, content=b" " * 1_001, headers=headers)
        assert (
            413,
            {"detail": "request body exceeds 1000 bytes"},
        ) == (declared.status_code, declared.json())

        def chunks() -> Any:
            for _ in range(5):
                yield b" " * 500

        chunked = http.post(EVENTS_PATH, content=chunks(), headers=headers)
        assert 413 == chunked.status_code
        far_too_large = http.post(EVENTS_PATH, content=b" " * 17_000, headers=headers)
        assert 413 == far_too_large.status_code

        def endless() -> Any:  # chunked, past 16 × the limit: the server stops reading and answers
            for _ in range(40):
                yield b" " * 500

        assert 413 == http.post(EVENTS_PATH, content=endless(), headers=headers).status_code
        assert 413 == far_too_large.status_code
        fits = http.post(EVENTS_PATH, content=b'{"events": []}' + b" " * 900, headers=headers)
        assert 422 == fits.status_code


# -- per-event results ------------------------------------------------------------------------------------------------


def test_partial_acceptance_in_request_order(reference_server: ServerThread, client: httpx.Client) -> None:
    """Valid events are stored, invalid ones rejected with the validation errors; results keep request order."""
    instance = reference_server.instance_id
    good_first = wire_event(instance)
    bad = wire_event(instance, task_duration_ms=-5, model="")
    good_last = wire_event(instance)
    response = post(client, [good_first, bad, good_last])
    assert 200 == response.status_code
    assert {
        "accepted": 2,
        "rejected": 1,
        "results": [
            {"event_id": good_first["event_id"], "status": "accepted", "error": None},
            {
                "event_id": bad["event_id"],
                "status": "rejected",
                "error": "task_duration_ms=-5 is outside 0..86400000; model='' must be 1..100 characters long",
            },
            {"event_id": good_last["event_id"], "status": "accepted", "error": None},
        ],
    } == response.json()
    assert 2 == reference_server.storage.count_events()


def test_duplicates_across_and_within_batches(reference_server: ServerThread, client: httpx.Client) -> None:
    """An event_id already stored, or repeated earlier in the same batch, is rejected as `duplicate`."""
    event = wire_event(reference_server.instance_id)
    assert 1 == post(client, [event]).json()["accepted"]
    again = post(client, [event]).json()
    assert {
        "accepted": 0,
        "rejected": 1,
        "results": [{"event_id": event["event_id"], "status": "rejected", "error": "duplicate"}],
    } == again
    fresh = wire_event(reference_server.instance_id)
    twice = post(client, [fresh, fresh]).json()
    assert ["accepted", "rejected"] == [r["status"] for r in twice["results"]]
    assert "duplicate" == twice["results"][1]["error"]
    assert 2 == reference_server.storage.count_events()


def test_unreadable_event_ids_are_reported_under_the_nil_uuid(
    reference_server: ServerThread, client: httpx.Client
) -> None:
    """Not an object, or an event_id that is not a UUID: still one result each, under the nil UUID."""
    instance = reference_server.instance_id
    bad_id = wire_event(instance, event_id="not-a-uuid")
    response = post(client, [5, None, ["x"], bad_id]).json()
    assert 0 == response["accepted"]
    assert [NIL_UUID] * 4 == [r["event_id"] for r in response["results"]]
    assert [
        "expected an object, got int",
        "expected an object, got null",
        "expected an object, got list",
    ] == [r["error"] for r in response["results"][:3]]
    assert "event_id='not-a-uuid' is not a valid UUID" == response["results"][3]["error"]


def test_best_effort_event_id_of_an_invalid_event(reference_server: ServerThread, client: httpx.Client) -> None:
    """An invalid event with a readable event_id is reported under that id."""
    event = wire_event(reference_server.instance_id, outcome="meh")
    result = post(client, [event]).json()["results"][0]
    assert event["event_id"] == result["event_id"]
    assert result["error"].startswith("outcome='meh' is not one of")


def test_missing_event_id_gets_a_new_one(reference_server: ServerThread, client: httpx.Client) -> None:
    """As the model's default does: the server assigns an id and reports it."""
    event = wire_event(reference_server.instance_id)
    del event["event_id"]
    result = post(client, [event]).json()["results"][0]
    assert "accepted" == result["status"]
    assert reference_server.storage.fetch_event(reference_server.instance_id, UUID(result["event_id"])) is not None


def test_unsupported_schema_version_is_rejected(reference_server: ServerThread, client: httpx.Client) -> None:
    ok = wire_event(reference_server.instance_id, schema_version="1.3")
    future = wire_event(reference_server.instance_id, schema_version="2.0")
    results = post(client, [ok, future]).json()["results"]
    assert "accepted" == results[0]["status"]
    assert "schema_version='2.0' is not supported (this server reads 1.x)" == results[1]["error"]


def test_accepted_event_is_stored_as_sent(reference_server: ServerThread, client: httpx.Client) -> None:
    """Every field survives the trip: wire → model → SQLite → model."""
    event = wire_event(
        reference_server.instance_id,
        timestamp="2026-01-15T14:00:00+02:00",
        quality_gates_failed=["test"],
        repo_size_category="large",
        language=None,
        context_utilization_final=0.123456789,
    )
    assert 1 == post(client, [event]).json()["accepted"]
    stored = reference_server.storage.fetch_event(reference_server.instance_id, UUID(event["event_id"]))
    assert TaskCompletionEvent.model_validate(event) == stored
    assert stored is not None
    assert "2026-01-15T12:00:00+00:00" == stored.timestamp.isoformat()
