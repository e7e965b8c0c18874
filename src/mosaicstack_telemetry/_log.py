"""The library's logger, and the ways the client keeps it readable.

* :func:`enable_debug_output` (``debug=True``): one stderr handler at DEBUG on the ``mosaicstack_telemetry`` logger —
  once per process, however many clients ask — never on the root logger: records still propagate as usual.
* :class:`OnceLog`: a message logged the first time its key comes up (a drop reason, a kind of hook error).
* :class:`OverflowLog`: queue evictions, at most one line per interval with the count since the last.
"""

from __future__ import annotations

import logging
import math
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

__all__ = ["LOGGER_NAME", "OVERFLOW_LOG_INTERVAL", "OnceLog", "OverflowLog", "enable_debug_output"]

LOGGER_NAME = "mosaicstack_telemetry"
#: Overflow warnings: at most one line per this many seconds, with the count since the last one.
OVERFLOW_LOG_INTERVAL = 60.0

logger = logging.getLogger(LOGGER_NAME)

_lock = threading.Lock()
_handler: logging.Handler | None = None


if TYPE_CHECKING:
    _StreamHandler = logging.StreamHandler[TextIO]
else:  # logging.StreamHandler is subscriptable at run time only from Python 3.11
    _StreamHandler = logging.StreamHandler


class _StderrHandler(_StreamHandler):
    """Writes to ``sys.stderr`` as it is at each record (tests and tools replace it), like logging's last resort."""

    def __init__(self) -> None:
        logging.Handler.__init__(self, logging.DEBUG)

    @property
    def stream(self) -> TextIO:  # type: ignore[override]
        return sys.stderr


def enable_debug_output() -> None:
    """Show the library's DEBUG records (and everything above) on stderr."""
    global _handler  # noqa: PLW0603 - one handler per process
    with _lock:
        logger = logging.getLogger(LOGGER_NAME)
        if _handler is None:
            _handler = _StderrHandler()
            _handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s: %(message)s"))
            logger.addHandler(_handler)
        if logger.getEffectiveLevel() > logging.DEBUG:
            logger.setLevel(logging.DEBUG)


class OnceLog:
    """Logs a message the first time its key comes up; later occurrences are left to the counters (or DEBUG)."""

    def __init__(self) -> None:
        self._seen: set[object] = set()

    def __call__(self, key: object, level: int, message: str, *args: object, exc_info: bool = False) -> bool:
        """Log ``message`` if ``key`` is new; whether it did."""
        if key in self._seen:
            return False
        self._seen.add(key)
        logger.log(level, "mosaicstack-telemetry: " + message, *args, exc_info=exc_info)
        return True


class OverflowLog:
    """Rate-limited warning about evictions: one line per interval, with the count since the last line.

    :param evicted: reads the number of events evicted so far.
    :param clock: monotonic seconds (this runs in ``track()``, on any thread, off the loop).
    """

    def __init__(self, evicted: Callable[[], int], max_size: int, clock: Callable[[], float]) -> None:
        self._evicted = evicted
        self._max_size = max_size
        self._clock = clock
        self._next_at = -math.inf
        self._reported = 0

    def maybe_log(self) -> None:
        now = self._clock()
        if now < self._next_at:
            return
        evicted = self._evicted()
        new = evicted - self._reported
        if new <= 0:
            return
        self._reported = evicted
        self._next_at = now + OVERFLOW_LOG_INTERVAL
        logger.warning(
            "mosaicstack-telemetry: queue full (max_queue_size=%d): %d oldest events dropped "
            "since the last report (%d in all)",
            self._max_size,
            new,
            evicted,
        )
