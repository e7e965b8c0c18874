"""The public surface: ``from mosaicstack_telemetry import *`` gives exactly the documented names; ``py.typed`` ships."""

from __future__ import annotations

import importlib.resources
from pathlib import Path
from typing import Any

import mosaicstack_telemetry

# Every class the API reference documents as ``mosaicstack_telemetry.<Name>``.
DOCUMENTED = {
    "TelemetryClient",
    "TelemetryConfig",
    "EventBuilder",
    "TaskCompletionEvent",
    "PredictionQuery",
    "PredictionResponse",
    "PredictionData",
    "TokenDistribution",
    "CorrectionFactors",
    "QualityPrediction",
    "PredictionMetadata",
    "BatchEventRequest",
    "BatchEventResponse",
    "BatchEventResult",
    "TaskType",
    "Complexity",
    "Harness",
    "Provider",
    "Outcome",
    "QualityGate",
    "RepoSizeCategory",
    "TelemetryError",
    "EventQueue",
    "PredictionCache",
}
# Ours on top of the documented ones: each added on purpose (a new public name must be added here, deliberately).
EXTRAS = {
    "ValidationError",  # the gathered model error (a TelemetryError and a ValueError)
    "__version__",
    "ClientStats",  # the client's counters
    "DropReason",  # why an event was dropped
}


def star_import() -> dict[str, Any]:
    """The names ``from mosaicstack_telemetry import *`` binds."""
    namespace: dict[str, Any] = {}
    exec("from mosaicstack_telemetry import *", namespace)  # noqa: S102 - the statement under test
    del namespace["__builtins__"]
    return namespace


def test_all_is_exactly_the_documented_names() -> None:
    """``__all__`` is the documented names plus the deliberate extras, no more and no fewer."""
    exported = set(mosaicstack_telemetry.__all__)
    assert len(exported) == len(mosaicstack_telemetry.__all__), "duplicates in __all__"
    assert DOCUMENTED | EXTRAS == exported


def test_star_import_binds_exactly_all() -> None:
    """The star import binds every name of ``__all__`` and nothing else, each the package attribute."""
    namespace = star_import()
    assert set(mosaicstack_telemetry.__all__) == set(namespace)
    for name, value in namespace.items():
        assert getattr(mosaicstack_telemetry, name) is value


def test_all_is_sorted() -> None:
    """``__all__`` is kept sorted (ruff RUF022), so additions are easy to review."""
    assert sorted(mosaicstack_telemetry.__all__) == mosaicstack_telemetry.__all__


def test_exported_classes_claim_the_package_or_a_submodule() -> None:
    """Every exported class is defined in the package (no re-exported third-party names)."""
    for name in set(mosaicstack_telemetry.__all__) - {"__version__"}:
        module = getattr(mosaicstack_telemetry, name).__module__
        assert module.startswith("mosaicstack_telemetry"), (name, module)


def test_version() -> None:
    """``__version__`` is the documented SDK version string."""
    assert "0.1.0" == mosaicstack_telemetry.__version__


def test_py_typed_is_shipped() -> None:
    """The package directory holds the PEP 561 ``py.typed`` marker, as installed."""
    package_dir = Path(mosaicstack_telemetry.__file__).parent
    assert (package_dir / "py.typed").is_file()
    assert importlib.resources.files("mosaicstack_telemetry").joinpath("py.typed").is_file()
