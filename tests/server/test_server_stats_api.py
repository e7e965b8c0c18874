"""The read API behind the dashboard (``GET /v1/stats/...``) and the page itself, over HTTP to a real server.

Expected figures come from the dataset's events in Python (:mod:`._stats_support`), never from the server's SQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs
import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mosaicstack_telemetry.server import SQLiteStorage
from mosaicstack_telemetry.server.runner import ServerThread, run_in_thread
from mosaicstack_telemetry.server.stats_api import STATS_PATHS
from mosaicstack_telemetry.server.stats_params import (
    FILTER_PARAMETERS,
    MAX_SERIES_BUCKETS,
    QueryError,
    bucket_count,
    parse,
    series_bucket,
)
from mosaicstack_telemetry.server.stats_queries import SERIES_BUCKETS

from . import _stats_support as data

EVENTS = data.make_events(150)
OTHER = data.make_events(40, instance_id=data.OTHER_INSTANCE, seed=9)
KEY = "5e" * 32
UTC = timezone.utc


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    storage = SQLiteStorage()
    try:
        assert all(storage.insert_events(EVENTS + OTHER, datetime(2026, 12, 1, tzinfo=UTC)))  # each one stored
        with run_in_thread(
            storage=storage, instance_id=data.INSTANCE, api_key=KEY, prediction_max_age_seconds=12.5
        ) as running:
            yield running
    finally:
        storage.close()


@pytest.fixture(scope="module")
def http(server: ServerThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {KEY}"}, timeout=10) as client:
        yield client


def _get(http: httpx.Client, path: str, **params: Any) -> Any:
    response = http.get(path, params=params)
    assert 200 == response.status_code, response.text
    assert "no-store" == response.headers["cache-control"]
    return response.json()


def test_overview_equals_the_instances_events(http: httpx.Client) -> None:
    body = _get(http, "/v1/stats/overview")
    expected = data.totals(EVENTS)
    assert expected == {name: body["totals"][name] for name in expected}
    assert "hour" == body["bucket"]  # the dataset spans under 72 hours
    assert data.series(EVENTS, "hour") == {
        datetime.fromisoformat(bucket["start"]): bucket["events"] for bucket in body["series"]
    }
    assert data.by(EVENTS, "model") == {row["key"]: {name: row[name] for name in expected} for row in body["by_model"]}
    assert data.nearest_rank_duration(EVENTS, 90) == body["durations"]["p90_ms"]
    first = min(event.timestamp for event in EVENTS)
    assert (first, first) == (
        datetime.fromisoformat(body["range"]["start"]),
        datetime.fromisoformat(body["totals"]["first"]),
    )


def test_a_range_longer_than_72_hours_is_bucketed_by_day(http: httpx.Client) -> None:
    start, end = datetime(2026, 11, 19, tzinfo=UTC), datetime(2026, 11, 23, 0, 0, 1, tzinfo=UTC)
    body = _get(http, "/v1/stats/overview", **{"from": "2026-11-19T00:00:00Z", "to": "2026-11-23T02:00:01+02:00"})
    assert ("day", start.isoformat(), end.isoformat()) == (body["bucket"], body["range"]["start"], body["range"]["end"])
    assert data.series(EVENTS, "day") == {datetime.fromisoformat(b["start"]): b["events"] for b in body["series"]}
    hourly = _get(http, "/v1/stats/overview", bucket="hour", **{"from": "2026-11-19T00:00:00Z"})
    assert "hour" == hourly["bucket"]


def test_filters_narrow_every_endpoint(http: httpx.Client) -> None:
    chosen = {"model": "gpt-5", "task_type": "testing", "from": "2026-11-21T00:00:00Z"}
    selected = data.select(EVENTS, model="gpt-5", task_type="testing", start=datetime(2026, 11, 21, tzinfo=UTC))
    assert selected
    overview = _get(http, "/v1/stats/overview", **chosen)
    assert len(selected) == overview["totals"]["events"]
    assert {
        "from": "2026-11-21T00:00:00+00:00",
        "to": None,
        "model": "gpt-5",
        "task_type": "testing",
        "harness": None,
    } == overview["filter"]
    assert data.gate_rates(selected) == {
        (g["task_type"], g["gate"]): (g["runs"], g["failures"]) for g in overview["gates"]
    }
    page = _get(http, "/v1/stats/events", limit=100, **chosen)
    assert [str(event.event_id) for event in data.latest(selected)] == [row["event_id"] for row in page["events"]]
    empty = _get(http, "/v1/stats/overview", **{"from": "2026-11-22T00:00:00Z", "to": "2026-11-21T00:00:00Z"})
    assert (0, None, []) == (empty["totals"]["events"], empty["durations"]["p50_ms"], empty["series"])


def test_events_are_paginated_newest_first(http: httpx.Client) -> None:
    pages = [_get(http, "/v1/stats/events", limit=40, offset=offset) for offset in (0, 40, 80, 120, 160)]
    assert all(len(EVENTS) == page["total"] for page in pages)
    assert [40, 40, 40, 30, 0] == [len(page["events"]) for page in pages]
    shown = [row["event_id"] for page in pages for row in page["events"]]
    assert [str(event.event_id) for event in data.latest(EVENTS)] == shown
    assert 20 == len(_get(http, "/v1/stats/events")["events"])  # the default page


def test_filters_list_the_instances_values(http: httpx.Client) -> None:
    body = _get(http, "/v1/stats/filters")
    assert str(data.INSTANCE) == body["instance_id"]
    assert sorted({event.model for event in EVENTS}) == body["models"]
    assert sorted({event.harness.value for event in EVENTS}) == body["harnesses"]


def test_predictions_are_crowd_sourced_with_their_age_and_fallback(http: httpx.Client) -> None:
    body = _get(http, "/v1/stats/predictions", limit=4)
    assert 12.5 == body["max_age_seconds"]
    generated = datetime.fromisoformat(body["generated_at"])
    counts: dict[tuple[str, str, str, str], int] = {}
    for event in EVENTS:
        key = (event.task_type.value, event.model, event.provider.value, event.complexity.value)
        counts[key] = counts.get(key, 0) + 1
    expected = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:4]
    shown = [
        ((r["query"]["task_type"], r["query"]["model"], r["query"]["provider"], r["query"]["complexity"]), r["events"])
        for r in body["results"]
    ]
    assert expected == shown
    for result in body["results"]:
        metadata = result["response"]["metadata"]
        assert metadata["confidence"] in {"high", "medium", "low"}
        assert metadata["fallback_level"] >= 0
        assert datetime.fromisoformat(metadata["last_updated"]) <= generated


def test_each_instance_sees_only_its_own(server: ServerThread) -> None:
    other = server.create_key(data.OTHER_INSTANCE)
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {other.key}"}) as http:
        body = _get(http, "/v1/stats/overview")
        ids = {row["event_id"] for row in _get(http, "/v1/stats/events", limit=100)["events"]}
    assert len(OTHER) == body["totals"]["events"]
    assert {str(event.event_id) for event in OTHER} == ids
    stranger = server.create_key()  # an instance without events
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {stranger.key}"}) as http:
        assert 0 == _get(http, "/v1/stats/overview")["totals"]["events"]
        assert [] == _get(http, "/v1/stats/predictions")["results"]


@pytest.mark.parametrize("path", list(STATS_PATHS))
def test_the_same_authentication_as_api_v1(server: ServerThread, path: str) -> None:
    missing = httpx.get(server.url + path)
    assert (401, "Bearer") == (missing.status_code, missing.headers["www-authenticate"])
    unknown = httpx.get(server.url + path, headers={"Authorization": "Bearer " + "0" * 64})
    assert (403, {"detail": "unknown api key"}) == (unknown.status_code, unknown.json())
    assert 405 == httpx.post(server.url + path, headers={"Authorization": f"Bearer {KEY}"}).status_code


def test_bad_parameters_are_422_naming_each(http: httpx.Client) -> None:
    response = http.get(
        "/v1/stats/events",
        params=[
            ("limit", "0"),
            ("offset", "-1"),
            ("task_type", "cooking"),
            ("from", "yesterday"),
            ("colour", "x"),
            ("model", "gpt-5"),
            ("model", "gpt-6"),
            ("harness", "aider"),
        ],
    )
    assert 422 == response.status_code
    assert {
        "detail": "invalid query parameters",
        "errors": [
            "'colour': unknown parameter (expected from, to, model, task_type, harness, limit, offset)",
            "model='gpt-6': given more than once",
            "limit='0': expected an integer from 1 to 100",
            "offset='-1': expected an integer from 0 to 1000000",
            "task_type='cooking': expected one of planning, implementation, code_review, testing, debugging,"
            " refactoring, documentation, configuration, security_audit, unknown",
            "from='yesterday': expected an RFC 3339 date-time, such as 2026-01-15T12:00:00Z",
        ],
    } == response.json()
    assert 422 == http.get("/v1/stats/overview", params={"bucket": "week"}).status_code
    assert 422 == http.get("/v1/stats/overview", params={"model": "m" * 101}).status_code
    assert 422 == http.get("/v1/stats/filters", params={"model": "gpt-5"}).status_code
    assert 422 == http.get("/v1/stats/predictions", params={"limit": "21"}).status_code


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-15T12:00:00Z", datetime(2026, 1, 15, 12, tzinfo=UTC)),
        ("2026-01-15 14:00:00.1234567+02:00", datetime(2026, 1, 15, 12, 0, 0, 123456, tzinfo=UTC)),
        ("2026-01-15T12:00:00", datetime(2026, 1, 15, 12, tzinfo=UTC)),  # no offset: UTC
        ("2026-06-30T23:59:60Z", datetime(2026, 6, 30, 23, 59, 59, 999_999, tzinfo=UTC)),  # a leap second
        ("0000-03-01T00:00:00Z", datetime.min.replace(tzinfo=UTC)),  # before what datetime holds: the earliest
        ("0001-01-01T00:00:00+01:00", datetime.min.replace(tzinfo=UTC)),
        ("9999-12-31T23:00:00-02:00", datetime.max.replace(tzinfo=UTC)),
    ],
)
def test_times_are_read_as_rfc_3339_in_utc(text: str, expected: datetime) -> None:
    assert expected == parse([("from", text)], data.INSTANCE).filter.start


@pytest.mark.parametrize(
    "text", ["2026-02-30T00:00:00Z", "2026-01-15T24:00:00Z", "2026-01-15", "2026-01-15T12:00:00Z\n"]
)
def test_impossible_times_are_refused(text: str) -> None:
    with pytest.raises(QueryError) as raised:
        parse([("to", text)], data.INSTANCE, FILTER_PARAMETERS)
    assert [f"to={text!r}: expected an RFC 3339 date-time, such as 2026-01-15T12:00:00Z"] == raised.value.errors


@pytest.mark.parametrize("offset", ["+99:99", "+24:00", "-24:00", "+23:60", "-00:60"])
def test_offsets_beyond_23_59_are_refused(http: httpx.Client, offset: str) -> None:
    text = f"2026-01-15T12:00:00{offset}"
    response = http.get("/v1/stats/overview", params={"from": text})
    assert 422 == response.status_code
    assert [f"from={text!r}: expected a UTC offset from -23:59 to +23:59"] == response.json()["errors"]


def test_the_largest_offsets_are_accepted() -> None:
    earliest = parse([("from", "2026-01-15T12:00:00+23:59")], data.INSTANCE).filter.start
    latest = parse([("from", "2026-01-15T12:00:00-23:59")], data.INSTANCE).filter.start
    assert (datetime(2026, 1, 14, 12, 1, tzinfo=UTC), datetime(2026, 1, 16, 11, 59, tzinfo=UTC)) == (earliest, latest)


T0 = datetime(2026, 11, 20, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("requested", "start", "end", "expected"),
    [
        ("auto", None, None, "hour"),  # no events
        ("day", None, None, "day"),
        ("auto", T0, T0 + timedelta(hours=72), "hour"),
        ("auto", T0, T0 + timedelta(hours=72, microseconds=1), "day"),
        ("hour", T0, T0 + timedelta(hours=MAX_SERIES_BUCKETS - 1), "hour"),  # 1,000 hours
        ("hour", T0, T0 + timedelta(hours=MAX_SERIES_BUCKETS), "day"),
        ("auto", T0, T0 + timedelta(days=MAX_SERIES_BUCKETS - 1), "day"),
        ("auto", T0, T0 + timedelta(days=MAX_SERIES_BUCKETS), "week"),
        ("day", datetime(2000, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC), "month"),  # 1,566 weeks
        ("auto", datetime(1900, 1, 1, tzinfo=UTC), T0, "year"),  # 1,523 months
        ("hour", datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC), "year"),  # 9,999 years
    ],
)
def test_the_series_bucket_is_coarsened_for_long_ranges(
    requested: Any, start: datetime | None, end: datetime | None, expected: str
) -> None:
    assert expected == series_bucket(requested, start, end)


_MOMENTS = st.datetimes(timezones=st.just(UTC))


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["auto", "hour", "day"]), _MOMENTS, _MOMENTS)
def test_the_series_bucket_is_the_finest_within_the_limit(requested: Any, first: datetime, second: datetime) -> None:
    start, end = min(first, second), max(first, second)
    chosen = series_bucket(requested, start, end)
    finest = SERIES_BUCKETS.index("day" if requested == "auto" and end - start > timedelta(hours=72) else "hour")
    finest = max(finest, SERIES_BUCKETS.index(requested) if requested != "auto" else 0)
    assert SERIES_BUCKETS.index(chosen) >= finest
    assert bucket_count(chosen, start, end) <= MAX_SERIES_BUCKETS or chosen == "year"
    assert bucket_count("year", start, end) <= 10_000  # the hard bound: datetime's years
    for finer in SERIES_BUCKETS[finest : SERIES_BUCKETS.index(chosen)]:
        assert bucket_count(finer, start, end) > MAX_SERIES_BUCKETS


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(SERIES_BUCKETS),
    st.datetimes(datetime(1, 1, 1), datetime(9999, 10, 1), timezones=st.just(UTC)),
    st.timedeltas(timedelta(0), timedelta(days=90)),
)
def test_bucket_count_counts_the_buckets_holding_the_range(bucket: Any, start: datetime, span: timedelta) -> None:
    end = start + span
    hours = int(span / timedelta(hours=1))
    moments = [start, end, *(start + timedelta(hours=n) for n in range(1, hours + 1))]  # one in every hour
    assert len({data.bucket_start(moment, bucket) for moment in moments}) == bucket_count(bucket, start, end)


def test_the_page_is_static_and_exempt_from_faults(server: ServerThread, http: httpx.Client) -> None:
    page = httpx.get(server.url + "/dashboard")
    assert (200, "text/html; charset=utf-8") == (page.status_code, page.headers["content-type"])
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "script-src 'self'" in policy
    assert "no-referrer" == page.headers["referrer-policy"]
    assert KEY not in page.text
    assert str(data.INSTANCE) not in page.text
    for asset in ("dashboard.js", "charts.js", "format.js", "dashboard.css"):
        assert 200 == httpx.get(f"{server.url}/dashboard/assets/{asset}").status_code
    assert 404 == httpx.get(server.url + "/dashboard/assets/../app.py").status_code
    assert page.content == httpx.get(server.url + "/dashboard/").content
    server.faults.fail_next(1, 503)
    assert 200 == httpx.get(server.url + "/dashboard").status_code  # the page is not the API
    assert 503 == http.get("/v1/stats/filters").status_code  # the read API obeys the plan like API v1


def test_an_event_stored_later_shows_at_once(server: ServerThread) -> None:
    key = server.create_key()
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key.key}"}) as http:
        before = _get(http, "/v1/stats/overview")["totals"]["events"]
        event = data.make_events(1, instance_id=key.instance_id, seed=77)[0]
        server.storage.insert_events([event], datetime.now(UTC))
        after = _get(http, "/v1/stats/events")["events"]
    assert (0, [str(event.event_id)]) == (before, [row["event_id"] for row in after])


def test_a_long_series_is_bucketed_coarser(server: ServerThread) -> None:
    """Three years of events every 7 hours: by the week, not by 26,000 hours or 1,096 days."""
    key = server.create_key()
    moments = [datetime(2020, 1, 1, tzinfo=UTC) + timedelta(hours=n) for n in range(0, 3 * 8766, 7)]
    made = data.make_events(len(moments), instance_id=key.instance_id, seed=8)
    events = [attrs.evolve(event, timestamp=moment) for event, moment in zip(made, moments, strict=True)]
    assert all(server.storage.insert_events(events, datetime.now(UTC)))
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key.key}"}) as http:
        auto, hourly = (_get(http, "/v1/stats/overview", bucket=bucket) for bucket in ("auto", "hour"))
        forty_days = _get(http, "/v1/stats/overview", bucket="hour", to="2020-02-10T00:00:00Z")  # 960 hours
    for body in (auto, hourly):
        series = {datetime.fromisoformat(bucket["start"]): bucket["events"] for bucket in body["series"]}
        assert ("week", data.series(events, "week")) == (body["bucket"], series)
    assert ("hour", 960 // 7 + 1) == (forty_days["bucket"], len(forty_days["series"]))
