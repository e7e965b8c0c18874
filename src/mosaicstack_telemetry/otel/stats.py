"""The bridge's counters: what came in, what was mapped or ignored, and what left as task events.

One :class:`BridgeStats` per bridge, written only on its event loop. :meth:`BridgeStats.as_dict` is what
``GET /stats`` serves and ``mosaic-telemetry bridge`` prints at exit.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

__all__ = ["BridgeStats"]

_MAX_NAMES = 100  # distinct ignored event names kept by name; the rest are summed under "other"


class BridgeStats:
    """Counters (every record received ends in exactly one of mapped, ignored, duplicates, rejected, late,
    unattributed)."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()  # by signal: logs, metrics, traces
        self.refused: Counter[int] = Counter()  # requests answered with an error, by HTTP status
        self.records_received = 0
        self.records_mapped = 0
        self.records_ignored = 0
        self.ignored_events: Counter[str] = Counter()
        self.duplicates = 0
        self.rejected = 0
        self.late = 0  # records of a prompt already completed
        self.unattributed = 0  # records without a prompt id and no open prompt of their session to join
        self.prompts_completed: Counter[str] = Counter()  # by reason: next_prompt, idle, evicted, shutdown
        self.prompts_without_model = 0  # completed prompts that made no model call: no event
        self.prompts_invalid = 0  # completed prompts whose event would not validate (logged): no event
        self.events_tracked = 0

    def ignore(self, name: str) -> None:
        self.records_ignored += 1
        if name in self.ignored_events or len(self.ignored_events) < _MAX_NAMES:
            self.ignored_events[name] += 1
        else:
            self.ignored_events["other"] += 1

    def as_dict(self, events_sent: int | None = None) -> dict[str, Any]:
        """A JSON-ready snapshot; ``events_sent`` is the forwarding client's count, when known."""
        return {
            "requests": dict(self.requests),
            "refused": {str(status): count for status, count in self.refused.items()},
            "records_received": self.records_received,
            "records_mapped": self.records_mapped,
            "records_ignored": self.records_ignored,
            "ignored_events": dict(self.ignored_events),
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "late": self.late,
            "unattributed": self.unattributed,
            "prompts_completed": dict(self.prompts_completed),
            "prompts_without_model": self.prompts_without_model,
            "prompts_invalid": self.prompts_invalid,
            "events_tracked": self.events_tracked,
            "events_sent": events_sent,
        }
