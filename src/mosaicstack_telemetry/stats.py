"""``ClientStats``, the snapshot ``client.stats`` returns, and ``DropReason``, the reasons events are dropped.

At quiet points (after ``flush``/``stop``, or in one snapshot) every tracked event is in exactly one place::

    tracked + recovered == sent + rejected + dropped_total + queued + in_flight

(``recovered`` counts the events adopted from the spools of dead processes: tracked there, settled here.)
The live counters behind a snapshot are internal (``._accounting``).
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

__all__ = ["ClientStats", "DropReason"]


class DropReason:
    """Why events were dropped (the keys of :attr:`ClientStats.dropped`)."""

    #: the queue was full: the oldest events were evicted (or could not be re-queued after a failed send)
    OVERFLOW = "overflow"
    #: telemetry is disabled (``enabled=False`` or ``MOSAIC_TELEMETRY_ENABLED``)
    DISABLED = "disabled"
    #: ``server_url`` is missing or not http(s): there is nowhere to send to
    INVALID_CONFIG = "invalid_config"
    #: ``track()`` was given something that is not a ``TaskCompletionEvent``
    INVALID_EVENT = "invalid_event"
    #: the server refused the batch in a way retrying cannot fix (400, 401, 403, 404, 413, 422, …)
    NON_RETRYABLE = "non_retryable"
    #: the surrounding scope was cancelled and the shielded best-effort flush could not send them
    CANCELLED = "cancelled"
    #: still queued when the interpreter exited (the client was never stopped, or the server was down)
    EXIT = "exit"
    #: an unexpected internal error in ``track()`` (a bug: please report it)
    INTERNAL_ERROR = "internal_error"
    #: the spool reached ``spool_max_bytes``: its oldest unsent events were deleted
    SPOOL_FULL = "spool_full"
    #: the spool could not store them (disk full, I/O error): they were lost between memory and disk
    SPOOL_ERROR = "spool_error"
    #: ``before_send`` returned ``None`` for them
    FILTERED = "filtered"


@attrs.frozen(kw_only=True)
class ClientStats:
    """A snapshot of the client's counters."""

    #: events passed to ``track()``
    tracked: int
    #: delivered: accepted by the server, reported as duplicates (already delivered), or counted by ``dry_run``
    sent: int
    #: rejected by the server, event by event (never re-sent)
    rejected: int
    #: dropped, by reason (:class:`DropReason`)
    dropped: Mapping[str, int]
    #: attempts that were retries of a failed request
    retried: int
    #: send cycles that failed (the batch was re-queued) or were refused for good
    failed_batches: int
    #: waiting: in the in-memory queue, or in the spool
    queued: int
    #: taken from the queue, not yet settled
    in_flight: int
    #: prediction responses fetched into the cache
    predictions_fetched: int = 0
    #: prediction requests that failed (each retry counted; the cache kept what it had)
    prediction_failures: int = 0
    #: events adopted from the spools of processes that ended before sending them (tracked there, settled here)
    recovered: int = 0
    #: of ``sent``, those the server already held (answered ``duplicate``): a replay after a cut reply, or an event
    #: sent twice. A subset of ``sent``, so not a term of the accounting identity.
    duplicates: int = 0

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())

    @property
    def balanced(self) -> bool:
        """Whether every tracked event is accounted for (true at quiet points)."""
        settled = self.sent + self.rejected + self.dropped_total + self.queued + self.in_flight
        return self.tracked + self.recovered == settled
