"""The client's core for one run (start → stop): a batcher and a submitter in an anyio task group.

Data path, top to bottom::

    track() ── EventQueue.put ── (wake once per batch) ──► batcher ── batches ──► memory object stream
                   │                                          ▲ take from the backlog (._backlog)    │
                   └─ with a spool: writer ── Spool file ─────┘                                      │
    submitter ◄──────────────────────────────────────────────────────────────────────────────────────┘
      └─ POST {server_url}/v1/events/batch, retried with cancellable backoff ── settle: counters (and spool rows)

The core runs as a task of its own (:mod:`._backend`), never inside the caller's task. Everything here runs on that
one loop thread, so the counters and flags below need no locks; only :class:`Waker` is touched by other threads, and,
with a spool, the settled batches' counts are made on the spool's worker thread under its lock (see ``settle``).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio
import httpx

from ._backend import LoopHandle
from ._backlog import WRITE_CHUNK, Backlog, MemoryBacklog, SpoolBacklog
from ._backoff import backoff_delay
from ._http import AttemptError, http_client, post, report_failure
from ._predictions import PredictionFetcher
from ._protocol import EVENTS_PATH
from ._queue import EventQueue
from ._spool import Spool, SpoolError
from ._transport import ExitSafeTransport, PinningBackend
from .batch import BatchEventResponse
from .errors import TelemetryError, ValidationError
from .stats import Accounting, DropReason

if TYPE_CHECKING:
    from anyio.abc import ObjectReceiveStream, ObjectSendStream

    from .config import TelemetryConfig
    from .predictions import PredictionQuery

__all__ = ["IDLE_WAKER", "Engine", "Waker"]

logger = logging.getLogger("mosaicstack_telemetry")

Batch = list[Any]  # events (memory) or their stored JSON (spool): see _backlog

#: Batches that may wait between the batcher and the submitter; a full stream holds the batcher back, so a slow
#: server makes events wait in the (bounded) queue rather than pile up in memory.
MAX_BATCHES_WAITING = 1

#: Requests in flight at once. Two let one batch be serialized and parsed while the other is on the wire; more
#: buy nothing under the GIL and multiply the load a struggling server sees.
SUBMITTERS = 2


#: Longest a client start waits to look the server's address up (see _resolve_server).
RESOLVE_SECONDS = 2.0

#: Wanted predictions are re-fetched this long (at most a tenth of the TTL) before they expire.
REFRESH_MARGIN_SECONDS = 60.0

#: Cancellation leaves little time: the shielded flush after a cancelled scope — or when the event loop ends around
#: a client nobody stopped — gets at most this long (and never more than ``shutdown_timeout_seconds``).
CANCELLED_FLUSH_SECONDS = 2.0


class Waker:
    """Wakes the batcher from any thread, at most once until the batcher has looked at the queue again.

    ``track()`` calls :meth:`wake` when a full batch is waiting or the queue goes from empty to non-empty. The
    ``pending`` flag makes it once per batch rather than once per event (``len == batch_size`` alone misses wakes
    when threads race; ``>=`` alone wakes on every event); the batcher clears it each time it looks.
    """

    __slots__ = ("_loop", "_on_wake", "pending")

    def __init__(self, loop: LoopHandle, on_wake: Callable[[], None]) -> None:
        self._loop = loop
        self._on_wake = on_wake
        self.pending = False

    def wake(self) -> None:
        if self.pending:
            return
        self.pending = True
        # If the loop is gone, the events stay queued for the next start (or the exit flush).
        with contextlib.suppress(anyio.RunFinishedError):
            self._loop.call_soon(self._on_wake)


class _IdleWaker(Waker):
    """The waker of a stopped client: always "pending", so ``track()`` never tries to wake anything."""

    def __init__(self) -> None:
        self.pending = True

    def wake(self) -> None:
        pass


IDLE_WAKER: Waker = _IdleWaker()


class _Attempt:
    """What one POST of a batch came to."""

    __slots__ = ("duplicates", "error", "rejected", "retry_after", "retryable", "sent")

    def __init__(
        self,
        *,
        sent: int = 0,
        duplicates: int = 0,
        rejected: int = 0,
        error: TelemetryError | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        self.sent = sent
        self.duplicates = duplicates
        self.rejected = rejected
        self.error = error
        self.retryable = retryable
        self.retry_after = retry_after


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
    ) -> None:
        self.config = config
        self.predictions = predictions
        self._refresh_wakeup = anyio.Event()
        self._background_scope = anyio.CancelScope()
        self.loop = loop
        self._queue = queue  # what track() fills: the backlog itself, or a spool's intake
        self._spool = spool
        self._backlog: Backlog = MemoryBacklog(queue)
        self._spooling: SpoolBacklog | None = None  # set once the spool is open
        self._intake_wakeup = anyio.Event()  # wakes the spool writer
        self._replay = False  # adopted events wait: send them without waiting for the interval
        self._acc = accounting
        self._transport = transport
        # Used when no transport is injected: the client keeps one across runs, so the exit flush is DNS-free.
        self.network = network or PinningBackend()
        self._url = f"{config.server_url}{EVENTS_PATH}"
        self._full_batch = (
            full_batch  # waiting events that make a full batch: the client's definition, which track() wakes on
        )
        self.waker = Waker(loop, self._on_wake)
        self._wakeup = anyio.Event()
        self._hurry = anyio.Event()  # set by stop and flush: cuts backoff pauses short
        self._paused = anyio.Event()  # set with _hurry, and by any success: ends every backoff pause
        self._stopping = False
        self._flushing = False  # a flush is settling what was queued: one attempt per batch, no retries
        self._flush_requests: list[_FlushRequest] = []
        self._unsettled: list[Batch] = []  # drained, not yet settled (sent, rejected, dropped or put back)
        self._idle = anyio.Event()
        self._idle.set()
        self._failed_cycles = 0
        self._retry_number = 0  # persists across cycles: a long outage climbs to the cap; reset on success
        self._resume_at = -math.inf  # no attempt before this (the shared backoff, or Retry-After)
        self._server_resume_at = -math.inf  # no attempt before this, even when hurried (Retry-After)
        self._probe = anyio.Lock()  # while the server is failing, one attempt at a time
        self._cancel_scope: anyio.CancelScope | None = None
        self._http: httpx.AsyncClient | None = None
        self._done = anyio.Event()
        #: set when the event loop ended around the core (nobody stopped it): how long its last flush took
        self.ended_with_loop_after: float | None = None

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
                async with self._open_http() as http:
                    self._http = http
                    try:
                        if self._transport is None and not self.config.dry_run:
                            await self._resolve_server()
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
        send, receive = anyio.create_memory_object_stream[Batch](MAX_BATCHES_WAITING)
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(self._batcher, send)
            async with receive:
                for _ in range(SUBMITTERS):
                    tasks.start_soon(self._submitter, receive.clone())
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
        self._stopping = True
        self._hurry.set()
        self._paused.set()
        with anyio.CancelScope(shield=True):
            with anyio.move_on_after(min(self.config.shutdown_timeout_seconds, CANCELLED_FLUSH_SECONDS)):
                await self._run_tasks(None)
            self._requeue_unsettled()
        self.ended_with_loop_after = anyio.current_time() - began

    def _open_http(self) -> httpx.AsyncClient:
        transport = self._transport or ExitSafeTransport(self.network, https=self._url.startswith("https:"))
        return http_client(self.config, transport)

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
        with self._background_scope:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(self._refresher)

    # -- predictions --------------------------------------------------------------------------------------------------

    async def fetch_predictions(self, queries: list[PredictionQuery]) -> None:
        """Fetch on this core's HTTP client (from a caller on the core's loop), then reschedule the refresher."""
        assert self._http is not None  # noqa: S101 - set before started is set
        await self.predictions.fetch(self._http, queries)
        self._refresh_wakeup.set()

    async def _refresher(self) -> None:
        """Keep wanted predictions fresh: re-fetch them together shortly before they expire.

        Stale-while-revalidate: the old entry stays readable until the new one arrives; after a failed refresh it
        stays until it expires, and the next try waits a backoff.
        """
        cache = self.predictions.cache
        margin = min(REFRESH_MARGIN_SECONDS, cache.ttl_seconds / 10)
        prefetch = list(self.config.prefetch_predictions)
        if prefetch:
            assert self._http is not None  # noqa: S101
            await self.predictions.fetch(self._http, prefetch)
        failures = 0
        while True:
            with anyio.move_on_after(cache.seconds_until_refresh(margin)):
                await self._refresh_wakeup.wait()
            self._refresh_wakeup = anyio.Event()
            due = cache.due_for_refresh(margin)
            if not due:
                continue
            assert self._http is not None  # noqa: S101
            if await self.predictions.fetch(self._http, due):
                failures = 0
            else:
                failures += 1
                await anyio.sleep(backoff_delay(failures))

    async def _resolve_server(self) -> None:
        """Remember the server's address before start returns, so that a flush at interpreter exit — perhaps a
        moment later, in a short script — needs no DNS lookup. Bounded; on failure names are resolved as usual."""
        url = httpx.URL(self.config.server_url)
        with anyio.move_on_after(min(self.config.request_timeout_seconds, RESOLVE_SECONDS)):
            try:
                await self.network.resolve(url.host, url.port or (443 if url.scheme == "https" else 80))
            except Exception as error:
                logger.debug("mosaicstack-telemetry: could not resolve %s at start: %s", url.host, error)

    @property
    def running(self) -> bool:
        """Whether the core is still alive (it ends at stop, or if it ever fails)."""
        return not self._done.is_set()

    async def stop(self, deadline: float) -> bool:
        """Send what is queued and end, within ``deadline`` seconds; returns whether it ended in time.

        Past the deadline the core is cancelled; what it had in flight goes back to the queue.
        """
        self._stopping = True
        self._background_scope.cancel()
        self._hurry.set()
        self._paused.set()
        self._wakeup.set()
        self._intake_wakeup.set()
        with anyio.move_on_after(deadline):
            await self._done.wait()
            return True
        if self._cancel_scope is not None:
            self._cancel_scope.cancel()
        await self._done.wait()
        return False

    async def flush(self) -> bool:
        """Send everything queued now, one attempt per batch; whether all of it was settled (sent, rejected or
        dropped for a counted reason) — ``False`` when a send failed and its events are queued again."""
        if self._done.is_set():
            return False
        request = _FlushRequest()
        self._flush_requests.append(request)
        self._hurry.set()
        self._paused.set()
        self._wakeup.set()
        await request.done.wait()
        return request.settled

    def _on_wake(self) -> None:
        """``track()`` has queued events: for the spool writer to store, or (without a spool) for the batcher."""
        if self._spooling is not None:
            self._intake_wakeup.set()
        else:
            self._wakeup.set()

    def _requeue_unsettled(self) -> None:
        """Batches cut off mid-send (stop deadline, crash) go back to the queue: nothing is lost uncounted."""
        for batch in self._unsettled:
            self._acc.in_flight -= len(batch)
            self._backlog.put_back(batch)
        self._unsettled.clear()
        self._idle.set()

    # -- batcher ------------------------------------------------------------------------------------------------------

    async def _batcher(self, send: ObjectSendStream[Batch]) -> None:
        """Decide when to send: a full batch, the interval, a flush or the stop; then hand batches to the submitter."""
        backlog, interval = self._backlog, self.config.submit_interval_seconds
        interval_due: float | None = None
        async with send:
            while True:
                if self._spooling is None:
                    self.waker.pending = False  # from here on, a new event may wake us again
                now = anyio.current_time()
                if self._stopping:
                    await self._store_intake()
                    await self._dispatch(send, everything=True)
                    return
                if self._flush_requests:
                    requests, self._flush_requests = self._flush_requests, []
                    failed_before = self._failed_cycles
                    self._flushing = True
                    await self._store_intake()
                    await self._dispatch(send, everything=True)
                    await self._idle.wait()
                    self._flushing = False
                    for request in requests:
                        request.settled = self._failed_cycles == failed_before
                        request.done.set()
                    if not self._stopping:
                        self._hurry, self._paused = anyio.Event(), anyio.Event()
                    continue
                if backlog.is_empty:
                    interval_due = None
                elif interval_due is None:
                    interval_due = now + interval
                if now < self._resume_at:
                    wake_at = self._resume_at  # backing off: neither the interval nor a full batch sends
                elif (interval_due is not None and now >= interval_due) or self._replay:
                    self._replay = False
                    await self._dispatch(send, everything=True)
                    interval_due = None
                    continue
                elif backlog.waiting >= self._full_batch:
                    await self._dispatch(send, everything=False)
                    continue
                else:
                    wake_at = math.inf if interval_due is None else interval_due
                with anyio.move_on_after(wake_at - now):
                    await self._wakeup.wait()
                self._wakeup = anyio.Event()

    async def _dispatch(self, send: ObjectSendStream[Batch], *, everything: bool) -> None:
        """Drain batches to the submitter: all that is queued, or only full ones; stop at the first failed cycle."""
        failed_before = self._failed_cycles
        batch_size = self.config.batch_size
        backlog = self._backlog
        while self._failed_cycles == failed_before:
            if everything:
                if backlog.is_empty:
                    return
            elif backlog.waiting < self._full_batch:
                return
            batch = await backlog.take(batch_size)  # shielded: what it took is in _unsettled before any checkpoint
            if not batch:
                return
            self._unsettled.append(batch)
            self._acc.in_flight += len(batch)
            self._idle = anyio.Event()
            await send.send(batch)

    # -- spool writer -------------------------------------------------------------------------------------------------

    async def _writer(self, spooling: SpoolBacklog) -> None:
        """Store what ``track()`` queues in the spool, one commit after another, so the window in which an
        accepted event exists only in memory is one commit long. Adopted spools of dead processes come first."""
        if await spooling.adopt_orphans():
            self._replay = True
            self._wakeup.set()
        while True:
            self.waker.pending = False  # from here on, a new event may wake us again
            if not self._queue.is_empty:
                await self._store_intake()
                continue
            if self._stopping:
                return
            await self._intake_wakeup.wait()
            self._intake_wakeup = anyio.Event()

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
            self._wakeup.set()

    # -- submitter ----------------------------------------------------------------------------------------------------

    async def _submitter(self, receive: ObjectReceiveStream[Batch]) -> None:
        async with receive:
            async for batch in receive:
                await self._submit(batch)
                self._unsettled.remove(batch)
                self._acc.in_flight -= len(batch)
                if not self._unsettled:
                    self._idle.set()

    async def _submit(self, batch: Batch) -> None:
        """One cycle: up to ``1 + max_retries`` attempts with backoff between; then settle, drop or re-queue."""
        attempts = 1 + max(0, self.config.max_retries)
        for attempt in range(attempts):
            if attempt:
                if self._flushing and not self._stopping:
                    break  # a flush makes one attempt per batch, then reports (the batch waits for the next cycle)
                self._acc.retried += 1
            result = await self._attempt_when_allowed(batch)
            if result.error is None:
                await self._backlog.settle(batch, functools.partial(self._count_answered, result))
                self._retry_number = 0
                self._resume_at = self._server_resume_at = -math.inf
                self._end_pauses()  # the server is taking batches: one pausing after a failure may go now
                return
            self._report(result.error)
            if not result.retryable:
                await self._backlog.settle(batch, functools.partial(self._count_refused, len(batch)))
                self._acc.failed_batches += 1
                logger.error(
                    "mosaicstack-telemetry: dropped a batch of %d events: %s (not retried)",
                    len(batch),
                    result.error,
                )
                return
            # One backoff for every submitter: each next attempt, this batch's or another's, waits it out.
            self._retry_number += 1
            now = anyio.current_time()
            delay = max(backoff_delay(self._retry_number), result.retry_after or 0.0)
            self._resume_at = now + delay
            if result.retry_after is not None:
                self._server_resume_at = now + result.retry_after
            logger.debug(
                "mosaicstack-telemetry: attempt %d of %d for a batch of %d failed (%s); next attempt in %.2fs%s",
                attempt + 1,
                attempts,
                len(batch),
                result.error,
                delay,
                " (Retry-After)" if result.retry_after is not None else "",
            )
        self._acc.failed_batches += 1
        self._failed_cycles += 1
        lost = self._backlog.put_back(batch)
        self._wakeup.set()  # the batcher may be idle with an empty queue: it must schedule the next cycle
        logger.warning(
            "mosaicstack-telemetry: a batch of %d events failed %d attempt%s; re-queued%s",
            len(batch),
            attempt + 1,
            "" if attempt == 0 else "s",
            f" ({lost} oldest dropped: queue full)" if lost else "",
        )

    # Where a settled batch went. With a spool these run on the worker thread that deletes its rows, under the lock
    # snapshots take (no loop code writes these counters meanwhile: the submitters are awaiting that thread).

    def _count_answered(self, result: _Attempt) -> None:
        self._acc.sent += result.sent
        self._acc.duplicates += result.duplicates
        self._acc.rejected += result.rejected

    def _count_refused(self, size: int) -> None:
        self._acc.loop_drops[DropReason.NON_RETRYABLE] += size

    def _end_pauses(self) -> None:
        """Wake every submitter pausing before a retry; later pauses wait again (unless stop or flush hurries)."""
        self._paused.set()
        if not self._hurry.is_set():
            self._paused = anyio.Event()

    async def _attempt_when_allowed(self, batch: Batch) -> _Attempt:
        """Attempt once the shared backoff allows; while the server is failing, one submitter probes at a time."""
        await self._wait_for_resume()
        if not self._retry_number:
            return await self._attempt(batch)
        async with self._probe:
            await self._wait_for_resume()  # the probe before ours may have failed and pushed the backoff on
            return await self._attempt(batch)

    async def _wait_for_resume(self) -> None:
        """No attempt before the shared backoff ends, so an outage sees one attempt per backoff step however many
        submitters hold batches. Stop and flush cut our own backoff short, and so does a success (the server is
        back); what the server asked for with Retry-After is waited out in any case: hammering a rate limit would
        only fail faster (stop's deadline still bounds it)."""
        await anyio.sleep(max(0.0, self._server_resume_at - anyio.current_time()))
        wait = self._resume_at - anyio.current_time()
        if wait > 0:
            with anyio.move_on_after(wait):
                await self._paused.wait()

    async def _attempt(self, batch: Batch) -> _Attempt:
        """POST the batch once and count the answer (or say why it failed)."""
        if self.config.dry_run:
            logger.info(
                "[DRY RUN] Would submit batch of %d events to %s",
                len(batch),
                self._url if self.config.server_url else f"(no server_url){EVENTS_PATH}",
            )
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug("[DRY RUN] the batch: %s", self._backlog.request_body(batch).decode())
            return _Attempt(sent=len(batch))
        assert self._http is not None  # noqa: S101 - set by run() before the submitter starts
        try:
            body = self._backlog.request_body(batch)
        except Exception as error:
            return _Attempt(error=TelemetryError(f"could not encode the batch: {error!r}"), retryable=False)
        began = anyio.current_time()
        try:
            response = await post(self._http, self._url, body, deadline=self.config.request_timeout_seconds)
        except AttemptError as failure:
            return _Attempt(error=failure, retryable=failure.retryable, retry_after=failure.retry_after)
        result = self._settle(batch, response)
        logger.debug(
            "mosaicstack-telemetry: sent a batch of %d events: HTTP %d in %.1f ms (%d accepted, %d duplicates, "
            "%d rejected)",
            len(batch),
            response.status_code,
            (anyio.current_time() - began) * 1000,
            result.sent - result.duplicates,
            result.duplicates,
            result.rejected,
        )
        return result

    def _settle(self, batch: Batch, response: httpx.Response) -> _Attempt:
        """Count a 2xx reply: per-event rejections are final; a duplicate was delivered before."""
        try:
            reply = BatchEventResponse.model_validate_json(response.content)
        except ValidationError as error:
            logger.warning(
                "mosaicstack-telemetry: HTTP %d with an unreadable body; counting the batch of %d as sent: %s",
                response.status_code,
                len(batch),
                error,
            )
            return _Attempt(sent=len(batch))
        reasons = [
            result.error or "rejected"
            for result in reply.results
            if result.status != "accepted" and not _is_duplicate(result.error)
        ]
        rejected = min(len(reasons), len(batch))
        duplicates = sum(1 for result in reply.results if result.status != "accepted" and _is_duplicate(result.error))
        if rejected:
            logger.warning(
                "mosaicstack-telemetry: the server rejected %d of %d events: %s",
                rejected,
                len(batch),
                "; ".join(sorted(set(reasons)))[:500],
            )
        return _Attempt(
            sent=len(batch) - rejected, duplicates=min(duplicates, len(batch) - rejected), rejected=rejected
        )

    def _report(self, error: TelemetryError) -> None:
        report_failure(error, self.config.on_error)


class _FlushRequest:
    """A caller waiting in :meth:`Engine.flush`, and what the flush came to."""

    __slots__ = ("done", "settled")

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.settled = False


def _is_duplicate(error: str | None) -> bool:
    return error is not None and "duplicate" in error.lower()
