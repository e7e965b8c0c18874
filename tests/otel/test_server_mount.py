"""The bridge on the reference server (``/otlp``): OTLP/HTTP JSON over loopback to the real server, authenticated by
the Mosaic api key, stored in the key's instance. Needs nothing beyond the JSON encoding (and the server extra)."""

from __future__ import annotations

import gzip
import sys
from collections.abc import AsyncIterator, Iterator

import anyio
import anyio.to_thread
import httpx
import pytest

from mosaicstack_telemetry.enums import Harness, Provider
from mosaicstack_telemetry.otel import CLAUDE_CODE
from mosaicstack_telemetry.otel.prompt import prompt_event_id
from mosaicstack_telemetry.server import create_app
from mosaicstack_telemetry.server.keys import create_key, revoke_keys
from mosaicstack_telemetry.server.otlp import OtlpMount
from mosaicstack_telemetry.server.runner import ServerThread
from mosaicstack_telemetry.server.storage import Storage

from .claude import PROMPT_1, PROMPT_2, SESSION, api_request, encode, user_prompt
from .serving import serving

JSON = {"content-type": "application/json"}
EVENT_1 = prompt_event_id(CLAUDE_CODE, SESSION, PROMPT_1)
EVENT_2 = prompt_event_id(CLAUDE_CODE, SESSION, PROMPT_2)


@pytest.fixture
def server(storage: Storage) -> Iterator[ServerThread]:
    with ServerThread(storage=storage) as running:
        yield running


def _auth(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}", **JSON}


@pytest.fixture
async def http(server: ServerThread) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"{server.url}/otlp", headers=_auth(server.api_key), timeout=10) as client:
        yield client


async def _stop(server: ServerThread) -> None:
    await anyio.to_thread.run_sync(server.stop)


async def test_a_prompt_is_stored_in_the_keys_instance_before_the_reply(
    server: ServerThread, storage: Storage, http: httpx.AsyncClient
) -> None:
    first = await http.post("/v1/logs", content=encode([user_prompt(0, 1), api_request(10, 2, cost=0.25)]))
    assert (200, {}) == (first.status_code, first.json())
    assert 0 == storage.count_events(server.instance_id)  # still open
    second = await http.post("/v1/logs", content=encode([user_prompt(5000, 3, prompt_id=PROMPT_2)]))
    assert 200 == second.status_code
    assert 1 == storage.count_events(server.instance_id)  # the next prompt completed it, stored before the reply
    event = storage.fetch_event(server.instance_id, EVENT_1)
    assert event is not None
    assert (server.instance_id, Harness.CLAUDE_CODE, Provider.ANTHROPIC, 500, 250_000) == (
        event.instance_id,
        event.harness,
        event.provider,
        event.actual_output_tokens,
        event.actual_cost_usd_micros,
    )
    stats = (await http.get("/stats")).json()
    assert (3, 1, 1, 1) == (
        stats["records_mapped"],
        stats["events_tracked"],
        stats["events_sent"],
        stats["open_prompts"],
    )


async def test_a_retried_request_stores_nothing_twice(
    server: ServerThread, storage: Storage, http: httpx.AsyncClient
) -> None:
    body = encode([user_prompt(0, 1), api_request(10, 2)])
    for _ in range(2):  # the exporter retries a request whose reply it lost
        assert 200 == (await http.post("/v1/logs", content=body)).status_code
    await http.post("/v1/logs", content=encode([user_prompt(5000, 3, prompt_id=PROMPT_2)]))
    assert 200 == (await http.post("/v1/logs", content=body)).status_code  # a retry after the prompt was stored
    stats = (await http.get("/stats")).json()
    await _stop(server)
    assert 1 == storage.count_events(server.instance_id)  # PROMPT_2 made no model call: no event
    assert (4, 1) == (stats["duplicates"], stats["events_sent"])  # both records of each retry
    event = storage.fetch_event(server.instance_id, EVENT_1)
    assert event is not None
    assert 500 == event.actual_output_tokens  # one api_request, counted once


