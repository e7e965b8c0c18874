"""Fetching predictions: chunked ``POST /v1/predictions/batch`` with the events' retry rules, into the cache.

Used by ``refresh_predictions`` (on the running core's HTTP client, or a short-lived one) and by the core's
:class:`PredictionRefresher`, which keeps the predictions people read fresh. Server or network trouble never
raises: it is logged, reported to ``on_error`` and counted; the cache keeps what it had.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import anyio
import httpx

from ._backoff import backoff_delay
from ._http import AttemptError, post, report_failure
from ._protocol import (
    MAX_PREDICTION_QUERIES,
    PREDICTIONS_PATH,
    decode_prediction_response,
    encode_prediction_request,
)
from .cache import PredictionCache
from .config import TelemetryConfig
from .errors import TelemetryError, ValidationError
from .predictions import PredictionQuery, PredictionResponse

if TYPE_CHECKING:
    from ._accounting import Accounting

__all__ = ["REFRESH_MARGIN_SECONDS", "PredictionFetcher", "PredictionRefresher", "checked_queries"]

logger = logging.getLogger("mosaicstack_telemetry")

#: Wanted predictions are re-fetched this long (at most a tenth of the TTL) before they expire.
REFRESH_MARGIN_SECONDS = 60.0


def checked_queries(queries: Iterable[PredictionQuery]) -> list[PredictionQuery]:
    """The queries without repeats, in order; anything that is not a ``PredictionQuery`` is a ``TypeError``."""
    unique: dict[PredictionQuery, None] = {}
    for index, query in enumerate(queries):
        if not isinstance(query, PredictionQuery):
            raise TypeError(f"queries[{index}] is a {type(query).__name__}, not a PredictionQuery")
        unique[query] = None
    return list(unique)


class PredictionFetcher:
    """Fetches predictions for one client (its config, cache and counters)."""

    def __init__(self, config: TelemetryConfig, cache: PredictionCache, accounting: Accounting) -> None:
        self.config = config
        self.cache = cache
        self._acc = accounting
        self._url = f"{config.server_url}{PREDICTIONS_PATH}"

    async def fetch(self, http: httpx.AsyncClient, queries: Sequence[PredictionQuery]) -> bool:
        """Fetch ``queries`` (chunked) into the cache; whether every chunk succeeded."""
        ok = True
        for start in range(0, len(queries), MAX_PREDICTION_QUERIES):
            chunk = queries[start : start + MAX_PREDICTION_QUERIES]
            ok = await self._fetch_chunk(http, chunk) and ok
        return ok

    async def _fetch_chunk(self, http: httpx.AsyncClient, chunk: Sequence[PredictionQuery]) -> bool:
        body = encode_prediction_request(chunk)
        attempts = 1 + max(0, self.config.max_retries)
        for attempt in range(1, attempts + 1):
            try:
                response = await post(http, self._url, body, deadline=self.config.request_timeout_seconds)
                results = self._decode(response, len(chunk))
            except AttemptError as failure:
                self._failed(failure)
                if not failure.retryable or attempt == attempts:
                    return False
                delay = backoff_delay(attempt)
                await anyio.sleep(max(delay, failure.retry_after or 0.0))
            except (
                ValidationError,
                TelemetryError,
            ) as bad_reply:  # malformed: retrying will not fix it
                self._failed(TelemetryError(f"unreadable prediction reply: {bad_reply}"))
                return False
            else:
                for query, result in zip(chunk, results, strict=True):
                    self.cache.put(query, result)
                self._acc.predictions_fetched += len(results)
                return True
        return False  # pragma: no cover - the loop always returns

    def _decode(self, response: httpx.Response, expected: int) -> list[PredictionResponse]:
        """The results of a 2xx reply, one per query; a malformed or short reply raises ``TelemetryError``."""
        results = decode_prediction_response(response.content)
        if len(results) != expected:
            raise TelemetryError(f"{len(results)} prediction results for {expected} queries from {self._url}")
        return results

    def _failed(self, error: TelemetryError) -> None:
        self._acc.prediction_failures += 1
        report_failure(error, self.config.on_error)


class PredictionRefresher:
    """Keeps wanted predictions fresh for one run of the core: re-fetches them together shortly before they expire.

    Stale-while-revalidate: the old entry stays readable until the new one arrives; after a failed refresh it stays
    until it expires, and the next try waits a backoff.
    """

    def __init__(self, fetcher: PredictionFetcher, http: httpx.AsyncClient) -> None:
        self._fetcher = fetcher
        self._http = http
        self._wakeup = anyio.Event()

    def reschedule(self) -> None:
        """Look at the cache again now (a fetch just changed what expires when)."""
        self._wakeup.set()

    async def run(self, prefetch: Sequence[PredictionQuery]) -> None:
        """Fetch ``prefetch``, then refresh until cancelled."""
        cache = self._fetcher.cache
        margin = min(REFRESH_MARGIN_SECONDS, cache.ttl_seconds / 10)
        if prefetch:
            await self._fetcher.fetch(self._http, prefetch)
        failures = 0
        while True:
            with anyio.move_on_after(cache.seconds_until_refresh(margin)):
                await self._wakeup.wait()
            self._wakeup = anyio.Event()
            due = cache.due_for_refresh(margin)
            if not due:
                continue
            if await self._fetcher.fetch(self._http, due):
                failures = 0
            else:
                failures += 1
                await anyio.sleep(backoff_delay(failures))
