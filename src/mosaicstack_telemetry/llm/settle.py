"""What the caller gets back once an instrumented call has returned, and when that call is reported.

:func:`settle` reports a response now (its usage read by shape), or hands back a stream or an Anthropic stream manager
wrapped so that the call is reported when it ends. It never raises: what it cannot read is reported with unknown
usage and returned untouched.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..enums import Outcome
from ._access import get
from .managers import AsyncMessageStreamManager, MessageStreamManager
from .providers import provider_of_response
from .recorder import CallRecord
from .streams import InstrumentedAsyncStream, InstrumentedStream
from .usage import normalize_usage

__all__ = ["settle"]


def settle(record: CallRecord, result: Any) -> Any:
    """After a call returned: wrap a stream, or report a response. Returns what the caller gets. Never raises."""
    try:
        if _is_response(result):
            record.finish(
                normalize_usage(result),
                outcome=Outcome.SUCCESS,
                model=get(result, "model"),
                provider=provider_of_response(result),
            )
        elif type(result).__name__ == "AsyncMessageStreamManager":
            return AsyncMessageStreamManager(result, record)
        elif type(result).__name__ == "MessageStreamManager":
            return MessageStreamManager(result, record)
        elif hasattr(result, "__aiter__"):
            return InstrumentedAsyncStream(result, record)
        elif hasattr(result, "__next__"):
            return InstrumentedStream(result, record)
        else:
            record.finish(normalize_usage(result), outcome=Outcome.SUCCESS, model=get(result, "model"))
    except Exception:
        record.finish(None, outcome=Outcome.SUCCESS)
    return result


def _is_response(result: Any) -> bool:
    return isinstance(result, Mapping) or get(result, "usage") is not None or provider_of_response(result) is not None
