"""Fault injection: make the reference server misbehave on purpose, so clients can be tested against it.

A :class:`FaultPlan` belongs to one server instance and is configured by the test (or demo) that runs it — never by
clients: nothing in a request can switch a fault on. It is thread-safe: a test on the main thread changes it while
the server, on its own thread and loop, consults it for every API request.

What a request meets, in this order (``/healthz`` is exempt, so liveness checks stay honest):

1. ``delay`` — the server waits this long before handling the request (the request is still handled if the client
   gave up meanwhile: a slow server does not know).
2. The one-shot queue, filled by :meth:`FaultPlan.fail_next`, :meth:`FaultPlan.hang_next` and
   :meth:`FaultPlan.drop_next`: the next request takes the first entry.
3. The standing faults: ``hang`` (every request hangs), ``drop_connection`` (every reply is cut).
4. ``rate_limit``: over ``requests`` per ``per_seconds`` (a fixed window), the answer is 429 with ``Retry-After``.
5. ``reject_every_k``: the request is handled, but every k-th valid event (counted over the plan's lifetime) is
   rejected with a reason, the rest accepted — partial acceptance on demand.

``drip`` sends each reply's body one byte at a time, this many seconds apart: httpx's per-phase timeouts never trip
on such a server, only an overall deadline does.

A *hang* waits until the client disconnects (it gave up) or the plan is :meth:`released <FaultPlan.release>`, which
the runner does when it stops, so a server stops fast even with hanging requests; a released hang answers 503.
A *dropped* reply is handled normally (events are stored), then the connection is closed half-way through the body.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import attrs

__all__ = ["Decision", "FaultPlan", "FaultStatistics", "RateLimit", "format_retry_after"]

RetryAfter = float | int | datetime | timedelta | str


def format_retry_after(value: RetryAfter) -> str:
    """The ``Retry-After`` header for ``value``.

    A number or :class:`~datetime.timedelta` becomes whole seconds (rounded up, as RFC 9110 wants an integer); a
    :class:`~datetime.datetime` an HTTP date; a ``str`` is sent as given, so tests can send garbage on purpose.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
        return format_datetime(moment.astimezone(timezone.utc), usegmt=True)
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    return str(math.ceil(seconds))


@attrs.frozen
class RateLimit:
    """At most ``requests`` API requests per ``per_seconds`` (a fixed window); the rest get 429."""

    requests: int = attrs.field(validator=attrs.validators.ge(0))
    per_seconds: float = attrs.field(default=1.0, validator=attrs.validators.gt(0))


@attrs.frozen
class Decision:
    """What the server does with one request (computed by :meth:`FaultPlan.decide`)."""

    delay: float = 0.0
    drip: float = 0.0
    #: answer with this status instead of handling the request
    status: int | None = None
    retry_after: str | None = None
    hang: bool = False
    drop: bool = False
    #: handle the request, then send a reply body of the same length that is not JSON
    garble: bool = False


@attrs.frozen
class FaultStatistics:
    """Counters since the plan was created (or :meth:`FaultPlan.reset`)."""

    requests: int
    injected: int
    events_rejected: int
    pending: int


@attrs.frozen
class _OneShot:
    status: int | None = None
    retry_after: str | None = None
    hang: bool = False
    drop: bool = False
    garble: bool = False


