"""Retry timing: exponential backoff with jitter, and the server's ``Retry-After``.

``backoff_delay(n) = min(maximum, initial * base ** (n - 1) + uniform(0, jitter))`` — 1 s, doubling, 60 s cap, up to
1 s of jitter. ``parse_retry_after`` reads delta-seconds or an HTTP date, ignores garbage and caps the result.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

__all__ = ["RETRY_AFTER_CEILING", "backoff_delay", "parse_retry_after"]

INITIAL = 1.0
MAXIMUM = 60.0
EXP_BASE = 2.0
JITTER = 1.0
#: A server's Retry-After is honoured as a minimum, up to this many seconds.
RETRY_AFTER_CEILING = 600.0


def backoff_delay(
    retry: int,
    *,
    initial: float = INITIAL,
    maximum: float = MAXIMUM,
    exp_base: float = EXP_BASE,
    jitter: float = JITTER,
    uniform: Callable[[float, float], float] = random.uniform,
) -> float:
    """Seconds to wait before retry number ``retry`` (1 for the first retry)."""
    exponent = min(max(retry - 1, 0), 64)  # past 2**64 the cap has long applied; avoid float overflow
    return min(maximum, initial * exp_base**exponent + uniform(0.0, jitter))


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date), or ``None`` if absent or garbage.

    Negative, non-finite and unparseable values are ignored (``None``); a date in the past means 0. The result is
    capped at :data:`RETRY_AFTER_CEILING` so a broken server cannot park the client for days.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return min(seconds, RETRY_AFTER_CEILING)
