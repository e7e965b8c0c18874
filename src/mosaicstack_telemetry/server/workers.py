"""Several server processes sharing one PostgreSQL database: uvicorn's worker model, not a home-made one.

:func:`serve_workers` runs :class:`uvicorn.supervisors.Multiprocess` (what ``uvicorn --workers N`` runs) on a socket
the caller has bound: it spawns ``N`` worker processes that accept on that socket, restarts one that dies, and on
SIGINT/SIGTERM stops them all gracefully. Each worker builds its own app with :func:`worker_app` — its own
connection pool, prediction cache and limiters — from the environment the parent hands down: the database URL in
:data:`~.backends.ENV_DATABASE_URL` (never on a command line) and the other settings in :data:`ENV_WORKER_SETTINGS`.

What the workers share is the database only: events are deduplicated there (the primary key), keys and revocations
are read there on each request, and each worker's prediction cache compares the database's version. Only a
backend that several processes may open at once can have workers (:func:`~.backends.supports_workers`): SQLite
takes one server process.
"""

from __future__ import annotations

import atexit
import json
import os
import socket
from typing import Any

import uvicorn
from starlette.applications import Starlette
from uvicorn.supervisors import Multiprocess

from .accesslog import redact_access_log
from .app import create_app
from .backends import ENV_DATABASE_URL, open_storage
from .protocol import guarded_h11

__all__ = ["ENV_WORKER_SETTINGS", "WorkerProtocol", "serve_workers", "worker_app"]

#: Settings of the worker processes (JSON), set by :func:`serve_workers` for the processes it spawns.
ENV_WORKER_SETTINGS = "MOSAIC_TELEMETRY_WORKER_SETTINGS"

#: The slow-client-guarded h11 protocol (:mod:`.protocol`), at an import path: a worker imports it by name.
WorkerProtocol = guarded_h11()


def worker_app() -> Starlette:
    """The app of one worker process (uvicorn's ``factory``): storage from :data:`~.backends.ENV_DATABASE_URL`."""
    settings = json.loads(os.environ.get(ENV_WORKER_SETTINGS, "{}"))
    storage = open_storage(os.environ[ENV_DATABASE_URL])
    atexit.register(storage.close)
    redact_access_log()
    return create_app(storage, prediction_max_age_seconds=float(settings.get("prediction_max_age_seconds", 30.0)))


def serve_workers(
    sock: socket.socket,
    *,
    workers: int,
    database_url: str,
    prediction_max_age_seconds: float,
    **uvicorn_config: Any,
) -> None:
    """Serve on ``sock`` with ``workers`` processes until SIGINT/SIGTERM; returns once every worker has stopped.

    :param uvicorn_config: further :class:`uvicorn.Config` options (logging, graceful shutdown); ``limit_concurrency``
        applies per worker.
    """
    os.environ[ENV_DATABASE_URL] = database_url
    os.environ[ENV_WORKER_SETTINGS] = json.dumps({"prediction_max_age_seconds": prediction_max_age_seconds})
    config = uvicorn.Config(
        f"{__name__}:worker_app",
        factory=True,
        workers=workers,
        http=f"{__name__}:WorkerProtocol",
        **uvicorn_config,
    )
    Multiprocess(config, sockets=[sock]).run()