class FaultPlan:
    """The faults one server instance injects; change it at any time from any thread.

    The standing settings are plain properties (``plan.delay = 0.5``, ``plan.reject_every_k = 3``,
    ``plan.rate_limit = RateLimit(5, 1.0)``); the one-shot faults queue up (``plan.fail_next(2, 503)``).

    :param clock: seconds, monotonic (the rate limit's window); injectable for tests.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._released = threading.Event()
        self._reset_locked()

    def _reset_locked(self) -> None:
        self._queue: deque[_OneShot] = deque()
        self._delay = 0.0
        self._drip = 0.0
        self._hang = False
        self._drop = False
        self._reject_every_k = 0
        self._rate_limit: RateLimit | None = None
        self._window_start = 0.0
        self._window_count = 0
        self._requests = 0
        self._injected = 0
        self._events_seen = 0
        self._events_rejected = 0

    def reset(self) -> None:
        """Back to a well-behaved server: no fault, counters at zero (a release stays in force)."""
        with self._lock:
            self._reset_locked()

    # -- one-shot faults ----------------------------------------------------------------------------------------------

    def fail_next(self, count: int = 1, status: int = 503, *, retry_after: RetryAfter | None = None) -> None:
        """Answer the next ``count`` requests with ``status`` (and ``Retry-After``, seconds or an HTTP date)."""
        if not 100 <= status <= 599:
            raise ValueError(f"status={status} is not an HTTP status")
        header = None if retry_after is None else format_retry_after(retry_after)
        self._enqueue(count, _OneShot(status=status, retry_after=header))

    def hang_next(self, count: int = 1) -> None:
        """Let the next ``count`` requests hang until the client gives up."""
        self._enqueue(count, _OneShot(hang=True))

    def drop_next(self, count: int = 1) -> None:
        """Handle the next ``count`` requests, then close the connection half-way through the reply."""
        self._enqueue(count, _OneShot(drop=True))

    def garble_next(self, count: int = 1) -> None:
        """Handle the next ``count`` requests (events are stored), then answer with a body that is not JSON."""
        self._enqueue(count, _OneShot(garble=True))

    def _enqueue(self, count: int, fault: _OneShot) -> None:
        if count < 0:
            raise ValueError(f"count={count} is negative")
        with self._lock:
            self._queue.extend([fault] * count)

    # -- standing faults ----------------------------------------------------------------------------------------------

    @property
    def delay(self) -> float:
        """Seconds to wait before handling each request."""
        return self._delay

    @delay.setter
    def delay(self, seconds: float) -> None:
        self._delay = _non_negative("delay", seconds)

    @property
    def drip(self) -> float:
        """Seconds between the bytes of each reply body (0: send at once)."""
        return self._drip

    @drip.setter
    def drip(self, seconds: float) -> None:
        self._drip = _non_negative("drip", seconds)

    @property
    def hang(self) -> bool:
        """Every request hangs until its client gives up."""
        return self._hang

    @hang.setter
    def hang(self, value: bool) -> None:
        self._hang = bool(value)

    @property
    def drop_connection(self) -> bool:
        """Every reply is cut half-way (after the request was handled)."""
        return self._drop

    @drop_connection.setter
    def drop_connection(self, value: bool) -> None:
        self._drop = bool(value)

    @property
    def reject_every_k(self) -> int:
        """Reject every k-th valid event (0: never)."""
        return self._reject_every_k

    @reject_every_k.setter
    def reject_every_k(self, k: int) -> None:
        if k < 0:
            raise ValueError(f"reject_every_k={k} is negative")
        with self._lock:
            self._reject_every_k = int(k)
            self._events_seen = 0

    @property
    def rate_limit(self) -> RateLimit | None:
        """The rate limit, or ``None`` for none."""
        return self._rate_limit

    @rate_limit.setter
    def rate_limit(self, limit: RateLimit | None) -> None:
        with self._lock:
            self._rate_limit = limit
            self._window_start = self._clock()
            self._window_count = 0

    # -- shutdown -----------------------------------------------------------------------------------------------------

    def release(self) -> None:
        """Wake every hang, delay and drip now and from now on (the server is stopping)."""
        self._released.set()

    @property
    def released(self) -> bool:
        return self._released.is_set()

    # -- used by the server -------------------------------------------------------------------------------------------

    def decide(self) -> Decision:
        """Consume what applies to the next API request and say what to do with it."""
        with self._lock:
            self._requests += 1
            delay, drip = self._delay, self._drip
            if self._queue:
                fault = self._queue.popleft()
                self._injected += 1
                return Decision(
                    delay=delay,
                    drip=drip,
                    status=fault.status,
                    retry_after=fault.retry_after,
                    hang=fault.hang,
                    drop=fault.drop,
                    garble=fault.garble,
                )
            if self._hang or self._drop:
                self._injected += 1
                return Decision(delay=delay, drip=drip, hang=self._hang, drop=self._drop)
            limit = self._rate_limit
            if limit is not None:
                now = self._clock()
                if now - self._window_start >= limit.per_seconds:
                    self._window_start, self._window_count = now, 0
                if self._window_count >= limit.requests:
                    self._injected += 1
                    wait = self._window_start + limit.per_seconds - now
                    return Decision(delay=delay, drip=drip, status=429, retry_after=format_retry_after(wait))
                self._window_count += 1
            return Decision(delay=delay, drip=drip)

    def reject_event(self) -> bool:
        """Count one valid event; ``True`` when it is the k-th and must be rejected."""
        with self._lock:
            if not self._reject_every_k:
                return False
            self._events_seen += 1
            if self._events_seen % self._reject_every_k:
                return False
            self._events_rejected += 1
            return True

    def statistics(self) -> FaultStatistics:
        with self._lock:
            return FaultStatistics(
                requests=self._requests,
                injected=self._injected,
                events_rejected=self._events_rejected,
                pending=len(self._queue),
            )


def _non_negative(name: str, seconds: float) -> float:
    value = float(seconds)
    if not value >= 0:  # also catches NaN
        raise ValueError(f"{name}={seconds!r} must be a number of seconds >= 0")
    return value
