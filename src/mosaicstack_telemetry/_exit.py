"""Interpreter exit: the flush of every client started and not stopped.

Started clients are held strongly until they stop, as ``threading`` holds running threads: a client dropped by the
code that started it (``main()`` returned) must still reach its exit flush. The handler itself is registered once per
client, through a weak reference.
"""

from __future__ import annotations

import atexit
import logging
import weakref
from typing import Protocol

__all__ = ["forget", "hold_until_stopped"]

logger = logging.getLogger("mosaicstack_telemetry")


class _Flushable(Protocol):
    def _flush_at_exit(self) -> None: ...


_UNSTOPPED: set[_Flushable] = set()
_REGISTERED: weakref.WeakSet[_Flushable] = weakref.WeakSet()


def hold_until_stopped(client: _Flushable) -> None:
    """Keep ``client`` alive until :func:`forget`, and flush it at exit if it is still held then."""
    _UNSTOPPED.add(client)
    if client not in _REGISTERED:
        _REGISTERED.add(client)
        atexit.register(_flush_at_exit, weakref.ref(client))


def forget(client: _Flushable) -> None:
    """The client stopped (or was flushed at exit): nothing holds it any more."""
    _UNSTOPPED.discard(client)


def _flush_at_exit(client_ref: weakref.ref[_Flushable]) -> None:
    client = client_ref()
    if client is not None:
        try:
            client._flush_at_exit()
        except Exception:
            logger.exception("mosaicstack-telemetry: flush at exit failed")
