"""LLM-call instrumentation: one event per Anthropic, OpenAI or Ollama call, with normalized tokens and a cost.

::

    from mosaicstack_telemetry.llm import instrument

    client = instrument(anthropic.Anthropic(), telemetry)  # every messages.create / stream is now reported

No provider SDK is imported here (they are read by shape), nothing touches the network, and nothing raises into or
delays the caller's call. See ``docs/llm.md`` for the guide: the usage meaning (:mod:`.usage`), streams
(:mod:`.streams`), pricing (:mod:`.pricing`, :mod:`.price_table`) and task types (:mod:`.task_types`).
"""

from __future__ import annotations

from .clients import instrument
from .entry_points import LlmCall, llm_call, result_of, track_llm, wrap_async_stream, wrap_stream
from .price_table import AS_OF, PRICES, SOURCES
from .pricing import Cost, CostStatus, ModelPrice, Pricer, Tier, model_candidates
from .recorder import CallResult
from .stats import LlmStats, SkipReason, reset_stats, stats
from .streams import InstrumentedAsyncStream, InstrumentedStream
from .task_types import EMBEDDINGS_TASK_TYPE, KEYWORDS, infer_task_type, task_hint
from .usage import Usage, normalize_usage

__all__ = [
    "AS_OF",
    "EMBEDDINGS_TASK_TYPE",
    "KEYWORDS",
    "PRICES",
    "SOURCES",
    "CallResult",
    "Cost",
    "CostStatus",
    "InstrumentedAsyncStream",
    "InstrumentedStream",
    "LlmCall",
    "LlmStats",
    "ModelPrice",
    "Pricer",
    "SkipReason",
    "Tier",
    "Usage",
    "infer_task_type",
    "instrument",
    "llm_call",
    "model_candidates",
    "normalize_usage",
    "reset_stats",
    "result_of",
    "stats",
    "task_hint",
    "track_llm",
    "wrap_async_stream",
    "wrap_stream",
]
