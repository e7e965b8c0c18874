"""Reaching a running core from wherever a call comes: its own loop, another loop, or plain sync code on any thread.

The client's async and sync methods both go through :func:`on_core` / :func:`on_core_sync`, which run
``method(engine, *args)`` on the loop the core runs on: directly when already there, through the client's own
thread's portal, or through the loop's token from a foreign thread.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import anyio
import anyio.from_thread
import anyio.to_thread

from ._engine import Engine
from ._thread import OwnThread

__all__ = [
    "NOT_RUNNING",
    "NotRunning",
    "WouldBlockTheLoopError",
    "flush_limit",
    "flush_within",
    "on_core",
    "on_core_sync",
]

T = TypeVar("T")
Method = Callable[..., Coroutine[Any, Any, T]]


class NotRunning:
    """What a call routed to the core returns when no core is running."""


NOT_RUNNING = NotRunning()


class WouldBlockTheLoopError(Exception):
    """A blocking call made on the very loop thread the core runs on: it would wait for itself."""


async def on_core(engine: Engine | None, thread: OwnThread | None, method: Method[T], *args: Any) -> T | NotRunning:
    """``await method(engine, *args)`` on ``engine``'s loop, from async code on any loop or thread."""
    if engine is None:
        return NOT_RUNNING
    if engine.loop.is_current():
        return await method(engine, *args)
    return await anyio.to_thread.run_sync(on_core_sync, engine, thread, method, *args)


def on_core_sync(engine: Engine | None, thread: OwnThread | None, method: Method[T], *args: Any) -> T | NotRunning:
    """``method(engine, *args)`` run on ``engine``'s loop and waited for, from sync code in any thread but the loop's
    own (the client's thread through its portal, a user's loop through its token).

    :raises WouldBlockTheLoopError: on the core's own loop thread.
    """
    if engine is None:
        return NOT_RUNNING
    if engine.loop.is_current():
        raise WouldBlockTheLoopError
    call = functools.partial(method, engine, *args)
    if thread is not None:
        return thread.call(call)
    result: T = anyio.from_thread.run(call, token=engine.loop.token)
    return result


def flush_limit(timeout: object) -> float:
    """A flush's time limit in seconds (``None``: no limit; a negative one has already passed)."""
    if timeout is None:
        return math.inf
    if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or math.isnan(timeout):
        raise TypeError(f"timeout={timeout!r} must be a number of seconds or None")
    return float(timeout)


async def flush_within(engine: Engine, limit: float) -> bool:
    """A flush of ``engine`` (on its loop) bounded by ``limit`` seconds: whether everything got settled in time."""
    with anyio.move_on_after(limit):
        return await engine.flush()
    return False
