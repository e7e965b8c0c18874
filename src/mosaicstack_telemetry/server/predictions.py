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

**Caching**: a :class:`Predictor` keeps each group's summary until events are added (the storage's ``version``
grows), so the refreshes clients repeat cost a lookup; ``cache_hit`` says whether the answer came from that cache,
and ``last_updated`` is when its summary was computed (the API reference's meaning).

Cost: counting a level reads index entries only; a summary reads the group from the covering index and sorts it
once per metric inside SQLite — O(m log m) for a group of m events, whatever the table's size, and nothing but
the ranked values reaches Python (``benchmarks/bench_server.py`` measures it at 100k events).
"""

from __future__ import annotations

import threading
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
    "Predictor",
    "nearest_rank",
]

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


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class Predictor:
    """Answers prediction queries from a :class:`~.storage.Storage`, caching group summaries between writes.

    Thread-safe; :meth:`predict_batch` blocks on storage I/O, so the HTTP layer runs it on a worker thread.

    :param clock: the current time, aware (``last_updated``); injectable for tests.
    :param cache_size: group summaries kept (the cache is emptied when full: cheap, and rare in practice).
    """

    def __init__(
        self,
        storage: Storage,
        *,
        clock: Callable[[], datetime] = _utc_now,
        cache_size: int = 4096,
    ) -> None:
        self._storage = storage
        self._clock = clock
        self._cache_size = cache_size
        self._cache: dict[tuple[tuple[str, str], ...], _Cached] = {}
        self._lock = threading.Lock()

    def predict_batch(self, queries: Sequence[PredictionQuery]) -> list[PredictionResponse]:
        """Predictions for ``queries``, in order, all from one consistent snapshot; a repeated query is computed once."""
        answers: dict[PredictionQuery, PredictionResponse] = {}
        with self._storage.reader() as reader:
            version = reader.version()
            for query in queries:
                if query not in answers:
                    answers[query] = self._predict(reader, version, query)
        return [answers[query] for query in queries]

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()

    def _summary(
        self, reader: StorageReader, version: int, dimensions: dict[str, str], count: int
    ) -> tuple[GroupSummary, datetime, bool]:
        key = tuple(sorted(dimensions.items()))
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and cached.version == version:
            return cached.summary, cached.computed_at, True
        summary = reader.summarize(dimensions, _ranks(count))
        computed_at = self._clock()
        with self._lock:
            if len(self._cache) >= self._cache_size:
                self._cache.clear()
            self._cache[key] = _Cached(version, summary, computed_at)
        return summary, computed_at, False

    def _predict(self, reader: StorageReader, version: int, query: PredictionQuery) -> PredictionResponse:
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
        if chosen == -1:
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
        names = FALLBACK_LEVELS[chosen]
        summary, computed_at, cache_hit = self._summary(reader, version, _dimensions(query, names), counts[chosen])
        matched = _dimensions(query, DIMENSIONS)
        return PredictionResponse(
            prediction=_data(summary),
            metadata=PredictionMetadata(
                sample_size=summary.sample_size,
                fallback_level=chosen,
                confidence=_confidence(chosen, summary.sample_size),
                last_updated=computed_at,
                dimensions_matched={name: (matched[name] if name in names else None) for name in DIMENSIONS},
                fallback_note=_note(counts, chosen),
                cache_hit=cache_hit,
            ),
        )
