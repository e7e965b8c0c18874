"""Running ``before_send``: what a user's hook makes of an event, without ever losing it to the hook's own failure."""

from __future__ import annotations

import logging

from ._log import OnceLog
from .config import BeforeSend
from .events import TaskCompletionEvent

__all__ = ["run_before_send"]


def run_before_send(hook: BeforeSend, event: TaskCompletionEvent, log_once: OnceLog) -> TaskCompletionEvent | None:
    """The event to queue (the hook's, or the original if the hook failed), or ``None`` to drop it.

    A hook that raises, or returns something that is not an event (which would fail its whole batch's encoding),
    keeps the original; each kind of failure is logged once.
    """
    try:
        result: object = hook(event)
    except Exception as error:
        log_once(type(error), logging.ERROR, "before_send raised %r; the event is sent unchanged", error, exc_info=True)
        return event
    if result is None or isinstance(result, TaskCompletionEvent):
        return result
    log_once(
        ("returned", type(result)),
        logging.ERROR,
        "before_send returned a %s, not a TaskCompletionEvent or None; the event is sent unchanged",
        type(result).__name__,
    )
    return event
