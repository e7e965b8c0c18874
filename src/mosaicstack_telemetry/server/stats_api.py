"""The read API behind the dashboard: ``GET /v1/stats/...``, instance-scoped, as JSON.

Each endpoint authenticates with API v1's check (:func:`.keys.authenticate`; the :class:`~.keys.KeyRefusedError` it
raises is answered by the host app, as for API v1), reads only the key's instance, validates its query parameters at
the boundary (:mod:`.stats_params`: 422 naming each bad one), and reads the storage in one snapshot
(:meth:`.storage.Storage.stats`) on a worker thread behind a limiter of its own, so dashboards cannot take every
worker thread from ingestion.

* ``/v1/stats/overview`` — totals, the time series (bucketed by the event ``timestamp``, UTC, by the hour or the
  day, or coarser past :data:`.stats_params.MAX_SERIES_BUCKETS` buckets: :func:`.stats_params.series_bucket`), sums
  by model and by task type, gate failure counts by task type, the duration histogram and percentiles.
* ``/v1/stats/events`` — the latest events, newest first, a page at a time (``limit``, ``offset``, and ``total``).
* ``/v1/stats/filters`` — the values the filters can take (the instance's models, task types, harnesses, time span).
* ``/v1/stats/predictions`` — the instance's most used combinations, each with the server's prediction for it, which
  is crowd-sourced across every instance and may be up to ``max_age_seconds`` old (its ``last_updated`` says when
  it was computed).

Amounts are integers as stored (tokens, micro-dollars, milliseconds); times are RFC 3339 in UTC.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import anyio
import anyio.to_thread
import attrs
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import _wire
from ..predictions import PredictionQuery
from .keys import KeyUsage, authenticate
from .predictions import Predictor, nearest_rank
from .stats_params import (
    AUTO_HOURS,
    BUCKET,
    FILTER_PARAMETERS,
    LIMIT,
    OFFSET,
    PREDICTIONS,
    Parameter,
    Query,
    QueryError,
    parse,
    series_bucket,
)
from .stats_queries import DURATION_EDGES_MS, SeriesBucket, StatsFilter, StatsQueries, Totals
from .storage import Storage

__all__ = [
    "AUTO_HOURS",
    "EVENTS_PARAMETERS",
    "OVERVIEW_PARAMETERS",
    "PREDICTIONS_PARAMETERS",
    "STATS_PATHS",
    "StatsApi",
]

#: Worker threads reading statistics at once.
STATS_CONCURRENCY = 2

OVERVIEW_PARAMETERS: tuple[Parameter, ...] = (*FILTER_PARAMETERS, BUCKET)
EVENTS_PARAMETERS: tuple[Parameter, ...] = (*FILTER_PARAMETERS, LIMIT, OFFSET)
PREDICTIONS_PARAMETERS: tuple[Parameter, ...] = (*FILTER_PARAMETERS, PREDICTIONS)
#: Path → the parameters it accepts (the OpenAPI document lists the same).
STATS_PATHS: dict[str, tuple[Parameter, ...]] = {
    "/v1/stats/overview": OVERVIEW_PARAMETERS,
    "/v1/stats/events": EVENTS_PARAMETERS,
    "/v1/stats/filters": (),
    "/v1/stats/predictions": PREDICTIONS_PARAMETERS,
}

#: ``error(status, detail, errors)`` → the API's error, raised to answer.
ErrorFactory = Callable[[int, str, Sequence[str]], Exception]


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _filter_echo(selected: StatsFilter) -> dict[str, Any]:
    return {
        "from": _time(selected.start),
        "to": _time(selected.end),
        "model": selected.model,
        "task_type": selected.task_type,
        "harness": selected.harness,
    }


def _bucket(query: Query, totals: Totals) -> tuple[SeriesBucket, datetime | None, datetime | None]:
    """The bucket size (:func:`.stats_params.series_bucket`) and the range shown: the filter's bounds where given,
    else the events' first and last."""
    start = query.filter.start if query.filter.start is not None else totals.first
    end = query.filter.end if query.filter.end is not None else totals.last
    return series_bucket(query.bucket, start, end), start, end


def _percentile(stats: StatsQueries, selected: StatsFilter, percent: int, count: int) -> int | None:
    return stats.duration_at(selected, nearest_rank(percent, count)) if count else None


