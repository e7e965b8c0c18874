"""``CoreRunner``: where one client's core runs, and every way to reach it.

The core (:class:`._engine.Engine`) runs either as a task of its own on the caller's loop (``start_async``) or on
a daemon thread the client owns (``start_thread``, :mod:`._thread`). Calls reach it from wherever they come
(:mod:`._routing`). When nobody stopped it, the exit handler (:mod:`._exit`) stops it on its thread, or — its loop
having ended around it — sends what is left on a fresh loop of the same kind, within ``shutdown_timeout_seconds``
all told, and counts the rest ``exit``.
"""

from __future__ import annotations

import functools
import logging
import math
import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

import anyio
import anyio.to_thread
import httpx

from . import _exit
from ._backend import IDLE_WAKER, Waker, current_loop
from ._engine import CANCELLED_FLUSH_SECONDS, Engine
from ._routing import NOT_RUNNING, NotRunning, WouldBlockTheLoopError, flush_within, on_core, on_core_sync
from ._thread import OwnThread
from ._transport import PinningBackend
from .stats import DropReason

if TYPE_CHECKING:
    from ._accounting import Accounting
    from ._predictions import PredictionFetcher
    from ._queue import EventQueue
    from ._spool import Spool
    from .config import TelemetryConfig
    from .predictions import PredictionQuery

__all__ = ["Backend", "CoreRunner"]

logger = logging.getLogger("mosaicstack_telemetry")

Backend = Literal["asyncio", "trio"]


