"""The ASGI pieces the bridge's apps share (:class:`~.app.BridgeApp` and the reference server's ``/otlp`` mount).

* The ASGI types (``Scope``, ``Receive``, ``Send``).
* :func:`sweeping`: an app's lifespan (an async context manager, Starlette's ``lifespan=`` shape): a sweeper that
  completes idle prompts every :func:`sweep_interval` while it runs, and the completion of every open prompt at its
  end, however it ends (cancelled too). Neither ever raises: a failure is logged, and the sweeper carries on.
* :func:`serve_lifespan`: the ASGI ``lifespan`` protocol answered with such a lifespan, for an app served on its own.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any

import anyio

__all__ = ["MAX_SWEEP_INTERVAL", "Message", "Receive", "Scope", "Send", "serve_lifespan", "sweep_interval", "sweeping"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: The sweeper runs at least this often (seconds), whatever the idle timeout.
MAX_SWEEP_INTERVAL = 5.0


def sweep_interval(idle_timeout: float) -> float:
    """How often to sweep for prompts idle ``idle_timeout`` seconds: a quarter of it, at most every 5 s."""
    return min(MAX_SWEEP_INTERVAL, idle_timeout / 4)


@contextlib.asynccontextmanager
async def sweeping(
    sweep: Callable[[], Awaitable[object]],
    close: Callable[[], object],
    *,
    interval: float,
    log: logging.Logger,
    label: str,
) -> AsyncIterator[None]:
    """Run ``sweep()`` every ``interval`` seconds for the block, then ``close()`` (blocking) however the block ends.

    :param label: names the app in the log messages of a failed sweep or close.
    """
    try:
        async with anyio.create_task_group() as group:
            group.start_soon(_sweep_forever, sweep, interval, log, label)
            try:
                yield
            finally:
                group.cancel_scope.cancel()
    finally:
        try:
            close()
        except Exception:
            log.exception("%s: completing the open prompts at shutdown failed", label)


async def _sweep_forever(
    sweep: Callable[[], Awaitable[object]], interval: float, log: logging.Logger, label: str
) -> None:
    while True:
        await anyio.sleep(interval)
        try:
            await sweep()
        except Exception:  # the sweeper must outlive a bug: it alone completes idle prompts
            log.exception("%s: sweeping idle prompts failed", label)


async def serve_lifespan(
    lifespan: contextlib.AbstractAsyncContextManager[object], receive: Receive, send: Send
) -> None:
    """Answer the ASGI ``lifespan`` protocol: enter ``lifespan`` at startup, leave it at shutdown."""
    if (await receive())["type"] != "lifespan.startup":
        return
    async with lifespan:
        await send({"type": "lifespan.startup.complete"})
        while (await receive())["type"] != "lifespan.shutdown":
            pass
    await send({"type": "lifespan.shutdown.complete"})
