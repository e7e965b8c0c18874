"""tests/otel: the bridge's own tests run everywhere (JSON needs nothing extra); the modules that need
opentelemetry-proto or the OpenTelemetry SDK skip themselves (``pytest.importorskip``) where those are not installed
(``nox -s otel`` installs them)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from mosaicstack_telemetry.server.storage import Storage


@pytest.fixture
def storage() -> Iterator[Storage]:
    """An in-memory SQLite storage the test reads after the server stopped (a server closes only a storage it
    created). Imported here, not at the top: the modules that do not use it run without the server extra."""
    from mosaicstack_telemetry.server import SQLiteStorage

    store = SQLiteStorage()
    try:
        yield store
    finally:
        store.close()
