"""The dashboard's statistics in SQL (SQLite and PostgreSQL) against the same definitions computed in Python from the events."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import attrs
import pytest

from mosaicstack_telemetry.server import Storage
from mosaicstack_telemetry.server.stats_queries import DURATION_EDGES_MS, StatsFilter

from . import _stats_support as data
from .conftest import BACKENDS, new_storage

EVENTS = data.make_events(400)
#: Events on the edges of a time range: at the second, a microsecond after it, given at another offset.
EDGE = datetime(2026, 11, 21, 6, 0, tzinfo=timezone.utc)
EDGE_EVENTS = [
    attrs.evolve(EVENTS[0], event_id=UUID(int=1, version=4), timestamp=EDGE),
    attrs.evolve(EVENTS[1], event_id=UUID(int=2, version=4), timestamp=EDGE + timedelta(microseconds=1)),
    attrs.evolve(EVENTS[2], event_id=UUID(int=3, version=4), timestamp=EDGE - timedelta(microseconds=1)),
    attrs.evolve(
        EVENTS[3],
        event_id=UUID(int=4, version=4),
        timestamp=datetime(2026, 11, 21, 8, 0, tzinfo=timezone(timedelta(hours=2))),  # 06:00 UTC
    ),
]
ALL = EVENTS + EDGE_EVENTS
OTHER = data.make_events(60, instance_id=data.OTHER_INSTANCE, seed=3)

FILTERS: list[dict[str, Any]] = [
    {},
    {"model": "gpt-5"},
    {"task_type": "testing", "harness": "aider"},
    {"start": EDGE},
    {"end": EDGE},
    {"start": EDGE - timedelta(hours=5), "end": EDGE + timedelta(microseconds=1), "model": "claude-sonnet-4-5"},
    {"model": "no-such-model"},
]


@pytest.fixture(scope="module", params=BACKENDS)
def storage(request: pytest.FixtureRequest) -> Iterator[Storage]:
    """The dataset stored once per backend (SQLite, PostgreSQL): the same SQL answers on both."""
    with new_storage(request, request.param) as store:
        received = datetime(2026, 12, 1, tzinfo=timezone.utc)
        assert all(store.insert_events(ALL + OTHER, received))
        yield store


def _filter(**chosen: Any) -> StatsFilter:
    return StatsFilter(data.INSTANCE, **chosen)


@pytest.mark.parametrize("chosen", FILTERS)
def test_totals_groups_and_gates_equal_the_events(storage: Storage, chosen: dict[str, Any]) -> None:
    """Sums over the instance's selected events: totals, per model, per task type, gate failure counts."""
    selected = data.select(ALL, **chosen)
    with storage.stats() as stats:
        totals = stats.totals(_filter(**chosen))
        by_model = {row.key: row for row in stats.groups(_filter(**chosen), "model")}
        by_task = {row.key: row for row in stats.groups(_filter(**chosen), "task_type")}
        gates = {(row.task_type, row.gate): (row.runs, row.failures) for row in stats.gates(_filter(**chosen))}
    expected = data.totals(selected)
    assert expected == {name: getattr(totals, name) for name in expected}
    timestamps = [event.timestamp for event in selected]
    assert (min(timestamps, default=None), max(timestamps, default=None)) == (totals.first, totals.last)
    for field, rows in (("model", by_model), ("task_type", by_task)):
        assert data.by(selected, field) == {
            key: {name: getattr(row, name) for name in expected} for key, row in rows.items()
        }
    assert data.gate_rates(selected) == gates


@pytest.mark.parametrize("chosen", FILTERS)
def test_series_durations_and_the_latest_events_equal_the_events(storage: Storage, chosen: dict[str, Any]) -> None:
    selected = data.select(ALL, **chosen)
    with storage.stats() as stats:
        hours = stats.series(_filter(**chosen), "hour")
        days = stats.series(_filter(**chosen), "day")
        bins = stats.durations(_filter(**chosen))
        shortest = stats.duration_at(_filter(**chosen), 1)
        page = stats.events(_filter(**chosen), 25, 10)
    assert data.series(selected, "hour") == {bucket.start: bucket.events for bucket in hours}
    assert data.series(selected, "day") == {bucket.start: bucket.events for bucket in days}
    assert [bucket.start for bucket in hours] == sorted(bucket.start for bucket in hours)
    assert data.duration_bins(selected, DURATION_EDGES_MS) == bins
    assert min((event.task_duration_ms for event in selected), default=None) == shortest
    expected = data.latest(selected)[10:35]
    assert [event.event_id for event in expected] == [row.event_id for row in page]
    for event, row in zip(expected, page, strict=True):
        assert (event.timestamp, event.model, event.task_type.value, event.actual_cost_usd_micros) == (
            row.timestamp,
            row.model,
            row.task_type,
            row.cost_usd_micros,
        )
        assert ([gate.value for gate in event.quality_gates_failed], event.quality_gate_passed) == (
            row.quality_gates_failed,
            row.quality_gate_passed,
        )


