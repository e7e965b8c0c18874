"""The dashboard's statistics in SQL, written once for every backend and run through :meth:`.storage.Storage.stats`.

Every query reads one instance's events (the read API is instance-scoped), narrowed by a :class:`StatsFilter`
(a time range on the event's ``timestamp``, half-open ``[start, end)``, and exact model, task type and harness), and
aggregates in SQL: Python receives one row per group, never the events. A backend runs them on one connection inside
one read transaction and hands :class:`StatsQueries` a ``fetch(sql, params) -> rows`` function and its
:class:`Dialect`: what differs between SQLite and PostgreSQL is only

* the placeholder (``?`` or ``%s``; no query here holds a literal ``%``);
* how a timestamp is bucketed by the hour, day, week (from Monday, as ISO 8601), month or year, in UTC: SQLite
  stores ISO 8601 UTC text (``substr`` and ``date`` of it), PostgreSQL a ``timestamptz`` (``date_trunc`` at
  ``'UTC'``);
* how a gate list is asked whether it holds a gate: SQLite stores JSON text (``instr`` of the quoted value: the
  values are :class:`~mosaicstack_telemetry.enums.QualityGate` words), PostgreSQL a ``text[]`` (``= ANY``);
* how the table is read: SQLite is told to scan it (``NOT INDEXED``, see :data:`SQLITE`);
* how UUIDs and timestamps are bound and read back.

SQLite's ISO 8601 text compares in time order, since every value is ``datetime.isoformat()`` of a UTC time
(``...:21+00:00`` sorts before ``...:21.5+00:00``), and bounds are bound in the same form.

Definitions (the tests compute the same from the events, independently):

* a gate's failure rate for a task type is the events whose ``quality_gates_failed`` lists it over the events whose
  ``quality_gates_run`` lists it (each event counted once per gate);
* durations fall into :data:`DURATION_EDGES_MS` bins, ``[edge, next edge)``, the last one open-ended;
* duration percentiles are nearest-rank (as :func:`.predictions.nearest_rank`);
* the latest events are ordered by ``timestamp``, newest first, then ``event_id``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any, Literal
from uuid import UUID

import attrs

from ..enums import QualityGate
from .stats_rows import Bucket, Combination, EventRow, Facets, GateRow, GroupRow, Totals

__all__ = [
    "DURATION_EDGES_MS",
    "GROUP_COLUMNS",
    "POSTGRES",
    "SERIES_BUCKETS",
    "SQLITE",
    "Bucket",
    "Combination",
    "Dialect",
    "EventRow",
    "Facets",
    "Fetch",
    "GateRow",
    "GroupRow",
    "SeriesBucket",
    "StatsFilter",
    "StatsQueries",
    "Totals",
]

#: Runs one query with its parameters and returns every row (a backend's ``connection.execute(...).fetchall()``).
Fetch = Callable[[str, Sequence[Any]], Sequence[Sequence[Any]]]

#: A time series' bucket size (UTC; a week starts on Monday).
SeriesBucket = Literal["hour", "day", "week", "month", "year"]
#: The bucket sizes, finest first.
SERIES_BUCKETS: tuple[SeriesBucket, ...] = ("hour", "day", "week", "month", "year")

#: The columns :meth:`StatsQueries.groups` can group by.
GROUP_COLUMNS = ("model", "task_type", "harness", "provider")
#: The lower edges of the duration histogram's bins (milliseconds): 10 s, 30 s, 1, 2, 5, 10, 30 min, 1 h.
DURATION_EDGES_MS: tuple[int, ...] = (0, 10_000, 30_000, 60_000, 120_000, 300_000, 600_000, 1_800_000, 3_600_000)

_UTC = timezone.utc


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(_UTC)


@attrs.frozen
class Dialect:
    """What one SQL backend spells differently. Templates take the column as ``{column}``."""

    name: str
    placeholder: str
    #: the start of the UTC hour / day / week (Monday) / month / year holding ``{column}``, as the backend returns a
    #: timestamp (one per :data:`SERIES_BUCKETS`)
    hour: str
    day: str
    week: str
    month: str
    year: str
    #: true when the gate list ``{column}`` holds the gate bound as ``{value}`` (bound with :attr:`bind_gate`)
    has_gate: str
    bind_gate: Callable[[str], Any]
    bind_uuid: Callable[[UUID], Any]
    bind_time: Callable[[datetime], Any]
    load_time: Callable[[Any], datetime]
    load_gates: Callable[[Any], list[str]]
    #: the ``FROM`` item of the events (aliased ``e``)
    events: str = "events AS e"


#: SQLite (:mod:`.sqlite`): UUIDs and timestamps as text, gate lists as JSON text, booleans as integers. The table
#: is read ``NOT INDEXED``: in table order, an instance's rows come 3-6 times faster than through an index and one
#: lookup per row (measured at 100k events of one instance among two: ``benchmarks/bench_stats.py``), and a
#: reference server holds few instances.
SQLITE = Dialect(
    name="sqlite",
    placeholder="?",
    hour="substr({column}, 1, 13) || ':00:00+00:00'",
    day="substr({column}, 1, 10) || 'T00:00:00+00:00'",
    week="date(substr({column}, 1, 10), '-6 days', 'weekday 1') || 'T00:00:00+00:00'",  # the Monday on or before
    month="substr({column}, 1, 7) || '-01T00:00:00+00:00'",
    year="substr({column}, 1, 4) || '-01-01T00:00:00+00:00'",
    has_gate="instr({column}, {value}) > 0",
    bind_gate=json.dumps,
    bind_uuid=str,
    bind_time=lambda moment: _utc(moment).isoformat(),
    load_time=lambda text: _utc(datetime.fromisoformat(text)),
    load_gates=json.loads,
    events="events AS e NOT INDEXED",
)

#: PostgreSQL: ``uuid``, ``timestamptz``, ``boolean`` and ``text[]`` columns, bound as they are.
POSTGRES = Dialect(
    name="postgresql",
    placeholder="%s",
    hour="date_trunc('hour', {column}, 'UTC')",
    day="date_trunc('day', {column}, 'UTC')",
    week="date_trunc('week', {column}, 'UTC')",
    month="date_trunc('month', {column}, 'UTC')",
    year="date_trunc('year', {column}, 'UTC')",
    has_gate="{value} = ANY({column})",
    bind_gate=str,
    bind_uuid=lambda value: value,
    bind_time=_utc,
    load_time=_utc,
    load_gates=list,
)


@attrs.frozen
class StatsFilter:
    """Which of one instance's events to read: ``start <= timestamp < end``, and exact matches when given."""

    instance_id: UUID
    start: datetime | None = None
    end: datetime | None = None
    model: str | None = None
    task_type: str | None = None
    harness: str | None = None


