"""The one place that knows which event loop is running, and the waker that reaches it from any thread.

* :meth:`LoopHandle.spawn` runs the client's core as a task of its own on the caller's loop, not a child of the
  caller's task: trio's ``spawn_system_task``; on asyncio, a task the handle keeps a reference to.
* :meth:`LoopHandle.call_soon` runs a function on the loop soon, from any thread, without waiting
  (``run_sync_soon`` on the loop's token); :class:`Waker` uses it once per batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import anyio.lowlevel

__all__ = ["IDLE_WAKER", "LoopHandle", "Waker", "current_loop"]


class LoopHandle:
    """The running loop, captured on its own thread, to spawn detached tasks on it and wake it from anywhere."""

    def __init__(self) -> None:
        token = anyio.lowlevel.current_token()
        self.library = _running_library()
        self.native_token = token.native_token
        self._run_sync_soon = functools.partial(token.backend_class.run_sync_soon)
        self._token = token
        self._tasks: set[Any] = set()

    @property
    def token(self) -> anyio.lowlevel.EventLoopToken:
        """The loop's token, for ``anyio.from_thread.run(..., token=…)`` from other threads."""
        return self._token

    def call_soon(self, func: Callable[[], object]) -> None:
        """Run ``func`` on the loop soon; callable from any thread, never blocks.

        :raises anyio.RunFinishedError: if the loop has ended.
        """
        self._run_sync_soon(func, (), self.native_token)

    def is_current(self) -> bool:
        """Whether the calling code runs on this loop."""
        try:
            return anyio.lowlevel.current_token().native_token is self.native_token
        except Exception:
            return False

    def spawn(self, async_fn: Callable[[], Awaitable[None]]) -> None:
        """Start ``async_fn()`` as a task of its own (not a child of the caller's task). It must not raise."""
        if self.library == "trio":
            import trio  # noqa: PLC0415 - trio is optional; only trio users get here

            trio.lowlevel.spawn_system_task(async_fn, name="mosaicstack-telemetry core")
        else:
            task: asyncio.Task[None] = asyncio.get_running_loop().create_task(
                async_fn(),  # type: ignore[arg-type]
                name="mosaicstack-telemetry core",
            )
            self._tasks.add(task)  # asyncio keeps only weak references to tasks
            task.add_done_callback(self._tasks.discard)


class Waker:
    """Wakes the core from any thread, at most once until the core has looked at the queue again.

    ``track()`` calls :meth:`wake` when a full batch is waiting or the queue goes from empty to non-empty. The
    ``pending`` flag makes it once per batch rather than once per event (``len == batch_size`` alone misses wakes
    when threads race; ``>=`` alone wakes on every event); the core re-arms it (:meth:`rearm`) each time it looks.

    :param on_pending: told each change of ``pending`` — before the wake is sent, so that the core's reaction to
        the wake (a :meth:`rearm`) always comes after it (``track()`` keeps a threshold from it).
    """

    __slots__ = ("_loop", "_on_pending", "_on_wake", "pending")

    def __init__(
        self, loop: LoopHandle, on_wake: Callable[[], None], on_pending: Callable[[bool], None] | None = None
    ) -> None:
        self._loop = loop
        self._on_wake = on_wake
        self._on_pending = on_pending
        self.pending = False

    def wake(self) -> None:
        if self.pending:
            return
        self.pending = True
        if self._on_pending is not None:
            self._on_pending(True)
        # If the loop is gone, the events stay queued for the next start (or the exit flush).
        with contextlib.suppress(anyio.RunFinishedError):
            self._loop.call_soon(self._on_wake)

    def rearm(self) -> None:
        """The core is looking at the queue: from here on, a new event may wake it again."""
        self.pending = False
        if self._on_pending is not None:
            self._on_pending(False)


class _IdleWaker(Waker):
    """The waker of a stopped client: always "pending", so ``track()`` never tries to wake anything."""

    def __init__(self) -> None:
        self.pending = True

    def wake(self) -> None:
        pass


IDLE_WAKER: Waker = _IdleWaker()


def current_loop() -> LoopHandle:
    """A handle on the loop running the caller."""
    return LoopHandle()


def _running_library() -> Literal["asyncio", "trio"]:
    """``"asyncio"`` or ``"trio"`` (anyio supports no other; asyncio answers ``get_running_loop``, trio does not)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return "trio"
    return "asyncio"
