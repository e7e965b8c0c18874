"""``OwnThread``: the daemon thread the sync facade runs the client's core on, and the portal that reaches it.

The thread runs ``anyio.run`` with a :class:`~anyio.from_thread.BlockingPortal` open inside it — not
``start_blocking_portal()``, whose half-entered form hangs the interpreter at exit when nobody stops it. It is a
daemon thread, so a process never waits for it; the client's exit handler stops it.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar

import anyio
import anyio.from_thread

__all__ = ["OwnThread"]

T = TypeVar("T")


class OwnThread:
    """A daemon thread running an event loop of ``backend`` that first awaits ``start()``, then serves portal calls
    until :meth:`stop`.

    :param start: awaited on the thread's loop before :meth:`launch` returns (the core's ``start_async``).
    """

    def __init__(self, backend: Literal["asyncio", "trio"], start: Callable[[], Awaitable[None]], name: str) -> None:
        self._backend = backend
        self._start = start
        self._ready = threading.Event()
        self._failure: list[BaseException] = []
        self._portal: anyio.from_thread.BlockingPortal | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def launch(self, *, wait: bool) -> None:
        """Start the thread; with ``wait``, return once ``start()`` is done.

        :raises RuntimeError: (with ``wait``) if the thread's loop could not start, chained to the reason.
        """
        self._thread.start()
        if not wait:
            return
        self._ready.wait()
        if self._failure:
            self._thread.join()
            raise RuntimeError("mosaicstack-telemetry: could not start the client's thread") from self._failure[0]

    @property
    def portal(self) -> anyio.from_thread.BlockingPortal | None:
        """The portal to the thread's loop, once it started (``None`` before, and if it failed)."""
        return self._portal

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def is_current(self) -> bool:
        return self._thread is threading.current_thread()

    def call(self, func: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run ``func(*args)`` on the thread's loop and wait for its result (from any other thread).

        :raises RuntimeError: if the thread's loop is not running.
        """
        portal = self._portal
        if portal is None:
            raise RuntimeError("the client's thread is not running")
        return portal.call(func, *args)

    def stop(self, stop_core: Callable[[], Awaitable[None]], timeout: float) -> None:
        """Await ``stop_core()`` on the thread's loop, end the loop, and wait for the thread (at most ``timeout``
        seconds for each of the start still in progress and the end)."""
        self._ready.wait(timeout)  # a thread still starting (started without waiting, after a fork)
        portal = self._portal
        if portal is not None:
            try:
                portal.call(stop_core)
                portal.call(portal.stop)
            except RuntimeError:  # the portal's loop has already ended (interpreter shutdown)
                pass
            self._thread.join(timeout=timeout)
        self._portal = None

    def _run(self) -> None:
        async def main() -> None:
            async with anyio.from_thread.BlockingPortal() as portal:
                await self._start()
                self._portal = portal
                self._ready.set()
                await portal.sleep_until_stopped()

        try:
            anyio.run(main, backend=self._backend)
        except BaseException as error:
            self._failure.append(error)
        finally:
            self._ready.set()
