"""The read API's query parameters (``GET /v1/stats/...``), validated at the boundary: every problem named.

A request's query string is read as a multi-map; each endpoint accepts a fixed set of parameters. Any problem —
an unknown parameter, one given twice, a value of the wrong form or out of range — makes :func:`parse` raise
:class:`QueryError` listing every one of them as ``name='value': what was expected``, answered 422. Nothing is
guessed or silently ignored: a misspelt filter must not quietly show every event.

The filters (every endpoint but ``/v1/stats/filters``):

``from``, ``to``
    RFC 3339 date-times (an offset other than UTC, at most ``±23:59``, is converted; none means UTC), the event
    ``timestamp`` range ``[from, to)``; ``from`` at or after ``to`` selects nothing.
``model``
    an exact model name (1 to 100 characters, as the event's rule).
``task_type``, ``harness``
    one of the enum's wire values.

``/v1/stats/overview`` also takes ``bucket``, the finest bucket wanted for its time series: ``hour``, ``day``, or
``auto`` (``hour`` for a range of up to :data:`AUTO_HOURS` hours, else ``day``). :func:`series_bucket` then makes it
coarser — ``day``, ``week``, ``month``, ``year``, in that order — while the range shown would be split into more than
:data:`MAX_SERIES_BUCKETS` buckets, so the series stays small however long the range or the data. Only ``year``
may exceed it, for a range of more than 1,000 years, and it has at most 10,000 buckets: the years datetime holds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, Literal
from uuid import UUID

import attrs

from ..enums import Harness, TaskType
from .boundary import RFC3339_PATTERN
from .stats_queries import SERIES_BUCKETS, SeriesBucket, StatsFilter

__all__ = [
    "AUTO_HOURS",
    "BUCKETS",
    "FILTER_PARAMETERS",
    "MAX_MODEL_LENGTH",
    "MAX_OFFSET",
    "MAX_PAGE",
    "MAX_PREDICTIONS",
    "MAX_SERIES_BUCKETS",
    "Parameter",
    "Query",
    "QueryError",
    "bucket_count",
    "parse",
    "series_bucket",
]

#: Rows in one page of events, at most (as events in one batch).
MAX_PAGE = 100
#: The furthest page start: pages beyond a million events are better reached by narrowing the time range.
MAX_OFFSET = 1_000_000
#: Combinations predicted at once, at most.
MAX_PREDICTIONS = 20
MAX_MODEL_LENGTH = 100
#: ``bucket`` values: ``auto`` is ``hour`` for a range of up to :data:`AUTO_HOURS` hours, else ``day``.
BUCKETS = ("auto", "hour", "day")
#: A range of up to this many hours is bucketed by the hour (``bucket=auto``), a longer one by the day or coarser.
AUTO_HOURS = 72
#: The most buckets a time series' range is split into (but by years): beyond, :func:`series_bucket` goes coarser.
#: A chart 1,280 pixels wide has no room for more bars, and 1,000 days is nearly three years.
MAX_SERIES_BUCKETS = 1000

#: :data:`~.boundary.RFC3339_PATTERN` with its parts captured (the same text matches both).
_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})?"
)
_EARLIEST = datetime.min.replace(tzinfo=timezone.utc)
_LATEST = datetime.max.replace(tzinfo=timezone.utc)
_DIGITS = re.compile(r"^[0-9]{1,9}$")


class QueryError(ValueError):
    """Bad query parameters: :attr:`errors` names each (``name='value': expected ...``)."""

    def __init__(self, errors: Sequence[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = list(errors)


@attrs.frozen
class Parameter:
    """One accepted parameter: its name, its OpenAPI schema and its description (the document is built from these)."""

    name: str
    schema: Mapping[str, Any]
    description: str


_TIME = {"type": "string", "format": "date-time", "pattern": RFC3339_PATTERN}
#: The filters, in the order the document lists them.
FILTER_PARAMETERS: tuple[Parameter, ...] = (
    Parameter("from", _TIME, "events whose timestamp is at or after this (RFC 3339; no offset: UTC)"),
    Parameter("to", _TIME, "events whose timestamp is before this"),
    Parameter("model", {"type": "string", "minLength": 1, "maxLength": MAX_MODEL_LENGTH}, "this model only"),
    Parameter("task_type", {"type": "string", "enum": [m.value for m in TaskType]}, "this task type only"),
    Parameter("harness", {"type": "string", "enum": [m.value for m in Harness]}, "this harness only"),
)
BUCKET = Parameter(
    "bucket",
    {"type": "string", "enum": list(BUCKETS), "default": "auto"},
    "the finest bucket for the time series, by UTC hour or day (auto: hour for up to 72 hours, else day); a"
    f" coarser one (day, week, month, year) when the range would hold more than {MAX_SERIES_BUCKETS} buckets",
)
LIMIT = Parameter("limit", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 20}, "events in the page")
OFFSET = Parameter(
    "offset", {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0}, "events skipped (newest first)"
)
PREDICTIONS = Parameter(
    "limit",
    {"type": "integer", "minimum": 1, "maximum": MAX_PREDICTIONS, "default": 6},
    "how many of the instance's most used combinations to predict for",
)


@attrs.frozen
class Query:
    """A request's parameters, validated: the filter and what else its endpoint takes."""

    filter: StatsFilter
    bucket: Literal["auto", "hour", "day"] = "auto"
    limit: int = 20
    offset: int = 0


