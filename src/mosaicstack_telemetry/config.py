"""``TelemetryConfig``: every setting of the client, with the original SDK's defaults and environment variables."""

from __future__ import annotations

import copy
import dataclasses
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeGuard
from uuid import UUID

from ._version import __version__
from .batch import MAX_BATCH_SIZE
from .errors import TelemetryError
from .events import TaskCompletionEvent
from .predictions import PredictionQuery

#: ``before_send(event)`` returns the event to queue (the same one, changed or not, or another) or ``None`` to drop it.
BeforeSend = Callable[[TaskCompletionEvent], "TaskCompletionEvent | None"]

__all__ = [
    "ENV_API_KEY",
    "ENV_DEBUG",
    "ENV_ENABLED",
    "ENV_INSTANCE_ID",
    "ENV_SERVER_URL",
    "BeforeSend",
    "TelemetryConfig",
]

ENV_ENABLED = "MOSAIC_TELEMETRY_ENABLED"
ENV_DEBUG = "MOSAIC_TELEMETRY_DEBUG"
ENV_SERVER_URL = "MOSAIC_TELEMETRY_SERVER_URL"
ENV_API_KEY = "MOSAIC_TELEMETRY_API_KEY"
ENV_INSTANCE_ID = "MOSAIC_TELEMETRY_INSTANCE_ID"

_TRUTHY = frozenset({"1", "true", "yes"})
_API_KEY = re.compile(r"[0-9a-fA-F]{64}")


