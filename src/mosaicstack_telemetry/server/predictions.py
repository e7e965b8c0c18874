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

====== ============================================ ==================
level  dimensions matched                           dropped
====== ============================================ ==================
0      task_type, model, provider, complexity       —
1      task_type, model, provider                   complexity
2      task_type, provider                          model
3      task_type                                    provider
-1     nothing matched: ``prediction`` is ``null``  everything
====== ============================================ ==================

The first level with at least :data:`MIN_SAMPLES` events is used. When none has that many, the most specific level
with any events is used (still a prediction, flagged low-confidence in ``fallback_note``); only when not even the
task type has events is the answer level -1.

**Confidence**: ``high`` with ≥ 100 events at level 0, ``medium`` with 30–99 at level 0, ``low`` for anything else
with data (fewer than 30 exact events, or any fallback), ``none`` for level -1.

``last_updated`` is when the prediction was computed (the API reference's meaning); the server computes on demand
and keeps no cache, so ``cache_hit`` is always ``false``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

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
    "nearest_rank",
    "predict",
    "predict_batch",
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
        **{metric: token_ranks for metric in _TOKEN_METRICS},
        **{metric: median for metric in _MEDIAN_METRICS},
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
        quality=QualityPrediction(
            gate_pass_rate=summary.gate_passed / n, success_rate=summary.succeeded / n
        ),
    )


def predict(reader: StorageReader, query: PredictionQuery, now: datetime) -> PredictionResponse:
    """The prediction for one query, from the events ``reader`` sees; ``now`` becomes ``last_updated``."""
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
    summary = reader.summarize(_dimensions(query, names), _ranks(counts[chosen]))
    if summary.sample_size != counts[chosen]:  # pragma: no cover - one snapshot: cannot differ
        raise RuntimeError("the storage snapshot changed between count and summary")
    matched = _dimensions(query, DIMENSIONS)
    return PredictionResponse(
        prediction=_data(summary),
        metadata=PredictionMetadata(
            sample_size=summary.sample_size,
            fallback_level=chosen,
            confidence=_confidence(chosen, summary.sample_size),
            last_updated=now,
            dimensions_matched={
                name: (matched[name] if name in names else None) for name in DIMENSIONS
            },
            fallback_note=_note(counts, chosen),
        ),
    )


def predict_batch(
    storage: Storage, queries: Sequence[PredictionQuery], now: datetime
) -> list[PredictionResponse]:
    """Predictions for ``queries``, in order, from one consistent snapshot (blocking: run it on a worker thread).

    A query repeated in the batch is computed once.
    """
    answers: dict[PredictionQuery, PredictionResponse] = {}
    with storage.reader() as reader:
        for query in queries:
            if query not in answers:
                answers[query] = predict(reader, query, now)
    return [answers[query] for query in queries]
