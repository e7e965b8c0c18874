"""The package's exceptions."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["TelemetryError", "ValidationError"]


class TelemetryError(Exception):
    """Base class of every error this package raises or reports (through ``on_error``).

    ``track()`` never raises; a ``TelemetryError`` reaches callers from model construction and parsing, and reaches
    ``config.on_error`` for failed submissions. Its message contains ``HTTP <status>`` when a server answered with one.
    """


class ValidationError(TelemetryError, ValueError):
    """Input that breaks the schema: every bad field is listed, each with its value and the rule it breaks.

    Like pydantic's ``ValidationError`` (which the original SDK raised) it gathers every problem at once instead of
    stopping at the first, and it is a :class:`ValueError`, so ``except ValueError`` written for the original still
    catches it.

    :param title: what was being validated, e.g. the model's name.
    :param errors: one line per bad field, e.g. ``task_duration_ms=90000000 is outside 0..86400000``.
    """

    def __init__(self, title: str, errors: Sequence[str]) -> None:
        self.title = title
        self.errors: tuple[str, ...] = tuple(errors)
        count = len(self.errors)
        noun = "error" if count == 1 else "errors"
        lines = "".join(f"\n  {error}" for error in self.errors)
        super().__init__(f"{count} validation {noun} for {title}:{lines}")

    def __reduce__(self) -> tuple[type[ValidationError], tuple[str, tuple[str, ...]]]:
        return (type(self), (self.title, self.errors))
