"""``TelemetryClient``: the documented API over one async core, for asyncio, trio and plain threads.

* ``async with client`` / ``start_async()`` run the core (:class:`._engine.Engine`) as a task of its own on the
  caller's loop; ``stop_async()`` flushes and ends it within ``shutdown_timeout_seconds``.
* ``with client`` / ``start()`` run the same core on a daemon thread the client owns, reached from any thread.
* ``track()`` is the same everywhere: synchronous, lock-free, never raises, never blocks.

Where the core runs, how calls reach it and the flush at exit are :class:`._runner.CoreRunner`'s business.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable
from types import TracebackType
from uuid import UUID

import anyio
import anyio.from_thread
import httpx

from . import _exit, _fork
from ._accounting import Accounting
from ._hooks import run_before_send
from ._http import http_client
from ._log import OnceLog, OverflowLog, enable_debug_output
from ._predictions import PredictionFetcher, checked_queries
from ._queue import EventQueue
from ._routing import WouldBlockTheLoopError, flush_limit
from ._runner import Backend, CoreRunner
from ._spool import Spool
from .builder import EventBuilder
from .cache import PredictionCache
from .config import TelemetryConfig, has_usable_server_url, problems_to_report, with_usable_values
from .events import TaskCompletionEvent
from .predictions import PredictionQuery, PredictionResponse
from .stats import ClientStats, DropReason

__all__ = ["TelemetryClient"]

logger = logging.getLogger("mosaicstack_telemetry")


#: The instance id of the events a dry-run client's builder makes when ``instance_id`` is not set.
DRY_RUN_INSTANCE_ID = UUID(int=0)


class TelemetryClient:
    """Queues task-completion events and sends them in the background; reads predictions back.

    :param config: the configuration. Problems :meth:`TelemetryConfig.validate` finds are logged once as warnings
        and the client still runs; only a ``server_url`` it cannot send to makes it drop what it is given (counted,
        reason ``invalid_config``) — unless it is a dry run, which needs no server.
    :param sync_backend: the event loop of the thread :meth:`start` runs (``"trio"`` needs the ``trio`` extra).
    :param transport: an httpx transport for the core's requests (tests use ``httpx.MockTransport``).
    :param clock: monotonic clock for what runs off the loop (the overflow-log rate limit).
    """

    def __init__(
        self,
        config: TelemetryConfig,
        *,
        sync_backend: Backend = "asyncio",
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not isinstance(config, TelemetryConfig):
            raise TypeError(f"config must be a TelemetryConfig, not {type(config).__name__}")
        if sync_backend not in ("asyncio", "trio"):
            raise ValueError(f"sync_backend={sync_backend!r} is not one of 'asyncio', 'trio'")
        self._config = config
        self._sync_backend = sync_backend
        self._transport = transport
        self._clock = clock
        if config.debug:
            enable_debug_output()
        self._log_once = OnceLog()
        self._server_usable = has_usable_server_url(config)
        self._drop_reason = self._refusal_reason()
        self._settings = with_usable_values(config)
        self._before_send = self._settings.before_send
        # A class no event has sends every event down the slow path: refused ones, and those before_send sees.
        accepts_fast = self._drop_reason is None and self._before_send is None
        self._accepted: type = TaskCompletionEvent if accepts_fast else _Refused
        # A batch is "full" at batch_size events, or when the queue itself is full (max_queue_size < batch_size).
        self._full_batch = min(self._settings.batch_size, self._settings.max_queue_size)
        self._fresh_state()
        _fork.watch(self)

    def _fresh_state(self) -> None:
        """Queue, counters, cache, locks and the (absent) core: set at construction, and anew in a forked child."""
        self._pid = os.getpid()
        self._queue = EventQueue(max_size=self._settings.max_queue_size)
        self._append, self._waiting = self._queue.producer_calls()
        self._max_size = self._queue.max_size
        self._accounting = Accounting(self._queue)
        self._spool = self._new_spool()
        self._accounting.spool = self._spool
        self._cache = PredictionCache(self._settings.prediction_cache_ttl_seconds, clock=self._clock)
        self._predictions = PredictionFetcher(self._settings, self._cache, self._accounting)
        queue = self._queue
        self._overflow_log = OverflowLog(lambda: queue.evicted, queue.max_size, self._clock)
        self._wake_at = self._max_size
        self._core = CoreRunner(
            settings=self._settings,
            sync_backend=self._sync_backend,
            queue=self._queue,
            accounting=self._accounting,
            predictions=self._predictions,
            full_batch=self._full_batch,
            transport=self._transport,
            spool=self._spool,
            on_wake_pending=self._wake_pending,
        )

    def _new_spool(self) -> Spool | None:
        """The spool (opened when the core starts), or ``None`` without ``spool_path`` or while refusing events."""
        path = self._settings.spool_path  # None when off, or when spool_path was not a path (validate() said so)
        if path is None or self._drop_reason is not None:
            return None
        destination = f"{self._settings.server_url} {self._settings.instance_id}"
        return Spool(path, self._settings.spool_max_bytes, destination)

    def _after_fork_in_child(self) -> None:
        """Forget everything the parent owns — its loop, thread, portal, sockets, spool file and queued events (the
        parent sends those) — and keep working: a client that ran on its own thread starts a new one on first use."""
        parents = self._core
        _exit.forget(parents)  # its thread and loop are the parent's: the child's exit must not touch them
        if self._spool is not None:
            self._spool.abandon_after_fork()
        self._fresh_state()
        if parents.thread is not None:
            self._core.start_on_first_use()

    def _refusal_reason(self) -> str | None:
        """Why ``track()`` must drop everything (and warn once about lesser problems), or ``None``."""
        if not self._config.enabled:
            return DropReason.DISABLED
        for problem in problems_to_report(self._config):
            logger.warning("mosaicstack-telemetry config: %s", problem)
        if not self._server_usable and not self._config.dry_run:
            logger.warning("mosaicstack-telemetry: no usable server_url: events will be dropped")
            return DropReason.INVALID_CONFIG
        return None

    # -- tracking -----------------------------------------------------------------------------------------------------

    def track(self, event: TaskCompletionEvent) -> None:
        """Queue an event for submission. Synchronous; never blocks; never raises; safe from any thread.

        If telemetry is disabled or unusable, or ``event`` is not a ``TaskCompletionEvent``, the event is dropped
        (counted in :attr:`stats` by reason, logged once). If the queue is full, the oldest event is evicted.
        """
        # The hot path: one class test, then EventQueue.put's append made directly (no Python-level call), and
        # the queue length that decides whether to evict (the queue is full) and to wake the core (once per batch).
        try:
            if event.__class__ is self._accepted:
                self._append(event)
                waiting = self._waiting()
                if waiting == 1 or waiting >= self._wake_at:
                    self._wake_or_evict(event, waiting)
            else:
                self._track_slowly(event)
        except Exception:  # track() must never raise into the caller
            self._drop(DropReason.INTERNAL_ERROR)
            logger.exception("mosaicstack-telemetry: track() failed; event dropped")

    def _wake_pending(self, pending: bool) -> None:
        """The waker's state changed: ``track()`` takes its wake path from a full batch while no wake is pending,
        and only from a full queue (to evict) while one is. A full queue is a full batch too."""
        self._wake_at = self._max_size if pending else self._full_batch

    def _wake_or_evict(self, event: TaskCompletionEvent, waiting: int) -> None:
        """``track()`` has just queued ``event`` and left ``waiting`` events: wake the core (once per batch), and
        evict the oldest event if the queue went past its bound."""
        if waiting > self._max_size:
            self._queue.evict_oldest()
        waker = self._core.waker
        if not waker.pending:
            if self._pid != os.getpid():  # forked without the at-fork hook (rare): start afresh
                self._after_fork_in_child()
                self.track(event)
                return
            waker.wake()
        if waiting >= self._max_size:
            self._overflow_log.maybe_log()

    def _track_slowly(self, event: object) -> None:
        """The rare cases: refused (disabled, unusable config), not an event, a subclass of one, or a ``before_send``
        hook to run first."""
        if self._drop_reason is not None:
            self._drop(self._drop_reason)
        elif not isinstance(event, TaskCompletionEvent):
            self._drop(DropReason.INVALID_EVENT, f"got {type(event).__name__}")
        else:
            chosen = event if self._before_send is None else run_before_send(self._before_send, event, self._log_once)
            if chosen is None:
                self._drop(DropReason.FILTERED)
                return
            self._append(chosen)  # then as the fast path does
            waiting = self._waiting()
            if waiting == 1 or waiting >= self._wake_at:
                self._wake_or_evict(chosen, waiting)

    def _drop(self, reason: str, detail: str = "") -> None:
        self._accounting.drop_from_track(reason)
        # Disabled and filtered are choices (the original dropped "silently"): say so once, quietly.
        level = logging.INFO if reason in (DropReason.DISABLED, DropReason.FILTERED) else logging.WARNING
        suffix = f": {detail}" if detail else ""
        if not self._log_once(
            reason, level, "dropping events (%s)%s; further drops are counted in stats", reason, suffix
        ):
            logger.debug("mosaicstack-telemetry: dropped an event (%s)%s", reason, suffix)

    def event_builder(self) -> EventBuilder:
        """An :class:`EventBuilder` preset with this client's ``instance_id`` — in a dry run with no ``instance_id``
        set, the nil UUID (``00000000-0000-0000-0000-000000000000``)."""
        instance_id = self._config.instance_id
        if not instance_id and self._config.dry_run:
            return EventBuilder(instance_id=DRY_RUN_INSTANCE_ID)
        return EventBuilder(instance_id=instance_id)

    # -- state --------------------------------------------------------------------------------------------------------

    @property
    def config(self) -> TelemetryConfig:
        """The configuration this client was made with, as given (the client runs on a copy in which unusable values
        are replaced by their defaults: :meth:`TelemetryConfig.validate` names them)."""
        return self._config

    @property
    def queue_size(self) -> int:
        """Number of events currently in the in-memory queue."""
        return self._queue.size

    @property
    def is_running(self) -> bool:
        """Whether the background submitter (sync or async) is active."""
        return self._core.is_running

    @property
    def stats(self) -> ClientStats:
        """A snapshot of where every tracked event went: sent, rejected, dropped by reason, queued, in flight."""
        return self._accounting.snapshot()

    # -- predictions --------------------------------------------------------------------------------------------------

    @property
    def prediction_cache(self) -> PredictionCache:
        """The TTL cache :meth:`refresh_predictions` fills and :meth:`get_prediction` reads (any thread)."""
        return self._cache

    def get_prediction(self, query: PredictionQuery) -> PredictionResponse | None:
        """The cached prediction for ``query``, or ``None`` if not fetched or expired. Any thread; never waits.

        Reading a query keeps it fresh: the running client re-fetches every query read within the last TTL shortly
        before it expires (queries nobody reads stop being refreshed).
        """
        return self._cache.get(query)

    async def refresh_predictions(self, queries: Iterable[PredictionQuery]) -> None:
        """Fetch predictions into the cache (``POST /v1/predictions/batch``, chunked by 100).

        No-op for an empty list, or when telemetry is disabled or has no usable ``server_url``. Server or network
        trouble does not raise: it is logged, reported to ``on_error`` and counted in :attr:`stats`; the cache keeps
        what it had. Works whether or not the client is started.

        :raises TypeError: if an item is not a :class:`PredictionQuery`.
        """
        wanted = checked_queries(queries)
        if not wanted or not self._can_fetch():
            return
        if not await self._core.fetch_predictions(wanted):
            await self._fetch_on_short_lived_http(wanted)

    def refresh_predictions_sync(self, queries: Iterable[PredictionQuery]) -> None:
        """:meth:`refresh_predictions` for sync code: blocks until done, then returns ``None`` — read the results
        with :meth:`get_prediction`. Same rules; callable from any thread."""
        wanted = checked_queries(queries)
        if not wanted or not self._can_fetch():
            return
        if self._core.fetch_predictions_sync(wanted):
            return
        # Not running, or called (blocking) on the core's own loop thread: fetch on a loop of our own.
        with anyio.from_thread.start_blocking_portal(self._sync_backend) as temporary:
            temporary.call(self._fetch_on_short_lived_http, wanted)

    def _can_fetch(self) -> bool:
        """Predictions need a server: not when disabled, or without a usable ``server_url`` (a dry run may lack one)."""
        return self._drop_reason is None and self._server_usable

    async def _fetch_on_short_lived_http(self, queries: list[PredictionQuery]) -> None:
        async with http_client(self._settings, self._transport) as http:
            await self._predictions.fetch(http, queries)

    # -- async lifecycle ----------------------------------------------------------------------------------------------

    async def start_async(self) -> None:
        """Start sending in the background on the running loop (asyncio or trio). No-op if disabled or running."""
        if self._drop_reason != DropReason.DISABLED:
            await self._core.start_async()

    async def stop_async(self) -> None:
        """Flush what is queued and stop, within ``shutdown_timeout_seconds``. Safe to call if not started.

        If the calling scope is being cancelled, the flush is shielded and bounded by
        ``min(shutdown_timeout_seconds, 2 s)``; what it could not send is counted dropped (reason ``cancelled``).
        """
        await self._core.stop_async()

    # OpenTelemetry's force_flush(timeout_millis) is the precedent users know: a timeout parameter, in seconds here.
    async def flush_async(self, timeout: float | None = None) -> bool:  # noqa: ASYNC109
        """Send everything queued now, without waiting for the interval; whether it all got settled.

        ``True`` when nothing tracked before the call is still queued or in flight: each event was sent (a dry run
        counts as sent), rejected by the server, or dropped for a counted reason. ``False`` when ``timeout`` seconds
        pass first, when the server fails (a flush makes one attempt per batch; the events wait for the next
        cycle), or when the client is not running with events queued. ``timeout=None`` waits for that outcome.

        :raises TypeError: if ``timeout`` is not a number or ``None``.
        """
        settled = await self._core.flush_async(flush_limit(timeout))
        return settled if isinstance(settled, bool) else self._nothing_waiting()

    def _nothing_waiting(self) -> bool:
        """Whether no tracked event is queued or in flight (what a flush of a client not running answers)."""
        stats = self.stats
        return stats.queued + stats.in_flight == 0

    async def __aenter__(self) -> TelemetryClient:
        await self.start_async()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.stop_async()

    # -- sync facade --------------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start sending in the background on a daemon thread this client owns. No-op if disabled or running."""
        if self._drop_reason != DropReason.DISABLED:
            self._core.start_thread(wait=True)

    def stop(self) -> None:
        """Flush what is queued and stop, within ``shutdown_timeout_seconds``. Safe to call if not started.

        A client started with ``start_async()`` on a loop in another thread is stopped on that loop.
        :raises RuntimeError: when called on the thread of the loop the client runs on (use ``stop_async``).
        """

        self._core.stop()

    def flush(self, timeout: float | None = None) -> bool:
        """:meth:`flush_async` for sync code, from any thread; same outcome and rules.

        Called on the thread of the event loop the client runs on, it cannot wait (the loop would stop): it logs
        an error once and returns ``False`` — use ``await flush_async()`` there.

        :raises TypeError: if ``timeout`` is not a number or ``None``.
        """
        limit = flush_limit(timeout)
        try:
            settled = self._core.flush(limit)
        except WouldBlockTheLoopError:
            message = "flush() was called on the event loop the client runs on and would block it; use flush_async()"
            self._log_once("flush on the loop", logging.ERROR, message)
            return False
        except (anyio.RunFinishedError, RuntimeError):  # the core's loop ended meanwhile
            return self._nothing_waiting()
        return settled if isinstance(settled, bool) else self._nothing_waiting()

    def __enter__(self) -> TelemetryClient:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


class _Refused:
    """No event is of this class: while refusing, ``track()``'s one-test hot path always falls to the slow path."""