@dataclass
class TelemetryConfig:
    """All configuration of a :class:`~mosaicstack_telemetry.TelemetryClient`.

    A plain dataclass, as in the original SDK: constructing it never raises, whatever the values; :meth:`validate`
    lists what is wrong, and the client logs those problems once and keeps running. ``dataclasses.replace`` works.

    Environment variables are read in ``__post_init__``: ``MOSAIC_TELEMETRY_ENABLED`` (``1``, ``true`` or ``yes``,
    any case, mean on; anything else off) always overrides ``enabled``; ``MOSAIC_TELEMETRY_DEBUG`` set to ``1``,
    ``true`` or ``yes`` (any case) turns ``debug`` on, and leaves it as given otherwise; ``MOSAIC_TELEMETRY_SERVER_URL``,
    ``MOSAIC_TELEMETRY_API_KEY`` and ``MOSAIC_TELEMETRY_INSTANCE_ID`` fill only fields left empty. Trailing slashes
    are stripped from ``server_url``. The api key is never shown by ``repr``/``str`` nor echoed by ``validate()``.
    """

    #: Telemetry API base URL, e.g. ``https://tel-api.mosaicstack.dev`` (no trailing slash).
    server_url: str = ""
    #: 64-character hex API key, sent as ``Authorization: Bearer <api_key>``.
    api_key: str = field(default="", repr=False)
    #: UUID string identifying this Mosaic Stack instance; must match the key's instance on the server.
    instance_id: str = ""
    #: Master switch: when ``False``, ``track()`` drops events and no task, thread or HTTP client is created.
    enabled: bool = True
    #: How often queued events are sent (seconds); a full batch is sent at once regardless.
    submit_interval_seconds: float = 300.0
    #: Most events held in memory; when full, the oldest is evicted (and counted).
    max_queue_size: int = 1000
    #: Events per request, 1–100 (the server's maximum is 100).
    batch_size: int = MAX_BATCH_SIZE
    #: Overall deadline of one HTTP attempt (seconds), not a per-phase timeout.
    request_timeout_seconds: float = 10.0
    #: How long a fetched prediction stays in the cache (seconds; default 6 hours).
    prediction_cache_ttl_seconds: float = 21600.0
    #: Log each batch instead of sending it.
    dry_run: bool = False
    #: Retries of a failed request (timeouts, connection errors, 408, 429, 5xx) before the batch waits for the next cycle.
    max_retries: int = 3
    #: ``User-Agent`` header of every request.
    user_agent: str = f"mosaicstack-telemetry-python/{__version__}"
    #: Longest that stopping the client (or leaving its ``with`` block, or interpreter exit) may take to flush.
    shutdown_timeout_seconds: float = 10.0
    #: Called once per failed submission attempt with a ``TelemetryError`` (message has ``HTTP <status>`` when
    #: there is one), from the client's event loop: keep it quick. Its exceptions are logged and swallowed.
    on_error: Callable[[TelemetryError], object] | None = None
    #: Predictions to fetch as soon as the client starts (then kept fresh while they are read).
    prefetch_predictions: Sequence[PredictionQuery] = ()
    #: A directory for the durable spool (off when ``None``): unsent events are kept on disk, one file per process,
    #: and survive a crash or ``kill -9``; the next client started there sends what a dead process left.
    spool_path: str | os.PathLike[str] | None = None
    #: Most bytes of event JSON the spool keeps; beyond it the oldest unsent events are deleted (and counted).
    spool_max_bytes: int = 64 * 1024 * 1024
    #: Called as ``before_send(event)`` inside ``track()``, on the caller's thread, before the event is queued: return
    #: the event (changed or not) to send it, or ``None`` to drop it (counted, reason ``filtered``). The result is not
    #: validated again. If it raises, or returns something that is not an event, the original event is sent and the
    #: error logged (once per exception type). Keep it quick: it runs on every ``track()``. Not read from the
    #: environment.
    before_send: BeforeSend | None = None
    #: Print the library's log at DEBUG to stderr (one handler on the ``mosaicstack_telemetry`` logger, never the
    #: root logger): a line per batch sent, per retry and per drop reason; never the api key.
    debug: bool = False

    def __post_init__(self) -> None:
        enabled = os.environ.get(ENV_ENABLED)
        if enabled is not None:
            self.enabled = enabled.strip().lower() in _TRUTHY
        if os.environ.get(ENV_DEBUG, "").strip().lower() in _TRUTHY:
            self.debug = True
        if not self.server_url:
            self.server_url = os.environ.get(ENV_SERVER_URL, "")
        if not self.api_key:
            self.api_key = os.environ.get(ENV_API_KEY, "")
        if not self.instance_id:
            self.instance_id = os.environ.get(ENV_INSTANCE_ID, "")
        instance_id: object = self.instance_id
        if isinstance(instance_id, UUID):  # a UUID object is accepted as well as its string
            self.instance_id = str(instance_id)
        if isinstance(self.server_url, str):
            self.server_url = self.server_url.rstrip("/")

    def validate(self) -> list[str]:
        """Every problem with this configuration, one message each naming the field; ``[]`` when it is valid.

        Never raises. Messages show the offending value, except the api key's: they say what is wrong with it.
        """
        errors: list[str] = []
        url: object = self.server_url
        if not isinstance(url, str):
            errors.append(f"server_url={url!r} must be a string")
        elif not url:
            errors.append("server_url is required")
        elif not url.startswith(("http://", "https://")):
            errors.append(f"server_url={url!r} must start with http:// or https://")
        errors.extend(_api_key_problems(self.api_key))
        if not _is_uuid(self.instance_id):
            errors.append(f"instance_id={self.instance_id!r} is not a valid UUID")
        for name, is_good, rule in _NUMBERS:
            value = getattr(self, name)
            if not is_good(value):
                errors.append(f"{name}={value!r} {rule}")
        on_error: object = self.on_error
        if on_error is not None and not callable(on_error):
            errors.append(f"on_error={on_error!r} must be callable or None")
        before_send: object = self.before_send
        if before_send is not None and not callable(before_send):
            errors.append(f"before_send={before_send!r} must be callable or None")
        if not _is_spool_path(self.spool_path):
            errors.append(f"spool_path={self.spool_path!r} must be a directory path or None")
        prefetch: object = self.prefetch_predictions
        if not isinstance(prefetch, (list, tuple)) or not all(isinstance(query, PredictionQuery) for query in prefetch):
            errors.append(f"prefetch_predictions={prefetch!r} must be a list of PredictionQuery")
        return errors