class CoreRunner:
    """Starts, stops, flushes and reaches one client's core; one per client (and anew in a forked child)."""

    def __init__(
        self,
        *,
        settings: TelemetryConfig,
        sync_backend: Backend,
        queue: EventQueue,
        accounting: Accounting,
        predictions: PredictionFetcher,
        full_batch: int,
        transport: httpx.AsyncBaseTransport | None,
        spool: Spool | None,
        on_wake_pending: Callable[[bool], None],
    ) -> None:
        self._settings = settings
        self._sync_backend = sync_backend
        self._queue = queue
        self._accounting = accounting
        self._predictions = predictions
        self._full_batch = full_batch
        self._transport = transport
        self._spool = spool
        self._on_wake_pending = _weakly(on_wake_pending)  # no cycle: a client nobody holds is freed at once
        #: what ``track()`` wakes: the running core's, or nothing while stopped (set through _use)
        self.waker: Waker = IDLE_WAKER
        self._use(IDLE_WAKER)
        #: the sync facade's home for the core, while it has one
        self.thread: OwnThread | None = None
        self._engine: Engine | None = None
        self._network = PinningBackend()  # the address each connect reached, kept across runs for the exit flush
        self._loop_ended_after: float | None = None  # the last core's loop ended around it: its last flush took this
        self._exit_backend: Backend = sync_backend  # the exit flush runs a loop of the kind the core last ran on
        self._lifecycle = threading.Lock()  # start()/stop() from several threads

    def _use(self, waker: Waker) -> None:
        """Make ``waker`` the one ``track()`` wakes, and tell the client whether a wake is pending on it."""
        self.waker = waker
        self._on_wake_pending(waker.pending)

    def start_on_first_use(self) -> None:
        """In a forked child whose parent's client ran on its own thread: the first event starts a thread anew."""
        self._use(_StartOnFirstUse(self))

    def live_engine(self) -> Engine | None:
        """The running core, or ``None``; a core that ended (its loop ended around it, or it failed) is let go."""
        engine = self._engine
        if engine is not None and not engine.running:
            self._engine = None
            self._use(IDLE_WAKER)
            self._loop_ended_after = engine.ended_with_loop_after
            return None
        return engine

    @property
    def is_running(self) -> bool:
        engine: Engine | None = self._engine
        return engine is not None and engine.running

    # -- on the caller's loop -----------------------------------------------------------------------------------------

    async def start_async(self) -> None:
        if self.live_engine() is not None:
            return
        engine = Engine(
            config=self._settings,
            queue=self._queue,
            accounting=self._accounting,
            predictions=self._predictions,
            loop=current_loop(),
            full_batch=self._full_batch,
            transport=self._transport,
            spool=self._spool,
            network=self._network,
            on_wake_pending=self._on_wake_pending,
        )
        self._loop_ended_after = None
        self._exit_backend = engine.loop.library
        started = anyio.Event()
        engine.loop.spawn(functools.partial(engine.run, started))
        await started.wait()
        self._engine = engine
        self._use(engine.waker)
        _exit.hold_until_stopped(self)

    async def stop_async(self) -> None:
        engine = self.live_engine()
        if engine is None:
            return
        if not engine.loop.is_current():  # it lives on our own thread (which stop() ends too), or another loop
            await anyio.to_thread.run_sync(self.stop)
            return
        cancelled = anyio.current_effective_deadline() == -math.inf
        deadline = self._settings.shutdown_timeout_seconds
        if cancelled:
            deadline = min(deadline, CANCELLED_FLUSH_SECONDS)
        with anyio.CancelScope(shield=True):
            await self._stop_engine(engine, deadline)
        if cancelled:
            self._accounting.drop_queued(DropReason.CANCELLED)

    async def _stop_engine(self, engine: Engine, deadline: float) -> None:
        self._use(IDLE_WAKER)
        self._engine = None
        _exit.forget(self)
        in_time = await engine.stop(deadline)
        spool = self._spool
        spooled = 0 if spool is None else spool.waiting
        left = self._queue.size + spooled
        if left:
            logger.warning(
                "mosaicstack-telemetry: stopped%s with %d events unsent; they stay %s",
                "" if in_time else f" after the {deadline}s deadline",
                left,
                "queued" if not spooled else "in the spool (sent at the next start, here or in the next process)",
            )
        elif spool is not None and spool.is_open:
            await anyio.to_thread.run_sync(spool.close)  # empty: no file left behind

    async def flush_async(self, limit: float) -> bool | NotRunning:
        return await on_core(self.live_engine(), self.thread, flush_within, limit)

    async def fetch_predictions(self, queries: list[PredictionQuery]) -> bool:
        """Fetch on the running core's HTTP client; ``False`` when no core runs."""
        return await on_core(self.live_engine(), self.thread, Engine.fetch_predictions, queries) is not NOT_RUNNING

    # -- from sync code -----------------------------------------------------------------------------------------------

    def start_thread(self, *, wait: bool) -> None:
        """Run the core on a daemon thread of its own (without waiting from ``track()`` in a forked child)."""
        with self._lifecycle:
            if self.live_engine() is not None or self.thread is not None:
                return
            thread = OwnThread(self._sync_backend, self.start_async, name="mosaicstack-telemetry")
            self.thread = thread
            try:
                thread.launch(wait=wait)
            except RuntimeError:
                self.thread = None
                raise

    def stop(self) -> None:
        async def stop_there(_: Engine) -> None:
            await self.stop_async()

        with self._lifecycle:
            thread = self.thread
            if thread is None:
                try:
                    on_core_sync(self.live_engine(), None, stop_there)
                except WouldBlockTheLoopError:
                    raise RuntimeError(
                        "stop() would block the event loop the client runs on; use stop_async()"
                    ) from None
                return
            if thread.is_current():
                raise RuntimeError("stop() cannot run on the client's own thread; use stop_async()")
            thread.stop(self.stop_async, self._settings.shutdown_timeout_seconds)
            self.thread = None

    def flush(self, limit: float) -> bool | NotRunning:
        """:raises WouldBlockTheLoopError: on the core's own loop thread."""
        return on_core_sync(self.live_engine(), self.thread, flush_within, limit)

    def fetch_predictions_sync(self, queries: list[PredictionQuery]) -> bool:
        """Fetch on the running core's HTTP client; ``False`` when no core runs (or this is its own loop thread)."""
        try:
            return on_core_sync(self.live_engine(), self.thread, Engine.fetch_predictions, queries) is not NOT_RUNNING
        except WouldBlockTheLoopError:
            return False

    # -- interpreter exit ---------------------------------------------------------------------------------------------

    def _flush_at_exit(self) -> None:
        """Send what a core nobody stopped still holds, within ``shutdown_timeout_seconds`` all told; count the rest
        (reason ``exit``). No new thread may start at exit, so no DNS lookups: connections go to the addresses
        already reached (or resolved at start)."""
        self._network.pin()
        if self.thread is not None:
            self.stop()
        elif self.live_engine() is None and self._loop_ended_after is not None and self._spool is None:
            budget = self._settings.shutdown_timeout_seconds - self._loop_ended_after
            if not self._queue.is_empty and budget > 0:
                anyio.run(self._send_before_exit, budget, backend=self._exit_backend)
        self._accounting.drop_queued(DropReason.EXIT)
        _exit.forget(self)
        if self._spool is not None:
            self._spool.close()  # what it still holds waits for the next process to adopt it

    async def _send_before_exit(self, budget: float) -> None:
        await self.start_async()
        engine = self.live_engine()
        if engine is not None:
            await self._stop_engine(engine, budget)


def _weakly(method: Callable[[bool], None]) -> Callable[[bool], None]:
    """``method``, called through a weak reference to its object (a no-op once the object is gone)."""
    ref = weakref.WeakMethod(method)

    def call(value: bool) -> None:
        bound = ref()
        if bound is not None:
            bound(value)

    return call


class _StartOnFirstUse(Waker):
    """The waker of a forked child's client that ran on its own thread: the first wake starts a new thread."""

    def __init__(self, core: CoreRunner) -> None:
        self.pending = False
        self._core = weakref.ref(core)

    def wake(self) -> None:
        self.pending = True
        core = self._core()
        if core is not None:
            core.start_thread(wait=False)
