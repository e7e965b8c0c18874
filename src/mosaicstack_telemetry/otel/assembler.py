"""Log records in, one task event per completed prompt out: grouping, once-only, completion and the memory bound.

:class:`PromptAssembler` is synchronous and clock-free: every call takes ``now`` (seconds on any monotonic clock),
so the bridge drives it from its event loop and tests drive it by hand. Rules (docs/otel.md):

* a record counts once: its :func:`~.extract.identity` is remembered in a bounded window (exporter retries);
* a task is one (session, prompt id); a record without a prompt id joins its session's open prompt whose
  ``user_prompt`` is the latest at or before its time (else it is counted ``unattributed``);
* records may arrive split across requests, out of order, before their ``user_prompt``;
* a prompt completes when its session's next ``user_prompt`` arrives, when no record came for ``idle_timeout``
  seconds (:meth:`expire`), when more than ``max_open_prompts`` are open (the least recently active one, counted
  ``evicted``), or at :meth:`complete_all` (shutdown); records of a completed prompt that come later are counted
  ``late`` and ignored;
* every completed prompt that made a model call becomes one event handed to ``emit``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..enums import Complexity, TaskType
from ..events import TaskCompletionEvent
from ..llm.pricing import Pricer
from .dedup import SeenKeys
from .extract import Mapped, extract, identity
from .harness import HARNESSES, HarnessTable, Kind
from .prompt import PromptState
from .records import LogRecord
from .stats import BridgeStats
from .values import MalformedValueError

__all__ = ["DEFAULT_IDLE_TIMEOUT", "DEFAULT_MAX_OPEN_PROMPTS", "PromptAssembler"]

DEFAULT_IDLE_TIMEOUT = 300.0
DEFAULT_MAX_OPEN_PROMPTS = 10_000
_SEEN_WINDOW = 200_000
_COMPLETED_WINDOW = 100_000

_log = logging.getLogger(__name__)
_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
_Key = tuple[str, str, str]  # (harness prefix, session, prompt key)


class PromptAssembler:
    """Open prompts of every session, completed into events handed to ``emit``.

    :param emit: called with each task event (the bridge passes ``TelemetryClient.track``).
    :param instance_id: the events' instance.
    :param tables: the harnesses understood (default: Claude Code, Gemini CLI, Codex CLI).
    :param task_type: the events' task type unless inferred (``infer_task_type``: from the prompt text when the
        user exported it; the text is then dropped).
    :param pricer: prices a request that carries no cost (default: the ``llm`` pricer).
    """

    def __init__(
        self,
        emit: Callable[[TaskCompletionEvent], Any],
        *,
        instance_id: str,
        tables: Sequence[HarnessTable] = HARNESSES,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        max_open_prompts: int = DEFAULT_MAX_OPEN_PROMPTS,
        task_type: TaskType | str = TaskType.UNKNOWN,
        complexity: Complexity | str = Complexity.MEDIUM,
        infer_task_type: bool = False,
        pricer: Pricer | None = None,
        stats: BridgeStats | None = None,
    ) -> None:
        if not idle_timeout > 0:
            raise ValueError(f"idle_timeout must be positive, got {idle_timeout!r}")
        if max_open_prompts < 1:
            raise ValueError(f"max_open_prompts must be at least 1, got {max_open_prompts!r}")
        self._emit = emit
        self._instance_id = str(instance_id)
        self._tables = tuple(tables)
        self._idle = idle_timeout
        self._max_open = max_open_prompts
        self._task_type = TaskType(task_type)
        self._complexity = Complexity(complexity)
        self._infer = infer_task_type
        self._pricer = pricer if pricer is not None else Pricer()
        self.stats = stats if stats is not None else BridgeStats()
        self._seen = SeenKeys(_SEEN_WINDOW)
        self._completed = SeenKeys(_COMPLETED_WINDOW)
        #: open prompts, least recently active first
        self._open: dict[_Key, tuple[HarnessTable, PromptState]] = {}
        self._sessions: dict[tuple[str, str], dict[str, None]] = {}

    @property
    def open_prompts(self) -> int:
        return len(self._open)

    def add(self, records: Iterable[LogRecord], now: float) -> tuple[int, str]:
        """Take ``records``; returns how many were rejected as unreadable, and the first reason."""
        rejected, first_error = 0, ""
        for record in records:
            try:
                self._add(record, now)
            except MalformedValueError as error:
                self.stats.rejected += 1
                rejected += 1
                first_error = first_error or str(error)
        self._evict()
        return rejected, first_error

    def _add(self, record: LogRecord, now: float) -> None:
        stats = self.stats
        stats.records_received += 1
        for table in self._tables:
            name = table.event_name(record)
            if name is not None:
                break
        else:
            stats.ignore(_name_of(record))
            return
        kind = table.kind_of(name, record)
        if kind is None:
            stats.ignore(table.prefix + name)
            return
        key = identity(table, name, record)
        if key in self._seen:
            stats.duplicates += 1
            return
        fact = extract(table, kind, record, infer_task=self._infer)  # may raise MalformedValueError: not remembered
        self._seen.add(key)
        prompt_key = self._prompt_key(table, fact)
        if prompt_key is None:
            stats.unattributed += 1
            return
        full_key = (table.prefix, fact.session, prompt_key)
        if hash(full_key) in self._completed:
            stats.late += 1
            return
        stats.records_mapped += 1
        if kind is Kind.PROMPT:
            self._complete_earlier(table, fact)
        found = self._open.pop(full_key, None)
        state = found[1] if found else PromptState(fact.session, prompt_key, now)
        state.last_arrival = now
        state.add(fact, self._pricer, table.provider.value)
        self._open[full_key] = (table, state)  # re-inserted: most recently active last
        self._sessions.setdefault((table.prefix, fact.session), {})[prompt_key] = None

    def _prompt_key(self, table: HarnessTable, fact: Mapped) -> str | None:
        if fact.prompt_id is not None:
            return fact.prompt_id
        if fact.kind is Kind.PROMPT:  # a harness version without prompt ids: the prompt is named by its time
            return f"@{fact.time_unix_nano}:{fact.sequence}"
        best: tuple[int, str] | None = None
        for key in self._sessions.get((table.prefix, fact.session), ()):
            state = self._open[(table.prefix, fact.session, key)][1]
            started = state.prompt_time
            if started is not None and started <= fact.time_unix_nano and (best is None or started > best[0]):
                best = (started, key)
        return best[1] if best else None

    def _complete_earlier(self, table: HarnessTable, fact: Mapped) -> None:
        keys = self._sessions.get((table.prefix, fact.session), {})
        for key in list(keys):
            state = self._open[(table.prefix, fact.session, key)][1]
            if key != fact.prompt_id and state.prompt_time is not None and state.prompt_time < fact.time_unix_nano:
                self._complete((table.prefix, fact.session, key), "next_prompt")

    def _evict(self) -> None:
        while len(self._open) > self._max_open:
            self._complete(next(iter(self._open)), "evicted")

    def expire(self, now: float) -> int:
        """Complete every prompt idle for ``idle_timeout`` seconds at ``now``; returns how many."""
        expired = []
        for key, (_, state) in self._open.items():  # least recently active first
            if now - state.last_arrival < self._idle:
                break
            expired.append(key)
        for key in expired:
            self._complete(key, "idle")
        return len(expired)

    def complete_all(self, reason: str = "shutdown") -> int:
        """Complete every open prompt (shutdown, flush); returns how many."""
        keys = list(self._open)
        for key in keys:
            self._complete(key, reason)
        return len(keys)

    def _complete(self, key: _Key, reason: str) -> None:
        table, state = self._open.pop(key)
        session_key = (key[0], key[1])
        prompts = self._sessions[session_key]
        del prompts[key[2]]
        if not prompts:
            del self._sessions[session_key]
        self._completed.add(hash(key))  # a hash: the window holds no session ids
        self.stats.prompts_completed[reason] += 1
        try:
            event = state.event(
                table,
                instance_id=self._instance_id,
                task_type=self._task_type,
                complexity=self._complexity,
            )
        except (ValueError, OverflowError, OSError) as error:  # a time no datetime can hold, a value out of range
            self.stats.prompts_invalid += 1
            _log.warning("a completed prompt made no valid event: %s", error)
            return
        if event is None:
            self.stats.prompts_without_model += 1
            return
        self.stats.events_tracked += 1
        self._emit(event)


def _name_of(record: LogRecord) -> str:
    """The record's event name for the ignored counter; a body that is not a name (log text) is never kept."""
    for candidate in (record.event_name, record.body, record.attributes.get("event.name")):
        if isinstance(candidate, str) and _NAME.fullmatch(candidate):
            return candidate
    return "<unnamed>"