def has_usable_server_url(config: TelemetryConfig) -> bool:
    """Whether ``server_url`` is something events can be sent to (an http or https URL)."""
    url: object = config.server_url
    return isinstance(url, str) and url.startswith(("http://", "https://"))


def problems_to_report(config: TelemetryConfig) -> list[str]:
    """What a client warns about: :meth:`TelemetryConfig.validate`'s problems, except — in a dry run, which sends
    nothing — server settings left empty."""
    problems = config.validate()
    if not config.dry_run:
        return problems
    unset = {name for name in ("server_url", "api_key", "instance_id") if not getattr(config, name)}
    return [problem for problem in problems if _field_of(problem) not in unset]


def _field_of(problem: str) -> str:
    """The field a ``validate()`` message is about: its first word, up to ``=`` (``"api_key is required"``)."""
    return problem.split(" ", 1)[0].split("=", 1)[0]


def with_usable_values(config: TelemetryConfig) -> TelemetryConfig:
    """A copy of ``config`` with every unusable number — and an unusable ``spool_path`` or ``before_send`` — replaced
    by its default: what the client runs on.

    ``validate()`` problems are logged, and — as in the original SDK — the client runs anyway, so ``batch_size=0`` or
    a negative interval must not wedge it (and a ``spool_path`` that is not a path means no spool). A copy, not
    ``dataclasses.replace``: that would run ``__post_init__`` (the environment overrides) a second time.
    """
    defaults = {field.name: field.default for field in dataclasses.fields(TelemetryConfig)}
    usable = copy.copy(config)
    for name, is_good, _rule in _NUMBERS:
        if not is_good(getattr(config, name)):
            setattr(usable, name, defaults[name])
    if not _is_spool_path(config.spool_path):
        usable.spool_path = None
    if not callable(config.before_send):
        usable.before_send = None
    return usable


def _is_spool_path(value: object) -> bool:
    """``None`` (no spool) or a non-empty path."""
    return value is None or (isinstance(value, (str, os.PathLike)) and bool(os.fspath(value)))


def _api_key_problems(key: object) -> list[str]:
    """What is wrong with the api key, described without ever repeating it."""
    if not isinstance(key, str) or not key:
        return ["api_key is required"]
    if len(key) != 64:
        return [f"api_key must be a 64-character hex string (it has {len(key)} characters)"]
    if not _API_KEY.fullmatch(key):
        return ["api_key must be a 64-character hex string (it has non-hex characters)"]
    return []


def _is_uuid(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        UUID(value)
    except ValueError:
        return False
    return True


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _positive(value: object) -> bool:
    return _is_number(value) and value > 0  # NaN is not > 0


#: The numeric settings, each with its test and the rule a message states: validate() reports against them, and
#: with_usable_values() puts the default in place of a value that fails.
_NUMBERS: tuple[tuple[str, Callable[[object], bool], str], ...] = (
    ("submit_interval_seconds", _positive, "must be a positive number"),
    ("request_timeout_seconds", _positive, "must be a positive number"),
    ("prediction_cache_ttl_seconds", _positive, "must be a positive number"),
    ("shutdown_timeout_seconds", _positive, "must be a positive number"),
    ("max_queue_size", lambda value: _is_int(value) and value > 0, "must be a positive integer"),
    (
        "batch_size",
        lambda value: _is_int(value) and 1 <= value <= MAX_BATCH_SIZE,
        f"must be between 1 and {MAX_BATCH_SIZE}",
    ),
    ("max_retries", lambda value: _is_int(value) and value >= 0, "must be a non-negative integer"),
    ("spool_max_bytes", lambda value: _is_int(value) and value > 0, "must be a positive integer"),
)