def _week(moment: datetime) -> int:
    """Which week ``moment`` is in, counted in Mondays from datetime's first day (itself a Monday)."""
    return (moment.toordinal() - 1) // 7


def bucket_count(bucket: SeriesBucket, start: datetime, end: datetime) -> int:
    """How many ``bucket``-sized UTC buckets hold some of ``[start, end]`` (those holding either end included)."""
    start, end = start.astimezone(timezone.utc), end.astimezone(timezone.utc)
    if end < start:
        return 0
    if bucket == "year":
        return end.year - start.year + 1
    if bucket == "month":
        return (end.year - start.year) * 12 + end.month - start.month + 1
    if bucket == "week":
        return _week(end) - _week(start) + 1
    days = end.toordinal() - start.toordinal()
    return days + 1 if bucket == "day" else days * 24 + end.hour - start.hour + 1


def series_bucket(
    requested: Literal["auto", "hour", "day"], start: datetime | None, end: datetime | None
) -> SeriesBucket:
    """The bucket of a time series over ``[start, end]`` (the range shown): ``requested`` (``auto``: ``hour`` for up
    to :data:`AUTO_HOURS` hours, else ``day``), or the first coarser size that splits the range into at most
    :data:`MAX_SERIES_BUCKETS` buckets (``year`` when none does). Without a range (no events): ``requested``."""
    if start is None or end is None:
        return "hour" if requested == "auto" else requested
    finest: SeriesBucket = requested if requested != "auto" else "day"
    if requested == "auto" and end - start <= timedelta(hours=AUTO_HOURS):
        finest = "hour"
    for bucket in SERIES_BUCKETS[SERIES_BUCKETS.index(finest) :]:
        if bucket_count(bucket, start, end) <= MAX_SERIES_BUCKETS:
            return bucket
    return "year"


def _show(value: str) -> str:
    return repr(value if len(value) <= 60 else value[:57] + "...")


