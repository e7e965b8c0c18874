"""``debug=True``: the library's log on stderr at DEBUG, whatever the application's logging is.

:func:`enable_debug_output` adds one handler to the ``mosaicstack_telemetry`` logger — once per process, however many
clients ask — and never touches the root logger: records still propagate to the application's handlers as usual.
"""

from __future__ import annotations

import logging
import sys
import threading
from typing import TextIO

__all__ = ["LOGGER_NAME", "enable_debug_output"]

LOGGER_NAME = "mosaicstack_telemetry"

_lock = threading.Lock()
_handler: logging.Handler | None = None


class _StderrHandler(logging.StreamHandler[TextIO]):
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
