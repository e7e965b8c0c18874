"""A local reference server speaking Telemetry API v1: SQLite or PostgreSQL storage, API keys, predictions, faults.

Somewhere to point the SDK while developing, the server the package's integration tests and demo run against.
It parses and answers with the package's own models and wire format, so client and server cannot disagree.
Install it with the ``server`` extra (Starlette and uvicorn)::

    pip install "mosaicstack-telemetry[server]"     # or, from a checkout: pip install -e ".[server]"

In Python::

    from mosaicstack_telemetry.server import run_in_thread

    with run_in_thread() as server:  # 127.0.0.1, a free port, in-memory SQLite (or database_url="postgresql://…")
        config = TelemetryConfig(server_url=server.url, api_key=server.api_key,
                                 instance_id=str(server.instance_id))
        server.faults.fail_next(1, 429, retry_after=2)  # misbehave on purpose

Modules, one job each: :mod:`.app` (HTTP), :mod:`.storage` (the :class:`Storage` interface), :mod:`.sqlite` (SQLite),
:mod:`.postgres` (PostgreSQL, the ``postgres`` extra), :mod:`.backends` (a storage from a URL or path),
:mod:`.migrations` and :mod:`.pg_migrations` (the versioned schemas), :mod:`.workers` (several server processes),
:mod:`.predictions` (statistics and fallback), :mod:`.keys` (API keys), :mod:`.faults` and :mod:`.fault_middleware`
(fault injection), :mod:`.boundary` (the strict JSON boundary), :mod:`.openapi` (the API document), :mod:`.protocol`
(slow clients), :mod:`.runner` (uvicorn on a thread).
"""

from __future__ import annotations

try:
    import starlette  # noqa: F401
    import uvicorn  # noqa: F401
except ImportError as error:  # pragma: no cover - the sessions install the extra
    raise ImportError(
        'mosaicstack_telemetry.server needs the "server" extra: pip install "mosaicstack-telemetry[server]", '
        'or from a checkout: pip install -e ".[server]"'
    ) from error

from .app import HEALTH_PATH, MAX_BODY_BYTES, create_app
from .backends import ENV_DATABASE_URL, StorageOpenError, open_storage
from .faults import FaultPlan, FaultStatistics, RateLimit, format_retry_after
from .keys import ApiKey, create_key, hash_key, verify_key
from .migrations import SchemaTooNewError
from .predictions import (
    FALLBACK_LEVELS,
    HIGH_CONFIDENCE_SAMPLES,
    MEDIUM_CONFIDENCE_SAMPLES,
    MIN_SAMPLES,
    PREDICTION_MAX_AGE_SECONDS,
    Predictor,
    nearest_rank,
)
from .protocol import SlowClientLimits
from .runner import ServerThread, run_in_thread
from .storage import GroupSummary, KeyRecord, SQLiteStorage, Storage, StorageReader

__all__ = [
    "ENV_DATABASE_URL",
    "FALLBACK_LEVELS",
    "HEALTH_PATH",
    "HIGH_CONFIDENCE_SAMPLES",
    "MAX_BODY_BYTES",
    "MEDIUM_CONFIDENCE_SAMPLES",
    "MIN_SAMPLES",
    "PREDICTION_MAX_AGE_SECONDS",
    "ApiKey",
    "FaultPlan",
    "FaultStatistics",
    "GroupSummary",
    "KeyRecord",
    "Predictor",
    "RateLimit",
    "SQLiteStorage",
    "SchemaTooNewError",
    "ServerThread",
    "SlowClientLimits",
    "Storage",
    "StorageOpenError",
    "StorageReader",
    "create_app",
    "create_key",
    "format_retry_after",
    "hash_key",
    "nearest_rank",
    "open_storage",
    "run_in_thread",
    "verify_key",
]
