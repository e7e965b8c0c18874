"""The dashboard's statistics in SQL, written once for every backend and run through :meth:`.storage.Storage.stats`.

Every query reads one instance's events (the read API is instance-scoped), narrowed by a :class:`StatsFilter`
(a time range on the event's ``timestamp``, half-open ``[start, end)``, and exact model, task type and harness), and
aggregates in SQL: Python receives one row per group, never the events. A backend runs them on one connection inside
one read transaction and hands :class:`StatsQueries` a ``fetch(sql, params) -> rows`` function and its
:class:`Dialect`: what differs between SQLite and PostgreSQL is only

* the placeholder (``?`` or ``%s``; no query here holds a literal ``%``);
* how a timestamp is bucketed by the hour or the day, in UTC: SQLite stores ISO 8601 UTC text (``substr`` of it),
  PostgreSQL a ``timestamptz`` (``date_trunc`` at ``'UTC'``);
* how a gate list is expanded to rows: SQLite stores JSON text (``json_each``), PostgreSQL a ``text[]`` (``unnest``);
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

__all__ = [
    "DURATION_EDGES_MS",
    "GROUP_COLUMNS",
    "POSTGRES",
    "SQLITE",
    "Bucket",
    "Combination",
    "Dialect",
    "EventRow",
    "Facets",
    "Fetch",
    "GateRow",
    "GroupRow",
    "StatsFilter",
    "StatsQueries",
    "Totals",
]

#: Runs one query with its parameters and returns every row (a backend's ``connection.execute(...).fetchall()``).
Fetch = Callable[[str, Sequence[Any]], Sequence[Sequence[Any]]]

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
    #: the start of the UTC hour / day holding ``{column}``, as the backend returns a timestamp
    hour: str
    day: str
    #: a ``FROM`` item expanding the gate list ``{column}`` into rows, one column ``g.value``
    expand_gates: str
    bind_uuid: Callable[[UUID], Any]
    bind_time: Callable[[datetime], Any]
    load_time: Callable[[Any], datetime]
    load_gates: Callable[[Any], list[str]]


#: SQLite (:mod:`.sqlite`): UUIDs and timestamps as text, gate lists as JSON text, booleans as integers.
SQLITE = Dialect(
    name="sqlite",
    placeholder="?",
    hour="substr({column}, 1, 13) || ':00:00+00:00'",
    day="substr({column}, 1, 10) || 'T00:00:00+00:00'",
    expand_gates="json_each({column}) AS g",
    bind_uuid=str,
    bind_time=lambda moment: _utc(moment).isoformat(),
    load_time=lambda text: _utc(datetime.fromisoformat(text)),
    load_gates=json.loads,
)

#: PostgreSQL: ``uuid``, ``timestamptz``, ``boolean`` and ``text[]`` columns, bound as they are.
POSTGRES = Dialect(
    name="postgresql",
    placeholder="%s",
    hour="date_trunc('hour', {column}, 'UTC')",
    day="date_trunc('day', {column}, 'UTC')",
    expand_gates="unnest({column}) AS g(value)",
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


@attrs.frozen
class Totals:
    events: int
    input_tokens: int
    output_tokens: int
    cost_usd_micros: int
    succeeded: int
    gate_passed: int
    #: the earliest and latest event ``timestamp`` (``None`` without events)
    first: datetime | None
    last: datetime | None


@attrs.frozen
class Bucket:
    start: datetime
    events: int
    input_tokens: int
    output_tokens: int
    cost_usd_micros: int
    succeeded: int


@attrs.frozen
class GroupRow:
    key: str
    events: int
    input_tokens: int
    output_tokens: int
    cost_usd_micros: int
    succeeded: int
    gate_passed: int


@attrs.frozen
class GateRow:
    task_type: str
    gate: str
    #: events of the task type that ran the gate, and those among them... that listed it failed
    runs: int
    failures: int


@attrs.frozen
class Combination:
    task_type: str
    model: str
    provider: str
    complexity: str
    events: int


@attrs.frozen
class EventRow:
    event_id: UUID
    timestamp: datetime
    task_type: str
    model: str
    provider: str
    complexity: str
    harness: str
    outcome: str
    task_duration_ms: int
    input_tokens: int
    output_tokens: int
    cost_usd_micros: int
    quality_gate_passed: bool
    quality_gates_failed: list[str]


@attrs.frozen
class Facets:
    """The values an instance's filters can take: what its events hold."""

    models: list[str]
    task_types: list[str]
    harnesses: list[str]
    first: datetime | None
    last: datetime | None


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
        query = f"SELECT {_SUMS}, {_GATE_PASSED}, min(e.timestamp), max(e.timestamp) FROM events AS e{where}"  # noqa: S608
        (row,) = self._fetch(query, sql.params)
        events, input_tokens, output_tokens, cost, succeeded, gate_passed = _ints(row[:6])
        return Totals(
            events, input_tokens, output_tokens, cost, succeeded, gate_passed, self._time(row[6]), self._time(row[7])
        )

    def series(self, selected: StatsFilter, bucket: Literal["hour", "day"]) -> list[Bucket]:
        """Events per UTC hour or day of their ``timestamp``: only buckets holding events, oldest first."""
        sql = _Sql(self._dialect)
        start = getattr(self._dialect, bucket).format(column="e.timestamp")
        where = sql.where(selected)
        rows = self._fetch(f"SELECT {start}, {_SUMS} FROM events AS e{where} GROUP BY 1 ORDER BY 1", sql.params)  # noqa: S608
        return [Bucket(self._dialect.load_time(row[0]), *_ints(row[1:])) for row in rows]

    def groups(self, selected: StatsFilter, by: str) -> list[GroupRow]:
        """Sums per value of ``by`` (one of :data:`GROUP_COLUMNS`), the most costly first, then by events."""
        if by not in GROUP_COLUMNS:
            raise ValueError(f"by={by!r}: expected one of {', '.join(GROUP_COLUMNS)}")
        sql = _Sql(self._dialect)
        where = sql.where(selected)
        query = f"SELECT e.{by}, {_SUMS}, {_GATE_PASSED} FROM events AS e{where} GROUP BY 1 ORDER BY 5 DESC, 2 DESC, 1"  # noqa: S608
        return [GroupRow(str(row[0]), *_ints(row[1:])) for row in self._fetch(query, sql.params)]

    def gates(self, selected: StatsFilter) -> list[GateRow]:
        """Per task type and gate: the events that ran it and those that failed it, by task type then gate."""
        runs = self._gate_counts(selected, "quality_gates_run")
        failures = self._gate_counts(selected, "quality_gates_failed")
        return [
            GateRow(task_type, gate, runs.get((task_type, gate), 0), failures.get((task_type, gate), 0))
            for task_type, gate in sorted(runs.keys() | failures.keys())
        ]

    def _gate_counts(self, selected: StatsFilter, column: str) -> dict[tuple[str, str], int]:
        sql = _Sql(self._dialect)
        expand = self._dialect.expand_gates.format(column=f"e.{column}")
        where = sql.where(selected)
        query = (
            f"SELECT e.task_type, g.value, count(DISTINCT e.event_id) FROM events AS e CROSS JOIN {expand}{where}"  # noqa: S608
            " GROUP BY 1, 2"
        )
        return {(str(row[0]), str(row[1])): int(row[2]) for row in self._fetch(query, sql.params)}

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
            f" FROM events AS e{where} GROUP BY 1"
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
        query = f"SELECT e.task_duration_ms FROM events AS e{where} ORDER BY 1 LIMIT 1 OFFSET {offset}"  # noqa: S608
        rows = self._fetch(query, sql.params)
        return int(rows[0][0]) if rows else None

    def combinations(self, selected: StatsFilter, limit: int) -> list[Combination]:
        """The most used (task type, model, provider, complexity) combinations: what predictions are asked for."""
        sql = _Sql(self._dialect)
        where = sql.where(selected)
        query = (
            f"SELECT e.task_type, e.model, e.provider, e.complexity, count(*) FROM events AS e{where}"  # noqa: S608
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
            f" e.quality_gate_passed, e.quality_gates_failed FROM events AS e{where}"
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
        """The models, task types and harnesses the instance's events hold, and their time span."""
        values: dict[str, list[str]] = {}
        for column in ("model", "task_type", "harness"):
            sql = _Sql(self._dialect)
            where = sql.where(StatsFilter(instance_id))
            query = f"SELECT DISTINCT e.{column} FROM events AS e{where} ORDER BY 1"  # noqa: S608
            values[column] = [str(row[0]) for row in self._fetch(query, sql.params)]
        sql = _Sql(self._dialect)
        where = sql.where(StatsFilter(instance_id))
        ((first, last),) = self._fetch(f"SELECT min(e.timestamp), max(e.timestamp) FROM events AS e{where}", sql.params)  # noqa: S608
        return Facets(values["model"], values["task_type"], values["harness"], self._time(first), self._time(last))
