"""mosaicstack-telemetry: report AI-coding task-completion telemetry and read crowd-sourced predictions back.

A drop-in for the original SDK's documented API (same names, defaults, environment variables and wire format), on
anyio, attrs and cattrs, native under asyncio and trio.
"""

from __future__ import annotations

import logging

from ._queue import EventQueue
from ._version import __version__
from .batch import BatchEventRequest, BatchEventResponse, BatchEventResult
from .builder import EventBuilder
from .cache import PredictionCache
from .client import TelemetryClient
from .config import TelemetryConfig
from .enums import (
    Complexity,
    Harness,
    Outcome,
    Provider,
    QualityGate,
    RepoSizeCategory,
    TaskType,
)
from .errors import TelemetryError, ValidationError
from .events import TaskCompletionEvent
from .predictions import (
    CorrectionFactors,
    PredictionData,
    PredictionMetadata,
    PredictionQuery,
    PredictionResponse,
    QualityPrediction,
    TokenDistribution,
)
from .stats import ClientStats, DropReason

__all__ = [
    "BatchEventRequest",
    "BatchEventResponse",
    "BatchEventResult",
    "ClientStats",
    "Complexity",
    "CorrectionFactors",
    "DropReason",
    "EventBuilder",
    "EventQueue",
    "Harness",
    "Outcome",
    "PredictionCache",
    "PredictionData",
    "PredictionMetadata",
    "PredictionQuery",
    "PredictionResponse",
    "Provider",
    "QualityGate",
    "QualityPrediction",
    "RepoSizeCategory",
    "TaskCompletionEvent",
    "TaskType",
    "TelemetryClient",
    "TelemetryConfig",
    "TelemetryError",
    "TokenDistribution",
    "ValidationError",
    "__version__",
]

logging.getLogger(__name__).addHandler(logging.NullHandler())