def overview(stats: StatsQueries, query: Query) -> dict[str, Any]:
    """The overview document (blocking: storage reads)."""
    selected = query.filter
    totals = stats.totals(selected)
    bucket, start, end = _bucket(query, totals)
    return {
        "filter": _filter_echo(selected),
        "totals": {**attrs.asdict(totals), "first": _time(totals.first), "last": _time(totals.last)},
        "bucket": bucket,
        "range": {"start": _time(start), "end": _time(end)},
        "series": [{**attrs.asdict(row), "start": _time(row.start)} for row in stats.series(selected, bucket)],
        "by_model": [attrs.asdict(row) for row in stats.groups(selected, "model")],
        "by_task_type": [attrs.asdict(row) for row in stats.groups(selected, "task_type")],
        "gates": [attrs.asdict(row) for row in stats.gates(selected)],
        "durations": {
            "edges_ms": list(DURATION_EDGES_MS),
            "counts": stats.durations(selected),
            "p50_ms": _percentile(stats, selected, 50, totals.events),
            "p90_ms": _percentile(stats, selected, 90, totals.events),
        },
    }


def events_page(stats: StatsQueries, query: Query) -> dict[str, Any]:
    """A page of the latest events (blocking: storage reads)."""
    rows = stats.events(query.filter, query.limit, query.offset)
    return {
        "filter": _filter_echo(query.filter),
        "total": stats.totals(query.filter).events,
        "limit": query.limit,
        "offset": query.offset,
        "events": [
            {**attrs.asdict(row), "event_id": str(row.event_id), "timestamp": _time(row.timestamp)} for row in rows
        ],
    }


def filters(stats: StatsQueries, instance_id: UUID) -> dict[str, Any]:
    """The values the instance's filters can take (blocking: storage reads)."""
    facets = stats.facets(instance_id)
    return {
        "instance_id": str(instance_id),
        "models": facets.models,
        "task_types": facets.task_types,
        "harnesses": facets.harnesses,
        "first": _time(facets.first),
        "last": _time(facets.last),
    }


class StatsApi:
    """The ``/v1/stats/...`` endpoints over one server's storage, predictor and key usage (the server's one
    :class:`~.keys.KeyUsage`, shared with API v1)."""

    def __init__(
        self,
        storage: Storage,
        predictor: Predictor,
        *,
        key_usage: KeyUsage,
        error: ErrorFactory,
        clock: Callable[[], datetime],
        prediction_limiter: anyio.CapacityLimiter,
    ) -> None:
        self._storage = storage
        self._predictor = predictor
        self._key_usage = key_usage
        self._error = error
        self._clock = clock
        self._prediction_limiter = prediction_limiter
        self.limiter = anyio.CapacityLimiter(STATS_CONCURRENCY)

    def routes(self) -> list[Route]:
        return [
            Route("/v1/stats/overview", self.overview, methods=["GET"]),
            Route("/v1/stats/events", self.events, methods=["GET"]),
            Route("/v1/stats/filters", self.filters, methods=["GET"]),
            Route("/v1/stats/predictions", self.predictions, methods=["GET"]),
        ]

    async def _query(self, request: Request, accepted: Sequence[Parameter]) -> Query:
        record = await authenticate(self._storage, self._key_usage, request.headers.get("authorization"))
        try:
            return parse(request.query_params.multi_items(), record.instance_id, accepted)
        except QueryError as error:
            raise self._error(422, "invalid query parameters", error.errors) from None

    async def _read(self, read: Callable[[StatsQueries], dict[str, Any]]) -> Response:
        def run() -> bytes:
            with self._storage.stats() as stats:
                return _wire.dumps(read(stats))

        body = await anyio.to_thread.run_sync(run, limiter=self.limiter)
        return Response(body, media_type="application/json", headers={"Cache-Control": "no-store"})

    async def overview(self, request: Request) -> Response:
        query = await self._query(request, OVERVIEW_PARAMETERS)
        return await self._read(lambda stats: overview(stats, query))

    async def events(self, request: Request) -> Response:
        query = await self._query(request, EVENTS_PARAMETERS)
        return await self._read(lambda stats: events_page(stats, query))

    async def filters(self, request: Request) -> Response:
        query = await self._query(request, ())
        return await self._read(lambda stats: filters(stats, query.filter.instance_id))

    async def predictions(self, request: Request) -> Response:
        query = await self._query(request, PREDICTIONS_PARAMETERS)
        return Response(
            await anyio.to_thread.run_sync(self._predict, query, limiter=self._prediction_limiter),
            media_type="application/json",
            headers={"Cache-Control": "no-store"},
        )

    def _predict(self, query: Query) -> bytes:
        """The instance's most used combinations and the server's predictions for them (blocking)."""
        with self._storage.stats() as stats:
            combinations = stats.combinations(query.filter, query.limit)
        queries = [
            PredictionQuery(task_type=row.task_type, model=row.model, provider=row.provider, complexity=row.complexity)
            for row in combinations
        ]
        answers = self._predictor.predict_batch(queries) if queries else []
        return _wire.dumps(
            {
                "filter": _filter_echo(query.filter),
                "generated_at": self._clock().isoformat(),
                "max_age_seconds": self._predictor.max_age_seconds,
                "results": [
                    {"query": question, "events": row.events, "response": answer}
                    for question, row, answer in zip(queries, combinations, answers, strict=True)
                ],
            }
        )
