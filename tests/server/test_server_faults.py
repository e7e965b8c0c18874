"""Fault injection, each fault against a running server and a real httpx client (real time, loopback only)."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import pytest

from mosaicstack_telemetry._protocol import EVENTS_PATH, PREDICTIONS_PATH
from mosaicstack_telemetry.server import FaultPlan, RateLimit, format_retry_after
from mosaicstack_telemetry.server.runner import ServerThread, run_in_thread

from ._server_support import query, wire_event


def post_one(server: ServerThread, client: httpx.Client, **kwargs: Any) -> httpx.Response:
    return client.post(EVENTS_PATH, json={"events": [wire_event(server.instance_id)]}, **kwargs)


def test_fail_next_answers_the_next_n_requests_then_recovers(
    reference_server: ServerThread, client: httpx.Client
) -> None:
    reference_server.faults.fail_next(2, 503)
    statuses = [post_one(reference_server, client).status_code for _ in range(3)]
    assert [503, 503, 200] == statuses
    assert 1 == reference_server.storage.count_events()
    stats = reference_server.faults.statistics()
    assert (3, 2, 0) == (stats.requests, stats.injected, stats.pending)


def test_fail_next_applies_before_auth_and_to_predictions(reference_server: ServerThread) -> None:
    """A fault is the infrastructure misbehaving: it answers even a request without a key."""
    reference_server.faults.fail_next(1, 500)
    response = httpx.post(f"{reference_server.url}{PREDICTIONS_PATH}", json={"queries": [query()]})
    assert (500, {"detail": "injected fault: HTTP 500"}) == (response.status_code, response.json())


def test_429_with_retry_after_in_seconds(reference_server: ServerThread, client: httpx.Client) -> None:
    reference_server.faults.fail_next(1, 429, retry_after=2.5)
    response = post_one(reference_server, client)
    assert 429 == response.status_code
    assert "3" == response.headers["retry-after"]  # whole seconds, rounded up


def test_429_with_retry_after_as_http_date(reference_server: ServerThread, client: httpx.Client) -> None:
    when = datetime(2026, 3, 1, 8, 30, tzinfo=timezone.utc)
    reference_server.faults.fail_next(1, 429, retry_after=when)
    response = post_one(reference_server, client)
    assert "Sun, 01 Mar 2026 08:30:00 GMT" == response.headers["retry-after"]
    assert when == parsedate_to_datetime(response.headers["retry-after"])


def test_garbage_retry_after_is_sent_as_given(reference_server: ServerThread, client: httpx.Client) -> None:
    reference_server.faults.fail_next(1, 429, retry_after="soon-ish")
    assert "soon-ish" == post_one(reference_server, client).headers["retry-after"]


def test_delay(reference_server: ServerThread, client: httpx.Client) -> None:
    reference_server.faults.delay = 0.3
    started = time.monotonic()
    response = post_one(reference_server, client)
    assert 200 == response.status_code
    assert time.monotonic() - started >= 0.3
    reference_server.faults.delay = 0
    started = time.monotonic()
    post_one(reference_server, client)
    assert time.monotonic() - started < 0.3


def test_hang_until_the_client_gives_up(reference_server: ServerThread, client: httpx.Client) -> None:
    """The hanging request never gets an answer; the next one (no fault left) does, and nothing was stored."""
    reference_server.faults.hang_next(1)
    with pytest.raises(httpx.ReadTimeout):
        post_one(reference_server, client, timeout=0.3)
    assert 200 == post_one(reference_server, client).status_code
    assert 1 == reference_server.storage.count_events()


def test_standing_hang(reference_server: ServerThread, client: httpx.Client) -> None:
    reference_server.faults.hang = True
    for _ in range(2):
        with pytest.raises(httpx.ReadTimeout):
            post_one(reference_server, client, timeout=0.2)
    reference_server.faults.hang = False
    assert 200 == post_one(reference_server, client).status_code


def test_stop_is_fast_while_requests_hang() -> None:
    """Stopping releases the hangs (they answer 503) instead of waiting on clients that never give up."""
    statuses: list[int] = []
    with run_in_thread() as server:
        server.faults.hang = True

        def wait_forever() -> None:
            statuses.append(
                httpx.post(
                    f"{server.url}{EVENTS_PATH}",
                    json={"events": [wire_event(server.instance_id)]},
                    headers={"Authorization": f"Bearer {server.api_key}"},
                    timeout=30.0,
                ).status_code
            )

        threads = [threading.Thread(target=wait_forever) for _ in range(3)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 5
        while server.faults.statistics().requests < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        started = time.monotonic()
    assert time.monotonic() - started < 1.0
    for thread in threads:
        thread.join(5)
    assert [503, 503, 503] == statuses


def test_drop_connection_mid_reply(reference_server: ServerThread, client: httpx.Client) -> None:
    """The request is handled (the event stored), then the reply is cut: a retry finds a duplicate."""
    event = wire_event(reference_server.instance_id)
    reference_server.faults.drop_next(1)
    with pytest.raises(httpx.RemoteProtocolError, match=r"complete message body"):
        client.post(EVENTS_PATH, json={"events": [event]})
    assert 1 == reference_server.storage.count_events()
    retry = client.post(EVENTS_PATH, json={"events": [event]}).json()
    assert "duplicate" == retry["results"][0]["error"]


def test_standing_drop_connection(reference_server: ServerThread, client: httpx.Client) -> None:
    reference_server.faults.drop_connection = True
    for _ in range(2):
        with pytest.raises(httpx.RemoteProtocolError):
            post_one(reference_server, client)
    reference_server.faults.drop_connection = False
    assert 200 == post_one(reference_server, client).status_code


def test_reject_every_kth_event(reference_server: ServerThread, client: httpx.Client) -> None:
    """k = 3 over 7 then 3 valid events: the 3rd, 6th and 9th valid ones are rejected."""
    reference_server.faults.reject_every_k = 3
    instance = reference_server.instance_id
    first = [wire_event(instance) for _ in range(7)]
    # An invalid event (index 2) is rejected for itself and does not count towards k.
    first.insert(2, wire_event(instance, retry_count=99))
    reply = client.post(EVENTS_PATH, json={"events": first}).json()
    statuses = [r["status"][0] for r in reply["results"]]
    assert "aarraara" == "".join(statuses)  # valid events 1, 2, [3], 4, 5, [6], 7
    assert "rejected by fault injection" == reply["results"][3]["error"]
    second = client.post(EVENTS_PATH, json={"events": [wire_event(instance) for _ in range(3)]}).json()
    assert ["a", "r", "a"] == [r["status"][0] for r in second["results"]]
    assert 7 == reference_server.storage.count_events()
    assert 3 == reference_server.faults.statistics().events_rejected


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_rate_limit_answers_429_until_the_window_ends() -> None:
    clock = FakeClock()
    plan = FaultPlan(clock=clock)
    plan.rate_limit = RateLimit(requests=2, per_seconds=10)
    with (
        run_in_thread(faults=plan) as server,
        httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {server.api_key}"}) as client,
    ):
        assert [200, 200] == [post_one(server, client).status_code for _ in range(2)]
        clock.now += 2.5
        limited = post_one(server, client)
        assert 429 == limited.status_code
        assert "8" == limited.headers["retry-after"]  # 7.5 s left in the window, rounded up
        clock.now += 7.5
        assert 200 == post_one(server, client).status_code
        server.faults.rate_limit = None
        assert [200] * 3 == [post_one(server, client).status_code for _ in range(3)]


def test_drip_sends_the_body_byte_by_byte(reference_server: ServerThread, client: httpx.Client) -> None:
    """Per-phase read timeouts never trip on a dripping server: each byte comes well within 0.5 s."""
    reference_server.faults.drip = 0.01
    started = time.monotonic()
    response = client.post(EVENTS_PATH, json={"events": []}, timeout=0.5)
    elapsed = time.monotonic() - started
    assert {"detail": "events must hold 1 to 100 items, got 0"} == response.json()
    assert elapsed >= 0.01 * len(response.content) * 0.9


def test_healthz_is_exempt(reference_server: ServerThread, client: httpx.Client) -> None:
    reference_server.faults.fail_next(1, 503)
    reference_server.faults.hang = True
    assert 200 == client.get("/healthz").status_code
    assert 1 == reference_server.faults.statistics().pending


def test_reset(reference_server: ServerThread, client: httpx.Client) -> None:
    plan = reference_server.faults
    plan.fail_next(3)
    plan.delay, plan.drip, plan.hang, plan.drop_connection = 1.0, 1.0, True, True
    plan.reject_every_k, plan.rate_limit = 2, RateLimit(0)
    plan.reset()
    after = reference_server.faults  # a fresh name: mypy would keep the values assigned above
    assert (0.0, 0.0, False, False) == (after.delay, after.drip, after.hang, after.drop_connection)
    assert (0, None) == (after.reject_every_k, after.rate_limit)
    assert 0 == after.statistics().pending
    assert 200 == post_one(reference_server, client).status_code


# -- the plan's own checks --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "header"),
    [
        (0, "0"),
        (2, "2"),
        (0.1, "1"),
        (timedelta(minutes=2), "120"),
        (
            datetime(2026, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=1))),
            "Sun, 01 Mar 2026 08:30:00 GMT",
        ),
        (datetime(2026, 3, 1, 8, 30), "Sun, 01 Mar 2026 08:30:00 GMT"),  # naive: taken as UTC
        ("-5", "-5"),
    ],
)
def test_format_retry_after(value: Any, header: str) -> None:
    assert header == format_retry_after(value)


def test_plan_rejects_bad_settings() -> None:
    plan = FaultPlan()
    with pytest.raises(ValueError, match="not an HTTP status"):
        plan.fail_next(1, 42)
    with pytest.raises(ValueError, match="negative"):
        plan.hang_next(-1)
    with pytest.raises(ValueError, match="delay"):
        plan.delay = -1
    with pytest.raises(ValueError, match="drip"):
        plan.drip = float("nan")
    with pytest.raises(ValueError, match="negative"):
        plan.reject_every_k = -2
    with pytest.raises(ValueError, match="per_seconds"):
        RateLimit(5, 0)


def test_garble_next_stores_the_events_but_answers_with_a_body_that_is_not_json(
    reference_server: ServerThread, client: httpx.Client
) -> None:
    """garble_next: the request is handled (events stored), the 200 reply's body is same-length garbage."""
    reference_server.faults.garble_next(1)
    response = client.post(EVENTS_PATH, json={"events": [wire_event(reference_server.instance_id)]})
    assert 200 == response.status_code
    assert {ord("#")} == set(response.content)
    assert 1 == reference_server.storage.count_events()
