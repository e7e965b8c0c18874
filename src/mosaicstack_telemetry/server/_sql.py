"""What the SQL backends (:mod:`.sqlite`, :mod:`.postgres`) share, so that each keeps only what its database needs.

* :data:`SELECT_KEYS` and :func:`key_record`: the ``api_keys`` columns read, and the record built from a row whose
  values the backend has already converted to Python types;
* :func:`matched_dimensions`: the dimensions a ``WHERE`` clause matches, checked against
  :data:`~.storage.DIMENSIONS` (the names go into SQL, the values are bound);
* :func:`check_metrics` and :func:`group_summary`: a :class:`~.storage.GroupSummary` from the backend's aggregate row
  and its own order-statistics query.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .storage import DIMENSIONS, METRICS, Dimensions, GroupSummary, KeyRecord

__all__ = ["SELECT_KEYS", "check_metrics", "group_summary", "key_record", "matched_dimensions"]

_KEY_COLUMNS = ("key_sha256", "instance_id", "label", "created_at", "last_used_at", "revoked_at")
#: Every stored key's columns, in :func:`key_record`'s order (a backend appends its ``WHERE`` or ``ORDER BY``).
SELECT_KEYS = f"SELECT {', '.join(_KEY_COLUMNS)} FROM api_keys"  # noqa: S608 - constant names

#: Fills ``into[metric][rank]`` with the metrics' values at the wanted 1-based ranks (a backend's own query).
OrderStatistics = Callable[[Mapping[str, Sequence[int]], dict[str, dict[int, int]]], None]


def key_record(row: Sequence[Any]) -> KeyRecord:
    """The key of a :data:`SELECT_KEYS` row, its values already a ``UUID`` and ``datetime``\\ s."""
    return KeyRecord(**dict(zip(_KEY_COLUMNS, row, strict=True)))


def matched_dimensions(dimensions: Dimensions) -> list[str]:
    """The names ``dimensions`` matches, in :data:`~.storage.DIMENSIONS` order.

    :raises ValueError: a name is not a dimension.
    """
    unknown = set(dimensions) - set(DIMENSIONS)
    if unknown:
        raise ValueError(f"unknown dimensions: {sorted(unknown)}")
    return [name for name in DIMENSIONS if name in dimensions]


def check_metrics(ranks: Mapping[str, Sequence[int]]) -> None:
    """:raises ValueError: ``ranks`` names a column that is not a metric."""
    unknown = set(ranks) - set(METRICS)
    if unknown:
        raise ValueError(f"unknown metric: {sorted(unknown)}")


def group_summary(
    ranks: Mapping[str, Sequence[int]], aggregates: Sequence[Any], order_statistics: OrderStatistics
) -> GroupSummary:
    """The summary of a group from its aggregate row (count, gate passed, succeeded, then the four token sums) and
    ``order_statistics``, asked only for the metrics with ranks, each rank once and sorted, in a non-empty group."""
    into: dict[str, dict[int, int]] = {metric: {} for metric in ranks}
    wanted = {metric: sorted(set(r)) for metric, r in ranks.items() if r}
    if wanted and aggregates[0]:
        order_statistics(wanted, into)
    return GroupSummary(
        sample_size=int(aggregates[0]),
        order_statistics=into,
        gate_passed=int(aggregates[1]),
        succeeded=int(aggregates[2]),
        actual_input_sum=int(aggregates[3]),
        estimated_input_sum=int(aggregates[4]),
        actual_output_sum=int(aggregates[5]),
        estimated_output_sum=int(aggregates[6]),
    )
