"""Named attrs converters, one per accepted input type (the attrs mypy plugin types ``__init__`` from them).

Each turns good input into the documented type and hands anything else back unchanged for the validator to report
(:mod:`._schema`): none of them raises. The common case — the value already has the right type — is tested inline,
without a second call, since every event runs these.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from ._schema import UTC, to_datetime, to_enum, to_enum_list
from .enums import Complexity, Harness, Outcome, Provider, QualityGate, RepoSizeCategory, TaskType


def task_type(value: TaskType | str) -> TaskType:
    return value if value.__class__ is TaskType else to_enum(TaskType, value)


def complexity(value: Complexity | str) -> Complexity:
    return value if value.__class__ is Complexity else to_enum(Complexity, value)


def harness(value: Harness | str) -> Harness:
    return value if value.__class__ is Harness else to_enum(Harness, value)


def provider(value: Provider | str) -> Provider:
    return value if value.__class__ is Provider else to_enum(Provider, value)


def outcome(value: Outcome | str) -> Outcome:
    return value if value.__class__ is Outcome else to_enum(Outcome, value)


def repo_size(value: RepoSizeCategory | str | None) -> RepoSizeCategory | None:
    if value is None or value.__class__ is RepoSizeCategory:
        return value
    return to_enum(RepoSizeCategory, value)


def quality_gates(values: Iterable[QualityGate | str]) -> list[QualityGate]:
    return to_enum_list(QualityGate, values)


def timestamp(value: datetime | str) -> datetime:
    if value.__class__ is datetime and value.tzinfo is UTC:
        return value
    return to_datetime(value)


def optional_timestamp(value: datetime | str | None) -> datetime | None:
    return None if value is None else to_datetime(value)
