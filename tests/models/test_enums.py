"""The seven enums: exactly the API reference's members and values, all ``str``-valued."""

from __future__ import annotations

import json
from enum import Enum
from typing import Any

import pytest

from mosaicstack_telemetry import (
    Complexity,
    Harness,
    Outcome,
    Provider,
    QualityGate,
    RepoSizeCategory,
    TaskType,
)

# The API reference's "Enumerations" section, member name → value, written out.
DOCUMENTED: dict[type[Enum], dict[str, str]] = {
    TaskType: {
        "PLANNING": "planning",
        "IMPLEMENTATION": "implementation",
        "CODE_REVIEW": "code_review",
        "TESTING": "testing",
        "DEBUGGING": "debugging",
        "REFACTORING": "refactoring",
        "DOCUMENTATION": "documentation",
        "CONFIGURATION": "configuration",
        "SECURITY_AUDIT": "security_audit",
        "UNKNOWN": "unknown",
    },
    Complexity: {
        "LOW": "low",
        "MEDIUM": "medium",
        "HIGH": "high",
        "CRITICAL": "critical",
    },
    Harness: {
        "CLAUDE_CODE": "claude_code",
        "OPENCODE": "opencode",
        "KILO_CODE": "kilo_code",
        "AIDER": "aider",
        "API_DIRECT": "api_direct",
        "OLLAMA_LOCAL": "ollama_local",
        "CUSTOM": "custom",
        "UNKNOWN": "unknown",
    },
    Provider: {
        "ANTHROPIC": "anthropic",
        "OPENAI": "openai",
        "OPENROUTER": "openrouter",
        "OLLAMA": "ollama",
        "GOOGLE": "google",
        "MISTRAL": "mistral",
        "CUSTOM": "custom",
        "UNKNOWN": "unknown",
    },
    Outcome: {
        "SUCCESS": "success",
        "FAILURE": "failure",
        "PARTIAL": "partial",
        "TIMEOUT": "timeout",
    },
    QualityGate: {
        "BUILD": "build",
        "LINT": "lint",
        "TEST": "test",
        "COVERAGE": "coverage",
        "TYPECHECK": "typecheck",
        "SECURITY": "security",
    },
    RepoSizeCategory: {
        "TINY": "tiny",
        "SMALL": "small",
        "MEDIUM": "medium",
        "LARGE": "large",
        "HUGE": "huge",
    },
}
ENUM_IDS = [enum.__name__ for enum in DOCUMENTED]
MEMBERS = [(enum, name, value) for enum, table in DOCUMENTED.items() for name, value in table.items()]
MEMBER_IDS = [f"{enum.__name__}.{name}" for enum, name, _ in MEMBERS]


def test_there_are_seven_enums() -> None:
    """The reference documents seven enums."""
    assert 7 == len(DOCUMENTED)


@pytest.mark.parametrize(("enum", "table"), DOCUMENTED.items(), ids=ENUM_IDS)
def test_enum_has_exactly_the_documented_members(enum: type[Enum], table: dict[str, str]) -> None:
    """Each enum has exactly the documented members, in the documented order, with the documented values."""
    assert table == {member.name: member.value for member in enum}
    assert list(table) == [member.name for member in enum]
    assert len(table) == len(enum)


@pytest.mark.parametrize(("enum", "table"), DOCUMENTED.items(), ids=ENUM_IDS)
def test_enum_is_a_str_enum(enum: type[Enum], table: dict[str, str]) -> None:
    """Each enum mixes in ``str`` (Python 3.10 compatible, no StrEnum needed)."""
    assert issubclass(enum, str)
    assert issubclass(enum, Enum)


@pytest.mark.parametrize(("enum", "name", "value"), MEMBERS, ids=MEMBER_IDS)
def test_member_behaves_as_its_value_string(enum: type[Enum], name: str, value: str) -> None:
    """A member equals its value, is looked up by it, and prints, formats and JSON-encodes as it."""
    member: Any = enum[name]
    assert value == member.value
    assert value == member
    assert member is enum(value)
    assert value == str(member)
    assert value == f"{member}"
    assert value == format(member)
    assert f'"{value}"' == json.dumps(member)
    assert hash(value) == hash(member)
    assert isinstance(member, str)


def test_documented_examples() -> None:
    """The examples from the reference and the issue hold literally."""
    # mypy thinks a str enum member never equals a str literal: the point of this test is that it does.
    assert Provider.ANTHROPIC == "anthropic"  # type: ignore[comparison-overlap]
    assert TaskType("testing") is TaskType.TESTING
    assert '"anthropic"' == json.dumps(Provider.ANTHROPIC)
    assert "anthropic" == str(Provider.ANTHROPIC)
    assert {"anthropic": 1}[Provider.ANTHROPIC] == 1


@pytest.mark.parametrize(("enum", "table"), DOCUMENTED.items(), ids=ENUM_IDS)
def test_unknown_value_and_member_name_are_not_values(enum: type[Enum], table: dict[str, str]) -> None:
    """Lookup is by the lowercase value only: a member name or an unknown string raises ValueError."""
    with pytest.raises(ValueError, match="bogus"):
        enum("bogus")
    with pytest.raises(ValueError, match=next(iter(table))):
        enum(next(iter(table)))


def test_json_dumps_of_a_structure_with_members() -> None:
    """Members anywhere in a structure are written by the stdlib json as their values, without a hook."""
    assert '{"gates": ["lint", "test"], "provider": "openai"}' == json.dumps(
        {"gates": [QualityGate.LINT, QualityGate.TEST], "provider": Provider.OPENAI}
    )
