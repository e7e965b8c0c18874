"""The client's core for one run (start → stop): a batcher, submitters and background tasks in an anyio task group.

Data path, top to bottom::

    track() ── EventQueue.put ── (wake once per batch) ──► batcher ── batches ──► memory object stream
                   │                                          ▲ take from the backlog (._backlog)    │
                   └─ with a spool: writer ── Spool file ─────┘                                      │
    submitter tasks ◄────────────────────────────────────────────────────────────────────────────────┘
      └─ Submitter.submit: POST {server_url}/v1/events/batch, shared backoff ── settle, or put back

The core runs as a task of its own (:mod:`._backend`), never inside the caller's task, and never raises. Everything
here runs on that one loop thread, so its state needs no locks; only the :class:`~._backend.Waker` is touched by
other threads.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import anyio
import httpx

from ._backend import LoopHandle, Waker
from ._backlog import WRITE_CHUNK, Backlog, MemoryBacklog, SpoolBacklog
from ._batch import Batch
from ._http import http_client
from ._predictions import PredictionFetcher, PredictionRefresher
from ._spool import Spool, SpoolError
from ._submitter import SharedBackoff, Submitter
from ._transport import ExitSafeTransport, PinningBackend

if TYPE_CHECKING:
    from anyio.abc import ObjectReceiveStream, ObjectSendStream

    from ._accounting import Accounting
    from ._queue import EventQueue
    from .config import TelemetryConfig
    from .predictions import PredictionQuery

__all__ = ["CANCELLED_FLUSH_SECONDS", "Engine"]

logger = logging.getLogger("mosaicstack_telemetry")

#: Batches that may wait between the batcher and the submitters; a full stream holds the batcher back, so a slow
#: server makes events wait in the (bounded) queue rather than pile up in memory.
MAX_BATCHES_WAITING = 1

#: Requests in flight at once. Two let one batch be serialized and parsed while the other is on the wire.
SUBMITTERS = 2

#: Longest a client start waits to look the server's address up.
RESOLVE_SECONDS = 2.0

#: The shielded flush after a cancelled scope — or when the event loop ends around a client nobody stopped — gets
#: at most this long (and never more than ``shutdown_timeout_seconds``).
CANCELLED_FLUSH_SECONDS = 2.0


class Engine:
    """One run of the core on the loop that created it. A stopped client makes a new one to start again."""

    def __init__(
        self,
        *,
        config: TelemetryConfig,
        queue: EventQueue,
        accounting: Accounting,
        predictions: PredictionFetcher,
        loop: LoopHandle,
        full_batch: int,
        transport: httpx.AsyncBaseTransport | None = None,
        spool: Spool | None = None,
        network: PinningBackend | None = None,
        on_wake_pending: Callable[[bool], None] | None = None,
    ) -> None:
        self.config = config
        self.loop = loop
        self.predictions = predictions
        #: the addresses each connect reached; the client keeps one across runs, so the exit flush is DNS-free
        self.network = network or PinningBackend()
        self.waker = Waker(loop, self._on_wake, on_wake_pending)
        #: set when the event loop ended around the core (nobody stopped it): how long its last flush took
        self.ended_with_loop_after: float | None = None
        self._queue = queue  # what track() fills: the backlog itself, or a spool's intake
        self._acc = accounting
        self._full_batch = full_batch  # the client's definition of a full batch, which track() wakes on
        self._transport = transport
        self._spool = spool
        self._backlog: Backlog = MemoryBacklog(queue, accounting.settled)
        self._spooling: SpoolBacklog | None = None  # set once the spool is open
        self._backoff = SharedBackoff()
        self._signals = _Signals()
        self._stopping = False
        self._flushing = False  # a flush is settling what was queued: one attempt per batch
        self._flush_requests: list[_FlushRequest] = []
        self._failed_cycles = 0
        self._unsettled: set[Batch] = set()  # taken from the backlog; not yet settled or put back
        self._http: httpx.AsyncClient | None = None
        self._refresher: PredictionRefresher | None = None
        self._background_scope = anyio.CancelScope()
        self._cancel_scope: anyio.CancelScope | None = None
        self._done = anyio.Event()

    # -- lifecycle ----------------------------------------------------------------------------------------------------

    async def run(self, started: anyio.Event) -> None:
        """The core task. Never raises: it runs as a system task (trio) or a detached task (asyncio).

        Cancelled from outside — the event loop ending around a client nobody stopped (``asyncio.run`` cancels
        leftover tasks, ``trio.run`` cancels system tasks) — it first sends what is queued, shielded and bounded
        by ``min(shutdown_timeout_seconds, CANCELLED_FLUSH_SECONDS)``; what remains stays queued for the exit flush.
        """
        try:
            with anyio.CancelScope() as scope:
                self._cancel_scope = scope
                transport = self._transport or ExitSafeTransport(
                    self.network, https=self.config.server_url.startswith("https:")
                )
                async with http_client(self.config, transport) as http:
                    self._http = http
                    self._refresher = PredictionRefresher(self.predictions, http)
                    try:
                        if self._transport is None and not self.config.dry_run:
                            # The address is known before start returns: an exit flush a moment later needs no DNS.
                            limit = min(self.config.request_timeout_seconds, RESOLVE_SECONDS)
                            await self.network.resolve_url(self.config.server_url, limit)
                        if self._spool is not None:
                            await self._open_spool(self._spool)
                        await self._run_tasks(started)
                    except anyio.get_cancelled_exc_class():
                        if not scope.cancel_called:  # not our own stop: the loop is ending around us
                            await self._flush_as_the_loop_ends()
                        raise
        except Exception:
            logger.exception("mosaicstack-telemetry: the client's core failed; events stay queued")
        finally:
            self._requeue_unsettled()
            self._done.set()
            started.set()

    async def _run_tasks(self, started: anyio.Event | None) -> None:
        """Batcher, submitters, and (unless stopping) the writer and the background tasks, until stop ends them."""
        assert self._http is not None  # noqa: S101 - opened by run()
        submitter = Submitter(
            config=self.config, http=self._http, backlog=self._backlog, accounting=self._acc, backoff=self._backoff
        )
        send, receive = anyio.create_memory_object_stream[Batch](MAX_BATCHES_WAITING)
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(self._batcher, send)
            async with receive:
                for _ in range(SUBMITTERS):
                    tasks.start_soon(self._submitting, submitter, receive.clone())
            if not self._stopping:
                tasks.start_soon(self._background)
                if self._spooling is not None:
                    tasks.start_soon(self._writer, self._spooling)
            if started is not None:
                started.set()

    async def _flush_as_the_loop_ends(self) -> None:
        """Send what is queued as a stop would, shielded, within ``min(shutdown_timeout, CANCELLED_FLUSH_SECONDS)``."""
        began = anyio.current_time()
        self._requeue_unsettled()
        self._begin_stopping()
        with anyio.CancelScope(shield=True):
            with anyio.move_on_after(min(self.config.shutdown_timeout_seconds, CANCELLED_FLUSH_SECONDS)):
                await self._run_tasks(None)
            self._requeue_unsettled()
        self.ended_with_loop_after = anyio.current_time() - began

    async def _open_spool(self, spool: Spool) -> None:
        """Open this process's spool file before start returns; without it, run on memory alone (and say so)."""
        try:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(spool.open)
        except SpoolError as error:
            logger.error("mosaicstack-telemetry: %s; events are kept in memory only", error)
            return
        self._spooling = SpoolBacklog(spool, self._queue)
        self._backlog = self._spooling

    async def _background(self) -> None:
        """Tasks that run until stop, which cancels them: the prediction refresher."""
        assert self._refresher is not None  # noqa: S101 - made in run()
        with self._background_scope:
            await self._refresher.run(list(self.config.prefetch_predictions))

    @property
    def running(self) -> bool:
        """Whether the core is still alive (it ends at stop, or if it ever fails)."""
        return not self._done.is_set()

    async def stop(self, deadline: float) -> bool:
        """Send what is queued and end, within ``deadline`` seconds; returns whether it ended in time.

        Past the deadline the core is cancelled; what it had in flight goes back to the queue.
        """
        self._begin_stopping()
        with anyio.move_on_after(deadline):
            await self._done.wait()
            return True
        if self._cancel_scope is not None:
            self._cancel_scope.cancel()
        await self._done.wait()
        return False

    def _begin_stopping(self) -> None:
        self._stopping = True
        self._background_scope.cancel()
        self._backoff.hurry()
        self._signals.wake_all()

    async def flush(self) -> bool:
        """Send everything queued now, one attempt per batch; whether all of it was settled (sent, rejected or
        dropped for a counted reason) — ``False`` when a send failed and its events are queued again."""
        if self._done.is_set():
            return False
        request = _FlushRequest()
        self._flush_requests.append(request)
        self._backoff.hurry()
        self._signals.batcher.set()
        await request.done.wait()
        return request.settled

    async def fetch_predictions(self, queries: list[PredictionQuery]) -> None:
        """Fetch on this core's HTTP client (from a caller on the core's loop), then reschedule the refresher."""
        assert self._http is not None  # noqa: S101 - set before started
        assert self._refresher is not None  # noqa: S101
        await self.predictions.fetch(self._http, queries)
        self._refresher.reschedule()

    def _on_wake(self) -> None:
        """``track()`` has queued events: for the spool writer to store, or (without a spool) for the batcher."""
        if self._spooling is not None:
            self._signals.writer.set()
        else:
            self._signals.batcher.set()

    def _requeue_unsettled(self) -> None:
        """Batches cut off mid-send (stop deadline, crash) go back to the queue: nothing is lost uncounted."""
        for batch in self._unsettled:
            self._acc.in_flight -= len(batch)
            self._backlog.put_back(batch)
        self._unsettled.clear()
        self._signals.idle.set()

    # -- batcher ------------------------------------------------------------------------------------------------------

    async def _batcher(self, send: ObjectSendStream[Batch]) -> None:
        """Decide when to send: a full batch, the interval, a flush or the stop; then hand batches to the submitters."""
        backlog, interval, signals = self._backlog, self.config.submit_interval_seconds, self._signals
        interval_due: float | None = None
        async with send:
            while True:
                if self._spooling is None:
                    self.waker.rearm()
                now = anyio.current_time()
                if self._stopping:
                    await self._store_intake()
                    await self._dispatch(send, everything=True)
                    return
                if self._flush_requests:
                    await self._serve_flushes(send)
                    continue
                if backlog.is_empty:
                    interval_due = None
                elif interval_due is None:
                    interval_due = now + interval
                if now < self._backoff.resume_at:
                    wake_at = self._backoff.resume_at  # backing off: neither the interval nor a full batch sends
                elif (interval_due is not None and now >= interval_due) or signals.replay:
                    signals.replay = False
                    await self._dispatch(send, everything=True)
                    interval_due = None
                    continue
                elif backlog.waiting >= self._full_batch:
                    await self._dispatch(send, everything=False)
                    continue
                else:
                    wake_at = math.inf if interval_due is None else interval_due
                with anyio.move_on_after(wake_at - now):
                    await signals.batcher.wait()
                signals.batcher = anyio.Event()

    async def _serve_flushes(self, send: ObjectSendStream[Batch]) -> None:
        """Send everything queued, wait until it is settled or put back, and tell each waiting flush which."""
        requests, self._flush_requests = self._flush_requests, []
        failed_before = self._failed_cycles
        self._flushing = True
        await self._store_intake()
        await self._dispatch(send, everything=True)
        await self._signals.idle.wait()
        self._flushing = False
        for request in requests:
            request.settled = self._failed_cycles == failed_before
            request.done.set()
        if not self._stopping:
            self._backoff.calm()

    async def _dispatch(self, send: ObjectSendStream[Batch], *, everything: bool) -> None:
        """Drain batches to the submitters: all that is queued, or only full ones; stop at the first failed cycle."""
        failed_before = self._failed_cycles
        batch_size = self.config.batch_size
        backlog = self._backlog
        while self._failed_cycles == failed_before:
            if everything:
                if backlog.is_empty:
                    return
            elif backlog.waiting < self._full_batch:
                return
            batch = await backlog.take(batch_size)  # shielded: what it took is unsettled before any checkpoint
            if not batch:
                return
            self._unsettled.add(batch)
            self._acc.in_flight += len(batch)
            self._signals.idle = anyio.Event()
            await send.send(batch)

    # -- spool writer -------------------------------------------------------------------------------------------------

    async def _writer(self, spooling: SpoolBacklog) -> None:
        """Store what ``track()`` queues in the spool, one commit after another, so the window in which an
        accepted event exists only in memory is one commit long. Adopted spools of dead processes come first."""
        if await spooling.adopt_orphans():
            self._signals.replay = True
            self._signals.batcher.set()
        while True:
            self.waker.rearm()
            if not self._queue.is_empty:
                await self._store_intake()
                continue
            if self._stopping:
                return
            await self._signals.writer.wait()
            self._signals.writer = anyio.Event()

    async def _store_intake(self) -> None:
        """Move what the intake queue holds now into the spool, a chunk per commit (a no-op without a spool); the
        batcher looks again after each. Bounded by the queue's size on entry: a busy producer cannot keep it here."""
        if self._spooling is None:
            return
        for _ in range(1 + self._queue.size // WRITE_CHUNK):
            # Writer and batcher may both call this: the spool's one worker runs each move (drain and commit) whole,
            # one after the other, so events reach the file in the order they were tracked.
            if not await self._spooling.write_intake():
                return
            self._signals.batcher.set()

    # -- submitter tasks ----------------------------------------------------------------------------------------------

    async def _submitting(self, submitter: Submitter, receive: ObjectReceiveStream[Batch]) -> None:
        async with receive:
            async for batch in receive:
                if not await submitter.submit(batch, retrying=self._retries_allowed):
                    self._failed_cycles += 1
                    self._signals.batcher.set()  # the batcher may be idle with an empty queue: schedule the next cycle
                self._unsettled.discard(batch)
                self._acc.in_flight -= len(batch)
                if not self._unsettled:
                    self._signals.idle.set()

    def _retries_allowed(self) -> bool:
        """A flush makes one attempt per batch, then reports; a stop and the usual cycles retry."""
        return self._stopping or not self._flushing


class _Signals:
    """The events the core's tasks wake each other with (each replaced once it has been waited for)."""

    __slots__ = ("batcher", "idle", "replay", "writer")

    def __init__(self) -> None:
        self.batcher = anyio.Event()  # events to look at, a flush, the stop
        self.writer = anyio.Event()  # the intake has events for the spool
        self.idle = anyio.Event()  # nothing taken is unsettled
        self.idle.set()
        self.replay = False  # adopted events wait: send them without waiting for the interval

    def wake_all(self) -> None:
        self.batcher.set()
        self.writer.set()


class _FlushRequest:
    """A caller waiting in :meth:`Engine.flush`, and what the flush came to."""

    __slots__ = ("done", "settled")

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.settled = False