async def test_instances_are_kept_apart(server: ServerThread, storage: Storage, http: httpx.AsyncClient) -> None:
    other = server.create_key()
    # the same session id from two instances: instance B's next prompt must not complete A's prompt
    await http.post("/v1/logs", content=encode([user_prompt(0, 1), api_request(10, 2, output_tokens=111)]))
    reply = await http.post(
        "/v1/logs",
        content=encode(
            [
                user_prompt(5000, 1, prompt_id=PROMPT_2),
                api_request(5010, 2, prompt_id=PROMPT_2, output_tokens=222),
                api_request(5020, 3, prompt_id=None, output_tokens=333),  # joins B's open prompt, never A's
            ]
        ),
        headers=_auth(other.key),
    )
    assert 200 == reply.status_code
    assert (0, 0) == (storage.count_events(server.instance_id), storage.count_events(other.instance_id))
    await _stop(server)  # shutdown completes and stores every open prompt
    assert (1, 1) == (storage.count_events(server.instance_id), storage.count_events(other.instance_id))
    mine = storage.fetch_event(server.instance_id, EVENT_1)
    theirs = storage.fetch_event(other.instance_id, EVENT_2)
    assert mine is not None
    assert theirs is not None
    assert (server.instance_id, 111) == (mine.instance_id, mine.actual_output_tokens)
    assert (other.instance_id, 222 + 333) == (theirs.instance_id, theirs.actual_output_tokens)
    assert storage.fetch_event(other.instance_id, EVENT_1) is None
    assert storage.fetch_event(server.instance_id, EVENT_2) is None


@pytest.mark.parametrize(
    ("authorization", "status"),
    [
        (None, 401),
        ("Basic dXNlcjpwYXNz", 401),
        ("Bearer not-a-key", 401),
        ("Bearer " + "ab" * 32, 403),  # well-formed, unknown
        ("revoked", 403),
    ],
    ids=["missing", "basic", "malformed", "unknown", "revoked"],
)
async def test_a_wrong_or_revoked_key_is_refused_and_nothing_stored(
    server: ServerThread, storage: Storage, authorization: str | None, status: int
) -> None:
    if authorization == "revoked":
        key = create_key(storage)
        revoke_keys(storage, str(key.instance_id))
        authorization = f"Bearer {key.key}"
    headers = dict(JSON) if authorization is None else {"authorization": authorization, **JSON}
    body = encode([user_prompt(0, 1), api_request(10, 2)])
    async with httpx.AsyncClient(base_url=f"{server.url}/otlp", timeout=10) as client:
        replies = [await client.post(path, content=body, headers=headers) for path in ("/v1/logs", "/stats")]
    await _stop(server)
    assert [status, status] == [reply.status_code for reply in replies]
    assert "message" in replies[0].json()
    assert ("Bearer" if status == 401 else None) == replies[0].headers.get("www-authenticate")
    assert 0 == storage.count_events()
    assert 0 == server.app.state.otlp.open_prompts


async def test_metrics_and_traces_are_answered(http: httpx.AsyncClient) -> None:
    metrics = await http.post("/v1/metrics", content=b'{"resourceMetrics": []}')
    traces = await http.post("/v1/traces", content=b'{"resourceSpans": []}')
    unknown = await http.post("/v1/profiles", content=b"{}")
    assert [(200, {}), (200, {}), 404] == [
        (metrics.status_code, metrics.json()),
        (traces.status_code, traces.json()),
        unknown.status_code,
    ]


async def test_the_mount_is_not_in_the_openapi_document(server: ServerThread) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        paths = (await client.get("/openapi.json")).json()["paths"]
    assert "/v1/events/batch" in paths
    assert [] == [path for path in paths if "otlp" in path]


async def test_protobuf_without_opentelemetry_proto_is_415_naming_the_extra(
    http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.proto.collector.logs.v1.logs_service_pb2", None)
    reply = await http.post("/v1/logs", content=b"\x0a\x00", headers={"content-type": "application/x-protobuf"})
    still_json = await http.post("/v1/logs", content=encode([user_prompt(0, 1)]))
    assert 415 == reply.status_code
    assert "mosaicstack-telemetry[otel]" in reply.json()["message"]
    assert 200 == still_json.status_code


# -- the mount in-process: its lifespan, an injected clock, its limits -------------------------------------------------


@pytest.fixture
async def mounted(storage: Storage) -> AsyncIterator[tuple[OtlpMount, httpx.AsyncClient, list[float]]]:
    now = [0.0]
    mount = OtlpMount(storage, clock=lambda: now[0], idle_timeout=60, max_body_bytes=4096, max_decompressed_bytes=8192)
    async with (
        mount.lifespan(None),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=mount), base_url="http://server") as client,
    ):
        yield mount, client, now


