"""The schema's enumerations, exactly as the API reference lists them.

Every enum mixes in ``str`` (Python 3.10 has no ``StrEnum``), so a member compares equal to the lowercase string the
server expects (``Provider.ANTHROPIC == "anthropic"``), ``TaskType("testing")`` looks a member up by its wire value,
and :func:`json.dumps` writes the value without any hook.
"""

from __future__ import annotations

from enum import Enum

__all__ = [
    "Complexity",
    "Harness",
    "Outcome",
    "Provider",
    "QualityGate",
    "RepoSizeCategory",
    "TaskType",
]


class _WireEnum(str, Enum):
    """A ``str`` enum whose ``str()`` is its wire value on every Python version (3.11 changed ``format``)."""

    def __str__(self) -> str:
        return str(self.value)


class TaskType(_WireEnum):
    """The kind of work an AI coding task performed."""

    PLANNING = "planning"
    IMPLEMENTATION = "implementation"
    CODE_REVIEW = "code_review"
    TESTING = "testing"
    DEBUGGING = "debugging"
    REFACTORING = "refactoring"
    DOCUMENTATION = "documentation"
    CONFIGURATION = "configuration"
    SECURITY_AUDIT = "security_audit"
    UNKNOWN = "unknown"


class Complexity(_WireEnum):
    """How complex the task was."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Harness(_WireEnum):
    """The coding tool or execution environment that ran the task."""

    CLAUDE_CODE = "claude_code"
    OPENCODE = "opencode"
    KILO_CODE = "kilo_code"
    AIDER = "aider"
    API_DIRECT = "api_direct"
    OLLAMA_LOCAL = "ollama_local"
    CUSTOM = "custom"
    UNKNOWN = "unknown"


class Provider(_WireEnum):
    """The LLM provider that served the model."""

    ANTHROPIC = "anthropic"
    OPENAI = "openai"
    OPENROUTER = "openrouter"
    OLLAMA = "ollama"
    GOOGLE = "google"
    MISTRAL = "mistral"
    CUSTOM = "custom"
    UNKNOWN = "unknown"


class Outcome(_WireEnum):
    """The final result of the task."""

    SUCCESS = "success"
    FAILURE = "failure"
    PARTIAL = "partial"
    TIMEOUT = "timeout"


class QualityGate(_WireEnum):
    """A quality gate that may run after a task."""

    BUILD = "build"
    LINT = "lint"
    TEST = "test"
    COVERAGE = "coverage"
    TYPECHECK = "typecheck"
    SECURITY = "security"


class RepoSizeCategory(_WireEnum):
    """The repository's size bucket, by lines of code."""

    TINY = "tiny"
    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"
    HUGE = "huge"