def _time(name: str, value: str, errors: list[str]) -> datetime | None:
    """An aware UTC datetime; a bound beyond what :class:`datetime` holds (year 0, or past 9999 once converted to
    UTC) is clamped to the first or last UTC instant it holds, and a leap second to the end of its minute."""
    match = _RFC3339.fullmatch(value)
    if match is not None:
        year, month, day, hour, minute, second = (int(part) for part in match.group(1, 2, 3, 4, 5, 6))
        fraction, offset = match.group(7) or "", match.group(8)
        leap = second == 60
        try:
            naive = datetime(max(year, 1), month, day, hour, minute, 59 if leap else second)
            naive += timedelta(microseconds=999_999 if leap else int((fraction[1:] + "000000")[:6] or 0))
        except ValueError:
            match = None  # no such day, hour or minute
        else:
            sign, hours, minutes = _offset(offset)
            if hours > 23 or minutes > 59:  # RFC 3339: time-numoffset is ("+" / "-") time-hour ":" time-minute
                errors.append(f"{name}={_show(value)}: expected a UTC offset from -23:59 to +23:59")
                return None
            if year == 0:
                return _EARLIEST
            try:
                return (naive - sign * timedelta(hours=hours, minutes=minutes)).replace(tzinfo=timezone.utc)
            except OverflowError:
                return _EARLIEST if sign > 0 else _LATEST  # before year 1, or after 9999
    errors.append(f"{name}={_show(value)}: expected an RFC 3339 date-time, such as 2026-01-15T12:00:00Z")
    return None


def _offset(text: str | None) -> tuple[int, int, int]:
    if text is None or text in "Zz":
        return 1, 0, 0
    return (-1 if text[0] == "-" else 1), int(text[1:3]), int(text[4:6])


def _integer(parameter: Parameter, value: str, errors: list[str]) -> int | None:
    low, high = parameter.schema["minimum"], parameter.schema["maximum"]
    if not _DIGITS.match(value) or not low <= int(value) <= high:
        errors.append(f"{parameter.name}={_show(value)}: expected an integer from {low} to {high}")
        return None
    return int(value)


def _choice(parameter: Parameter, value: str, errors: list[str]) -> str | None:
    choices: list[str] = parameter.schema["enum"]
    if value not in choices:
        errors.append(f"{parameter.name}={_show(value)}: expected one of {', '.join(choices)}")
        return None
    return value


def parse(
    items: Sequence[tuple[str, str]], instance_id: UUID, accepted: Sequence[Parameter] = FILTER_PARAMETERS
) -> Query:
    """The validated :class:`Query` of these ``(name, value)`` pairs, for the key's instance.

    :param accepted: the parameters the endpoint takes (any other is an error).
    :raises QueryError: listing every bad parameter.
    """
    known = {parameter.name: parameter for parameter in accepted}
    errors: list[str] = []
    seen: dict[str, str] = {}
    for name, value in items:
        if name not in known:
            errors.append(f"{_show(name)}: unknown parameter (expected {', '.join(known) or 'none'})")
        elif name in seen:
            errors.append(f"{name}={_show(value)}: given more than once")
        else:
            seen[name] = value
    values: dict[str, Any] = {}
    for name, value in seen.items():
        parameter = known[name]
        if parameter.schema.get("format") == "date-time":
            values[name] = _time(name, value, errors)
        elif parameter.schema["type"] == "integer":
            values[name] = _integer(parameter, value, errors)
        elif "enum" in parameter.schema:
            values[name] = _choice(parameter, value, errors)
        elif not 1 <= len(value) <= MAX_MODEL_LENGTH:
            errors.append(f"{name}={_show(value)}: expected 1 to {MAX_MODEL_LENGTH} characters")
        else:
            values[name] = value
    if errors:
        raise QueryError(errors)
    selected = StatsFilter(
        instance_id,
        start=values.get("from"),
        end=values.get("to"),
        model=values.get("model"),
        task_type=values.get("task_type"),
        harness=values.get("harness"),
    )
    defaults = {name: parameter.schema.get("default") for name, parameter in known.items()}
    return Query(
        selected,
        bucket=values.get("bucket") or defaults.get("bucket") or "auto",
        limit=values.get("limit") or defaults.get("limit") or 20,
        offset=values.get("offset") or 0,
    )
