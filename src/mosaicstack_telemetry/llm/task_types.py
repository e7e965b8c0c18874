"""Which :class:`~mosaicstack_telemetry.TaskType` a call served: a hint when given, else read from the call.

Order, first answer wins:

1. the ``task_type`` argument of the call's entry point (``llm_call``, ``track_llm``, ``wrap_stream``, ``instrument``);
2. :func:`task_hint`, a context variable set around a block of calls (it follows ``await`` and tasks started inside
   the block, on asyncio and trio alike);
3. an embeddings call → :data:`EMBEDDINGS_TASK_TYPE` (retrieval feeds planning);
4. the system prompt (Anthropic ``system``, an OpenAI ``system``/``developer`` message, Responses ``instructions``,
   Ollama's system message or ``system``) against :data:`KEYWORDS`, in its order;
5. ``unknown``.
"""

from __future__ import annotations

import contextvars
import functools
import re
from collections.abc import Iterator
from contextlib import contextmanager

from ..enums import Complexity, TaskType

__all__ = ["EMBEDDINGS_TASK_TYPE", "KEYWORDS", "Hint", "current_hint", "infer_task_type", "task_hint"]

#: What an embeddings call counts as.
EMBEDDINGS_TASK_TYPE = TaskType.PLANNING

#: System-prompt keywords per task type, checked in this order (the first type with a match wins); each is a regular
#: expression matched case-insensitively at a word start. Specific kinds of work come before the generic ones, so
#: "review this code for security vulnerabilities" is a security audit and "write tests for" is testing.
KEYWORDS: tuple[tuple[TaskType, tuple[str, ...]], ...] = (
    (TaskType.SECURITY_AUDIT, ("security", "vulnerab", "threat model", "pentest", "penetration test", "owasp", "cve")),
    (TaskType.CODE_REVIEW, ("review", "pull request", "code critique")),
    (TaskType.DEBUGGING, ("debug", "bug", "stack trace", "traceback", "root cause", "crash", "diagnos")),
    (TaskType.TESTING, ("test", "pytest", "unit test", "qa ", "coverage")),
    (TaskType.REFACTORING, ("refactor", "restructur", "clean up", "cleanup", "simplif")),
    (TaskType.DOCUMENTATION, ("document", "docstring", "readme", "technical writ", "changelog")),
    (TaskType.CONFIGURATION, ("configur", "ci/cd", "dockerfile", "kubernetes", "terraform", "deploy")),
    (TaskType.PLANNING, ("plan", "architect", "design", "roadmap", "break down", "brainstorm", "specification")),
    (TaskType.IMPLEMENTATION, ("implement", "write code", "generate code", "code generation", "programmer",
                               "software engineer", "coding assistant", "developer")),
)  # fmt: skip

_PATTERNS = tuple(
    (task_type, re.compile(r"\b(?:" + "|".join(re.escape(word) for word in words) + ")", re.IGNORECASE))
    for task_type, words in KEYWORDS
)
#: Only the start of a system prompt is read (its role statement); long prompts cost no more.
_PROMPT_PREFIX = 2_000


class Hint:
    """What :func:`task_hint` set: a task type, and optionally a complexity."""

    __slots__ = ("complexity", "task_type")

    def __init__(self, task_type: TaskType | None, complexity: Complexity | None) -> None:
        self.task_type = task_type
        self.complexity = complexity


_HINT: contextvars.ContextVar[Hint | None] = contextvars.ContextVar("mosaicstack_telemetry_llm_hint", default=None)


@contextmanager
def task_hint(task_type: TaskType | str | None = None, *, complexity: Complexity | str | None = None) -> Iterator[None]:
    """Report every LLM call in this block (this task, and tasks it starts) as ``task_type`` / ``complexity``.

    :raises ValueError: for a value that is not a task type / complexity (a typo should fail where it is written).
    """
    hint = Hint(
        None if task_type is None else TaskType(task_type),
        None if complexity is None else Complexity(complexity),
    )
    token = _HINT.set(hint)
    try:
        yield
    finally:
        _HINT.reset(token)


def current_hint() -> Hint | None:
    """The innermost :func:`task_hint` in effect, if any."""
    return _HINT.get()


def infer_task_type(*, embeddings: bool = False, system_prompt: str | None = None) -> TaskType:
    """Steps 3–5 of the module docstring (the hints are the caller's to apply first)."""
    if embeddings:
        return EMBEDDINGS_TASK_TYPE
    if not system_prompt:
        return TaskType.UNKNOWN
    return _from_prompt(system_prompt[:_PROMPT_PREFIX])


@functools.lru_cache(maxsize=256)
def _from_prompt(prompt: str) -> TaskType:
    """Cached: the same system prompt comes with every call of a conversation."""
    for task_type, pattern in _PATTERNS:
        if pattern.search(prompt):
            return task_type
    return TaskType.UNKNOWN
