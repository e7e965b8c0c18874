"""Predictions from the stored events: percentiles, correction factors, quality rates, fallback and confidence.

Decisions, each made here and only here:

**Percentiles: the nearest-rank method** (Hyndman & Fan type 1; what PostgreSQL's ``percentile_disc`` computes).
The p-th percentile of n sorted values is the value at 1-based rank ``ceil(p/100 · n)`` (at least 1). It is always
one of the observed values — an integer token count, cost or duration, as the schema's ``int`` fields want, with no
rounding rule to invent — and needs only a handful of order statistics, which the storage selects in SQL
(:meth:`.storage.StorageReader.summarize`) without handing every row to Python. The median is p50 by the same rule
(for an even n the lower of the two middle values).

**Correction factors** are ratios of sums over the events whose estimate is above zero: Σ actual ÷ Σ estimated, for
input and output tokens separately. A ratio of sums weighs every token equally; a mean of per-event ratios would
let one event estimated at 1 token dominate. With no such events the factor is 1.0 (no correction).

**Quality**: ``gate_pass_rate`` is the share of events with ``quality_gate_passed``; ``success_rate`` the share
with ``outcome == "success"``.

**Fallback order** (:data:`FALLBACK_LEVELS`), used when a level has fewer than :data:`MIN_SAMPLES` events:

====== ============================================ ==============================
level  dimensions matched                           dropped (cumulative)
====== ============================================ ==============================
0      task_type, model, provider, complexity       —
1      task_type, model, provider                   complexity
2      task_type, provider                          complexity, model
3      task_type                                    complexity, model, provider
-1     nothing matched: ``prediction`` is ``null``  everything
====== ============================================ ==============================

The first level with at least :data:`MIN_SAMPLES` events is used. When none has that many, the most specific level
with any events is used (still a prediction, flagged low-confidence in ``fallback_note``); only when not even the
task type has events is the answer level -1.

**Confidence**: ``high`` with ≥ 100 events at level 0, ``medium`` with 30–99 at level 0, ``low`` for anything else
with data (fewer than 30 exact events, or any fallback), ``none`` for level -1.

**Caching and freshness**: a :class:`Predictor` keeps each query's resolution (the counts that chose its fallback
level) and each group's summary. An entry is used while no event was added since it was computed (the storage's
``version``), or while it is younger than ``max_age_seconds`` — the freshness bound, a server setting
(:data:`PREDICTION_MAX_AGE_SECONDS` by default in :func:`~.app.create_app`; 0 means exact: any insert invalidates).
With a bound, a stream of inserts no longer makes every prediction recompute its group (tens of milliseconds of
sorting for a 25k-event group), so predictions cannot starve ingestion. A stale group is recomputed by one thread
while the others asking for it wait for that result (single flight). ``cache_hit`` says whether the answer came from
the cache, and ``last_updated`` is when its summary was computed (the API reference's meaning).

Cost: counting a level reads index entries only; a summary reads the group from the covering index and sorts it
once per metric inside SQLite — O(m log m) for a group of m events, whatever the table's size, and nothing but
the ranked values reaches Python (``benchmarks/bench_server.py`` measures it at 100k events).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone

import attrs

from ..predictions import (
    CorrectionFactors,
    PredictionData,
    PredictionMetadata,
    PredictionQuery,
    PredictionResponse,
    QualityPrediction,
    TokenDistribution,
)
from .storage import DIMENSIONS, GroupSummary, Storage, StorageReader

__all__ = [
    "FALLBACK_LEVELS",
    "HIGH_CONFIDENCE_SAMPLES",
    "MEDIUM_CONFIDENCE_SAMPLES",
    "MIN_SAMPLES",
    "PERCENTILES",
    "PREDICTION_MAX_AGE_SECONDS",
    "Predictor",
    "nearest_rank",
]

#: The server's default freshness bound (seconds): a cached summary younger than this is used even if events were
#: added since. Predictions are statistics over thousands of events: a minute-old answer is as good.
PREDICTION_MAX_AGE_SECONDS = 30.0
#: A level with fewer events than this is "too few samples": the next level is tried.
MIN_SAMPLES = 10
#: Exact-match events for ``confidence="high"``.
HIGH_CONFIDENCE_SAMPLES = 100
#: Exact-match events for ``confidence="medium"``.
MEDIUM_CONFIDENCE_SAMPLES = 30

#: The token distribution's fields and their percentile.
PERCENTILES: tuple[tuple[str, int], ...] = (
    ("p10", 10),
    ("p25", 25),
    ("median", 50),
    ("p75", 75),
    ("p90", 90),
)

#: Dimensions matched at each fallback level; each is a prefix of the storage index's column order.
FALLBACK_LEVELS: tuple[tuple[str, ...], ...] = (
    ("task_type", "model", "provider", "complexity"),
    ("task_type", "model", "provider"),
    ("task_type", "provider"),
    ("task_type",),
)

_TOKEN_METRICS = ("actual_input_tokens", "actual_output_tokens")
_MEDIAN_METRICS = ("actual_cost_usd_micros", "task_duration_ms")


def nearest_rank(percent: int, count: int) -> int:
    """The 1-based rank of the ``percent``-th percentile among ``count`` sorted values: ``ceil(p/100 · n)``, ≥ 1."""
    if count < 1:
        raise ValueError("no values")
    if not 0 <= percent <= 100:
        raise ValueError(f"percent={percent} is outside 0..100")
    return max(1, -(-percent * count // 100))  # integer ceiling: no float rounding at large n


def _ranks(count: int) -> dict[str, list[int]]:
    token_ranks = [nearest_rank(percent, count) for _, percent in PERCENTILES]
    median = [nearest_rank(50, count)]
    return {
        **dict.fromkeys(_TOKEN_METRICS, token_ranks),
        **dict.fromkeys(_MEDIAN_METRICS, median),
    }


def _dimensions(query: PredictionQuery, names: Sequence[str]) -> dict[str, str]:
    values = {
        "task_type": query.task_type.value,
        "model": query.model,
        "provider": query.provider.value,
        "complexity": query.complexity.value,
    }
    return {name: values[name] for name in names}


def _confidence(level: int, count: int) -> str:
    if level == 0 and count >= HIGH_CONFIDENCE_SAMPLES:
        return "high"
    if level == 0 and count >= MEDIUM_CONFIDENCE_SAMPLES:
        return "medium"
    return "low"


def _note(counts: Sequence[int], level: int) -> str | None:
    exact = counts[0]
    used = counts[level]
    dropped = [name for name in DIMENSIONS if name not in FALLBACK_LEVELS[level]]
    if level == 0:
        if used >= MIN_SAMPLES:
            return None
        return f"only {used} events match exactly (fewer than {MIN_SAMPLES}), and no broader match has more data"
    kept = ", ".join(FALLBACK_LEVELS[level])
    note = (
        f"{exact} events match exactly (fewer than {MIN_SAMPLES}); using {used} events matching {kept}"
        f" ({', '.join(dropped)} dropped)"
    )
    if used < MIN_SAMPLES:
        note += f"; no level has {MIN_SAMPLES} events"
    return note


def _ratio(actual: int, estimated: int) -> float:
    return actual / estimated if estimated > 0 else 1.0


def _data(summary: GroupSummary) -> PredictionData:
    n = summary.sample_size
    stats = summary.order_statistics
    ranks = _ranks(n)

    def distribution(metric: str) -> TokenDistribution:
        values = {name: stats[metric][nearest_rank(p, n)] for name, p in PERCENTILES}
        return TokenDistribution(**values)

    def median(metric: str) -> dict[str, int]:
        return {"median": stats[metric][ranks[metric][0]]}

    return PredictionData(
        input_tokens=distribution("actual_input_tokens"),
        output_tokens=distribution("actual_output_tokens"),
        cost_usd_micros=median("actual_cost_usd_micros"),
        duration_ms=median("task_duration_ms"),
        correction_factors=CorrectionFactors(
            input=_ratio(summary.actual_input_sum, summary.estimated_input_sum),
            output=_ratio(summary.actual_output_sum, summary.estimated_output_sum),
        ),
        quality=QualityPrediction(gate_pass_rate=summary.gate_passed / n, success_rate=summary.succeeded / n),
    )


@attrs.frozen
class _Cached:
    version: int
    summary: GroupSummary
    computed_at: datetime
    #: monotonic seconds when computed, for the freshness bound
    born: float


@attrs.frozen
class _Resolution:
    """Which fallback level a query uses, from its levels' counts."""

    version: int
    counts: tuple[int, ...]
    chosen: int
    born: float


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class Predictor:
    """Answers prediction queries from a :class:`~.storage.Storage`, caching resolutions and group summaries.

    Thread-safe; :meth:`predict_batch` blocks on storage I/O, so the HTTP layer runs it on a worker thread.

    :param clock: the current time, aware (``last_updated``); injectable for tests.
    :param cache_size: entries kept per cache (a full cache is emptied: cheap, and rare in practice).
    :param max_age_seconds: the freshness bound (see the module); 0, the default here, is exact.
    :param monotonic: seconds for the freshness bound; injectable for tests.
    """

    def __init__(
        self,
        storage: Storage,
        *,
        clock: Callable[[], datetime] = _utc_now,
        cache_size: int = 4096,
        max_age_seconds: float = 0.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not max_age_seconds >= 0:
            raise ValueError(f"max_age_seconds={max_age_seconds!r} must be at least 0")
        self._storage = storage
        self._clock = clock
        self._cache_size = cache_size
        self._max_age = max_age_seconds
        self._monotonic = monotonic
        self._cache: dict[tuple[tuple[str, str], ...], _Cached] = {}
        self._resolutions: dict[tuple[str, str, str, str], _Resolution] = {}
        self._computing: dict[tuple[tuple[str, str], ...], threading.Lock] = {}
        self._lock = threading.Lock()

    @property
    def max_age_seconds(self) -> float:
        return self._max_age

    def predict_batch(self, queries: Sequence[PredictionQuery]) -> list[PredictionResponse]:
        """Predictions for ``queries``, in order, all from one consistent snapshot; a repeated query is computed once."""
        answers: dict[PredictionQuery, PredictionResponse] = {}
        with self._storage.reader() as reader:
            version = reader.version()
            for query in queries:
                if query not in answers:
                    answers[query] = self._predict(reader, version, query)
        return [answers[query] for query in queries]

    def predict_cached(self, queries: Sequence[PredictionQuery]) -> list[PredictionResponse] | None:
        """The predictions when every one is in the cache and younger than the freshness bound, else ``None``.

        Touches no storage (no version to compare: age alone decides), so the event loop may call it: the common
        warm request then costs no worker-thread round trip. Always ``None`` when the bound is 0.
        """
        if self._max_age <= 0:
            return None
        now = self._monotonic()
        answers: dict[PredictionQuery, PredictionResponse] = {}
        with self._lock:
            for query in queries:
                if query in answers:
                    continue
                key = (query.task_type.value, query.model, query.provider.value, query.complexity.value)
                resolution = self._resolutions.get(key)
                if resolution is None or now - resolution.born >= self._max_age:
                    return None
                if resolution.chosen == -1:
                    answers[query] = _no_data(query)
                    continue
                names = FALLBACK_LEVELS[resolution.chosen]
                cached = self._cache.get(tuple(sorted(_dimensions(query, names).items())))
                if cached is None or now - cached.born >= self._max_age:
                    return None
                answers[query] = _response(query, resolution.counts, resolution.chosen, cached, cache_hit=True)
        return [answers[query] for query in queries]

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()
            self._resolutions.clear()

    def _fresh(self, version: int, entry_version: int, born: float) -> bool:
        return entry_version == version or self._monotonic() - born < self._max_age

    def _resolve(self, reader: StorageReader, version: int, query: PredictionQuery) -> tuple[tuple[int, ...], int]:
        """The counts of the levels tried and the level chosen (-1: no data), from the cache when fresh."""
        key = (query.task_type.value, query.model, query.provider.value, query.complexity.value)
        with self._lock:
            cached = self._resolutions.get(key)
        if cached is not None and self._fresh(version, cached.version, cached.born):
            return cached.counts, cached.chosen
        counts: list[int] = []
        chosen = -1
        for level, names in enumerate(FALLBACK_LEVELS):
            counts.append(reader.count(_dimensions(query, names)))
            if counts[-1] >= MIN_SAMPLES:
                chosen = level
                break
        else:
            # No level is large enough: the most specific one with any data (counts only grow as levels widen).
            chosen = next((level for level, count in enumerate(counts) if count > 0), -1)
        resolution = _Resolution(version, tuple(counts), chosen, self._monotonic())
        with self._lock:
            if len(self._resolutions) >= self._cache_size:
                self._resolutions.clear()
            self._resolutions[key] = resolution
        return resolution.counts, chosen

    def _summary(
        self, reader: StorageReader, version: int, dimensions: dict[str, str], count: int
    ) -> tuple[GroupSummary, datetime, bool]:
        key = tuple(sorted(dimensions.items()))
        with self._lock:
            cached = self._cache.get(key)
            computing = self._computing.setdefault(key, threading.Lock())
        if cached is not None and self._fresh(version, cached.version, cached.born):
            return cached.summary, cached.computed_at, True
        with computing:  # single flight: one thread recomputes a group, the others take its result
            with self._lock:
                cached = self._cache.get(key)
            if cached is not None and self._fresh(version, cached.version, cached.born):
                return cached.summary, cached.computed_at, True
            # The group's size in this snapshot: the count that chose the level may come from an older one.
            summary = reader.summarize(dimensions, _ranks(reader.count(dimensions) if self._max_age else count))
            computed_at = self._clock()
            with self._lock:
                if len(self._cache) >= self._cache_size:
                    self._cache.clear()
                    self._computing = {key: computing}
                self._cache[key] = _Cached(version, summary, computed_at, self._monotonic())
        return summary, computed_at, False

    def _predict(self, reader: StorageReader, version: int, query: PredictionQuery) -> PredictionResponse:
        counts, chosen = self._resolve(reader, version, query)
        if chosen == -1:
            return _no_data(query)
        names = FALLBACK_LEVELS[chosen]
        summary, computed_at, cache_hit = self._summary(reader, version, _dimensions(query, names), counts[chosen])
        return _response(query, counts, chosen, _Cached(version, summary, computed_at, 0.0), cache_hit=cache_hit)


def _no_data(query: PredictionQuery) -> PredictionResponse:
    return PredictionResponse(
        prediction=None,
        metadata=PredictionMetadata(
            sample_size=0,
            fallback_level=-1,
            confidence="none",
            last_updated=None,
            dimensions_matched=None,
            fallback_note=f"no events for task_type {query.task_type.value!r}",
        ),
    )


def _response(
    query: PredictionQuery, counts: Sequence[int], chosen: int, cached: _Cached, *, cache_hit: bool
) -> PredictionResponse:
    names = FALLBACK_LEVELS[chosen]
    summary = cached.summary
    matched = _dimensions(query, DIMENSIONS)
    return PredictionResponse(
        prediction=_data(summary),
        metadata=PredictionMetadata(
            sample_size=summary.sample_size,
            fallback_level=chosen,
            confidence=_confidence(chosen, summary.sample_size),
            last_updated=cached.computed_at,
            dimensions_matched={name: (matched[name] if name in names else None) for name in DIMENSIONS},
            fallback_note=_note(list(counts), chosen),
            cache_hit=cache_hit,
        ),
    )