class _Sql:
    """A query's parameters, bound in order as placeholders are written."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.params: list[Any] = []

    def bind(self, value: Any) -> str:
        self.params.append(value)
        return self.dialect.placeholder

    def where(self, selected: StatsFilter) -> str:
        """The ``WHERE`` clause over ``events AS e`` (values bound, column names fixed here: no injection)."""
        dialect = self.dialect
        clauses = [f"e.instance_id = {self.bind(dialect.bind_uuid(selected.instance_id))}"]
        if selected.start is not None:
            clauses.append(f"e.timestamp >= {self.bind(dialect.bind_time(selected.start))}")
        if selected.end is not None:
            clauses.append(f"e.timestamp < {self.bind(dialect.bind_time(selected.end))}")
        for column in ("model", "task_type", "harness"):
            value = getattr(selected, column)
            if value is not None:
                clauses.append(f"e.{column} = {self.bind(value)}")
        return " WHERE " + " AND ".join(clauses)


_SUCCEEDED = "coalesce(sum(CASE WHEN e.outcome = 'success' THEN 1 ELSE 0 END), 0)"
_GATE_PASSED = "coalesce(sum(CASE WHEN e.quality_gate_passed THEN 1 ELSE 0 END), 0)"
_SUMS = (
    "count(*), coalesce(sum(e.actual_input_tokens), 0), coalesce(sum(e.actual_output_tokens), 0),"
    f" coalesce(sum(e.actual_cost_usd_micros), 0), {_SUCCEEDED}"
)


def _ints(row: Sequence[Any]) -> list[int]:
    return [int(value) for value in row]  # PostgreSQL's sum(bigint) is numeric: Decimal in Python


class StatsQueries:
    """The dashboard's queries over one connection and snapshot (see the module's docstring for the contract)."""

    def __init__(self, fetch: Fetch, dialect: Dialect) -> None:
        self._fetch = fetch
        self._dialect = dialect

    def _time(self, value: Any) -> datetime | None:
        return None if value is None else self._dialect.load_time(value)

    def totals(self, selected: StatsFilter) -> Totals:
        sql = _Sql(self._dialect)
        where = sql.where(selected)
        query = f"SELECT {_SUMS}, {_GATE_PASSED}, min(e.timestamp), max(e.timestamp) FROM {self._dialect.events}{where}"  # noqa: S608
        (row,) = self._fetch(query, sql.params)
        events, input_tokens, output_tokens, cost, succeeded, gate_passed = _ints(row[:6])
        return Totals(
            events, input_tokens, output_tokens, cost, succeeded, gate_passed, self._time(row[6]), self._time(row[7])
        )

    def series(self, selected: StatsFilter, bucket: SeriesBucket) -> list[Bucket]:
        """Events per UTC hour, day, week, month or year of their ``timestamp``: only buckets holding events, oldest
        first. As many rows as buckets holding events: choose the size for the range (:func:`.stats_params.series_bucket`)."""
        if bucket not in SERIES_BUCKETS:
            raise ValueError(f"bucket={bucket!r}: expected one of {', '.join(SERIES_BUCKETS)}")
        sql = _Sql(self._dialect)
        start = getattr(self._dialect, bucket).format(column="e.timestamp")
        where = sql.where(selected)
        query = f"SELECT {start}, {_SUMS} FROM {self._dialect.events}{where} GROUP BY 1 ORDER BY 1"  # noqa: S608
        rows = self._fetch(query, sql.params)
        return [Bucket(self._dialect.load_time(row[0]), *_ints(row[1:])) for row in rows]

    def groups(self, selected: StatsFilter, by: str) -> list[GroupRow]:
        """Sums per value of ``by`` (one of :data:`GROUP_COLUMNS`), the most costly first, then by events."""
        if by not in GROUP_COLUMNS:
            raise ValueError(f"by={by!r}: expected one of {', '.join(GROUP_COLUMNS)}")
        sql = _Sql(self._dialect)
        where = sql.where(selected)
        query = f"SELECT e.{by}, {_SUMS}, {_GATE_PASSED} FROM {self._dialect.events}{where} GROUP BY 1 ORDER BY 5 DESC, 2 DESC, 1"  # noqa: S608
        return [GroupRow(str(row[0]), *_ints(row[1:])) for row in self._fetch(query, sql.params)]

    def gates(self, selected: StatsFilter) -> list[GateRow]:
        """Per task type and gate: the events that ran it and those that failed it, by task type then gate (only
        pairs with any). One scan: each gate is a pair of sums, since the gates are the enum's few values."""
        sql = _Sql(self._dialect)
        dialect, gates = self._dialect, sorted(gate.value for gate in QualityGate)
        sums = ", ".join(
            f"coalesce(sum(CASE WHEN {dialect.has_gate.format(column=f'e.{column}', value=sql.bind(dialect.bind_gate(gate)))}"
            " THEN 1 ELSE 0 END), 0)"
            for gate in gates
            for column in ("quality_gates_run", "quality_gates_failed")
        )
        where = sql.where(selected)
        query = f"SELECT e.task_type, {sums} FROM {dialect.events}{where} GROUP BY 1 ORDER BY 1"  # noqa: S608
        rows = []
        for row in self._fetch(query, sql.params):
            counts = _ints(row[1:])
            for index, gate in enumerate(gates):
                runs, failures = counts[2 * index], counts[2 * index + 1]
                if runs or failures:
                    rows.append(GateRow(str(row[0]), gate, runs, failures))
        return rows

    def durations(self, selected: StatsFilter) -> list[int]:
        """How many events fall in each :data:`DURATION_EDGES_MS` bin (every bin, empty ones as 0)."""
        cases = " ".join(
            f"WHEN e.task_duration_ms < {edge} THEN {index - 1}"
            for index, edge in enumerate(DURATION_EDGES_MS)
            if index
        )
        sql = _Sql(self._dialect)
        where = sql.where(selected)
        query = (
            f"SELECT CASE {cases} ELSE {len(DURATION_EDGES_MS) - 1} END, count(*)"  # noqa: S608 - edges are ints
            f" FROM {self._dialect.events}{where} GROUP BY 1"
        )
        counts = [0] * len(DURATION_EDGES_MS)
        for index, count in self._fetch(query, sql.params):
            counts[int(index)] = int(count)
        return counts

    def duration_at(self, selected: StatsFilter, rank: int) -> int | None:
        """The ``rank``-th smallest duration (1-based), or ``None`` beyond the last event."""
        sql = _Sql(self._dialect)
        where = sql.where(selected)
        offset = sql.bind(max(rank - 1, 0))
        query = f"SELECT e.task_duration_ms FROM {self._dialect.events}{where} ORDER BY 1 LIMIT 1 OFFSET {offset}"  # noqa: S608
        rows = self._fetch(query, sql.params)
        return int(rows[0][0]) if rows else None

    def combinations(self, selected: StatsFilter, limit: int) -> list[Combination]:
        """The most used (task type, model, provider, complexity) combinations: what predictions are asked for."""
        sql = _Sql(self._dialect)
        where = sql.where(selected)
        query = (
            f"SELECT e.task_type, e.model, e.provider, e.complexity, count(*) FROM {self._dialect.events}{where}"  # noqa: S608
            f" GROUP BY 1, 2, 3, 4 ORDER BY 5 DESC, 1, 2, 3, 4 LIMIT {sql.bind(limit)}"
        )
        return [
            Combination(str(row[0]), str(row[1]), str(row[2]), str(row[3]), int(row[4]))
            for row in self._fetch(query, sql.params)
        ]

    def events(self, selected: StatsFilter, limit: int, offset: int) -> list[EventRow]:
        """A page of the latest events: newest ``timestamp`` first (then ``event_id``), skipping ``offset``."""
        sql = _Sql(self._dialect)
        where = sql.where(selected)
        query = (
            "SELECT e.event_id, e.timestamp, e.task_type, e.model, e.provider, e.complexity, e.harness, e.outcome,"  # noqa: S608
            " e.task_duration_ms, e.actual_input_tokens, e.actual_output_tokens, e.actual_cost_usd_micros,"
            f" e.quality_gate_passed, e.quality_gates_failed FROM {self._dialect.events}{where}"
            f" ORDER BY e.timestamp DESC, e.event_id DESC LIMIT {sql.bind(limit)} OFFSET {sql.bind(offset)}"
        )
        load_time, load_gates = self._dialect.load_time, self._dialect.load_gates
        return [
            EventRow(
                event_id=UUID(str(row[0])),
                timestamp=load_time(row[1]),
                task_type=str(row[2]),
                model=str(row[3]),
                provider=str(row[4]),
                complexity=str(row[5]),
                harness=str(row[6]),
                outcome=str(row[7]),
                task_duration_ms=int(row[8]),
                input_tokens=int(row[9]),
                output_tokens=int(row[10]),
                cost_usd_micros=int(row[11]),
                quality_gate_passed=bool(row[12]),
                quality_gates_failed=[str(gate) for gate in load_gates(row[13])],
            )
            for row in self._fetch(query, sql.params)
        ]

    def facets(self, instance_id: UUID) -> Facets:
        """The models, task types and harnesses the instance's events hold, and their time span (one scan)."""
        sql = _Sql(self._dialect)
        where = sql.where(StatsFilter(instance_id))
        query = (
            f"SELECT e.model, e.task_type, e.harness, min(e.timestamp), max(e.timestamp) FROM {self._dialect.events}{where}"  # noqa: S608
            " GROUP BY 1, 2, 3"
        )
        rows = self._fetch(query, sql.params)
        first = min((self._dialect.load_time(row[3]) for row in rows), default=None)
        last = max((self._dialect.load_time(row[4]) for row in rows), default=None)
        models, task_types, harnesses = (sorted({str(row[index]) for row in rows}) for index in range(3))
        return Facets(models, task_types, harnesses, first, last)