async def test_idle_prompts_are_swept_and_the_lifespan_end_stores_the_rest(
    storage: Storage, mounted: tuple[OtlpMount, httpx.AsyncClient, list[float]]
) -> None:
    mount, client, now = mounted
    first, second = create_key(storage), create_key(storage)
    await client.post("/v1/logs", content=encode([user_prompt(0, 1), api_request(10, 2)]), headers=_auth(first.key))
    now[0] = 30.0
    await client.post("/v1/logs", content=encode([user_prompt(0, 1), api_request(10, 2)]), headers=_auth(second.key))
    now[0] = 61.0
    assert 1 == await mount.sweep()  # only the first instance's prompt has been idle for 60 s
    assert (1, 0) == (storage.count_events(first.instance_id), storage.count_events(second.instance_id))
    assert 1 == mount.open_prompts
    async with mount.lifespan(None):
        pass  # a lifespan's end completes and stores every open prompt
    assert (1, 1) == (storage.count_events(first.instance_id), storage.count_events(second.instance_id))
    assert 0 == mount.open_prompts
    snapshot = mount.snapshot(second.instance_id)
    assert snapshot is not None
    assert {"shutdown": 1} == snapshot["prompts_completed"]


async def test_body_and_decompression_limits(
    storage: Storage, mounted: tuple[OtlpMount, httpx.AsyncClient, list[float]]
) -> None:
    _, client, _ = mounted
    headers = _auth(create_key(storage).key)
    big = await client.post("/v1/logs", content=b" " * 5000, headers=headers)
    bomb = await client.post(
        "/v1/logs", content=gzip.compress(b" " * 100_000), headers={**headers, "content-encoding": "gzip"}
    )
    assert [413, 413] == [big.status_code, bomb.status_code]
    assert 0 == storage.count_events()


def test_a_bad_option_fails_at_construction(storage: Storage) -> None:
    with pytest.raises(ValueError, match="idle_timeout must be positive, got 0"):
        OtlpMount(storage, idle_timeout=0)


async def test_under_a_server_running_the_lifespan_its_end_stores_open_prompts(storage: Storage) -> None:
    key = create_key(storage)
    with serving(create_app(storage)) as url:  # uvicorn with lifespan="on": Starlette runs the mount's lifespan
        async with httpx.AsyncClient(base_url=f"{url}/otlp", headers=_auth(key.key), timeout=10) as client:
            reply = await client.post("/v1/logs", content=encode([user_prompt(0, 1), api_request(10, 2)]))
        assert (200, 0) == (reply.status_code, storage.count_events(key.instance_id))
    assert 1 == storage.count_events(key.instance_id)


async def test_without_the_lifespan_the_first_request_starts_a_sweeper_whose_end_stores_open_prompts(
    storage: Storage,
) -> None:
    key = create_key(storage)
    app = create_app(storage)
    with serving(app, lifespan="off") as url:  # a host that does not pass the lifespan on
        async with httpx.AsyncClient(base_url=f"{url}/otlp", headers=_auth(key.key), timeout=10) as client:
            reply = await client.post("/v1/logs", content=encode([user_prompt(0, 1), api_request(10, 2)]))
        assert (200, 1, 0) == (reply.status_code, app.state.otlp.open_prompts, storage.count_events(key.instance_id))
    assert (0, 1) == (app.state.otlp.open_prompts, storage.count_events(key.instance_id))  # the loop's end stored it


async def test_served_on_its_own_it_runs_the_asgi_lifespan(storage: Storage) -> None:
    key = create_key(storage)
    mount = OtlpMount(storage)
    with serving(mount) as url:  # uvicorn with lifespan="on" talks to the mount itself
        async with httpx.AsyncClient(base_url=url, headers=_auth(key.key), timeout=10) as client:
            reply = await client.post("/v1/logs", content=encode([user_prompt(0, 1), api_request(10, 2)]))
        assert (200, 1) == (reply.status_code, mount.open_prompts)
    assert (0, 1) == (mount.open_prompts, storage.count_events(key.instance_id))