#: Events decades apart, and on the edges of weeks (Sunday to Monday, UTC), months and years, and of datetime itself.
LONG_EDGES = [
    datetime(2026, 11, 22, 23, 59, 59, 999_999, tzinfo=timezone.utc),  # a Sunday's last microsecond
    datetime(2026, 11, 23, 0, 0, tzinfo=timezone.utc),  # the next Monday
    datetime(2026, 11, 23, 1, 0, tzinfo=timezone(timedelta(hours=2))),  # Sunday 23:00 UTC
    datetime(2026, 12, 31, 23, 59, 59, tzinfo=timezone.utc),
    datetime(2027, 1, 1, tzinfo=timezone.utc),
    datetime(2024, 2, 29, 12, tzinfo=timezone.utc),
    datetime(1, 1, 7, 23, tzinfo=timezone.utc),  # year 1 began on a Monday
    datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=timezone.utc),
]


@pytest.mark.parametrize("bucket", ["day", "week", "month", "year"])
def test_series_by_week_month_and_year_equal_the_events(any_storage: Storage, bucket: Any) -> None:
    moments = [
        *LONG_EDGES,
        *(datetime(1990, 1, 1, tzinfo=timezone.utc) + timedelta(hours=7 * n**2) for n in range(200)),
    ]
    events = [
        attrs.evolve(event, event_id=UUID(int=1000 + index, version=4), timestamp=moment)
        for index, (event, moment) in enumerate(zip(data.make_events(len(moments), seed=41), moments, strict=True))
    ]
    assert all(any_storage.insert_events(events, datetime(2026, 12, 1, tzinfo=timezone.utc)))
    with any_storage.stats() as stats:
        series = stats.series(_filter(), bucket)
        narrowed = stats.series(_filter(start=LONG_EDGES[0], end=LONG_EDGES[4]), bucket)
    assert data.series(events, bucket) == {row.start: row.events for row in series}
    assert [row.start for row in series] == sorted(row.start for row in series)
    inside = [event for event in events if LONG_EDGES[0] <= event.timestamp < LONG_EDGES[4]]
    assert data.series(inside, bucket) == {row.start: row.events for row in narrowed}


def test_series_refuse_an_unknown_bucket(storage: Storage) -> None:
    with storage.stats() as stats, pytest.raises(ValueError, match="bucket='minute'"):
        stats.series(_filter(), "minute")  # type: ignore[arg-type]


def test_duration_percentiles_are_nearest_rank(storage: Storage) -> None:
    selected = data.select(ALL)
    n = len(selected)
    with storage.stats() as stats:
        for percent in (1, 50, 90, 100):
            rank = max(1, -(-percent * n // 100))
            assert data.nearest_rank_duration(selected, percent) == stats.duration_at(_filter(), rank)
        assert stats.duration_at(_filter(), n + 1) is None


def test_combinations_are_the_most_used_first(storage: Storage) -> None:
    counts: dict[tuple[str, str, str, str], int] = {}
    for event in ALL:
        key = (event.task_type.value, event.model, event.provider.value, event.complexity.value)
        counts[key] = counts.get(key, 0) + 1
    expected = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:7]
    with storage.stats() as stats:
        rows = stats.combinations(_filter(), 7)
    assert expected == [((row.task_type, row.model, row.provider, row.complexity), row.events) for row in rows]


def test_facets_list_what_the_instance_holds(storage: Storage) -> None:
    with storage.stats() as stats:
        facets = stats.facets(data.INSTANCE)
        nothing = stats.facets(UUID(int=0))
    assert sorted({event.model for event in ALL}) == facets.models
    assert sorted({event.task_type.value for event in ALL}) == facets.task_types
    assert sorted({event.harness.value for event in ALL}) == facets.harnesses
    assert (min(e.timestamp for e in ALL), max(e.timestamp for e in ALL)) == (facets.first, facets.last)
    assert ([], [], [], None, None) == (
        nothing.models,
        nothing.task_types,
        nothing.harnesses,
        nothing.first,
        nothing.last,
    )


def test_another_instance_sees_only_its_own(storage: Storage) -> None:
    with storage.stats() as stats:
        totals = stats.totals(StatsFilter(data.OTHER_INSTANCE))
    assert data.totals(data.select(OTHER, instance_id=data.OTHER_INSTANCE)) == {
        name: getattr(totals, name) for name in data.totals([])
    }


def test_groups_refuse_an_unknown_column(storage: Storage) -> None:
    with storage.stats() as stats, pytest.raises(ValueError, match="by='outcome; DROP TABLE events'"):
        stats.groups(_filter(), "outcome; DROP TABLE events")
