"""Quality gates from shell commands: the documented pattern map.

A harness reports the commands its agent ran (Claude Code's Bash ``tool_result`` with ``OTEL_LOG_TOOL_DETAILS=1``).
:func:`gates_of` classifies one command line into the gates it runs — test, lint, typecheck, build, coverage,
security — by :data:`PATTERNS`, a regular expression per gate searched anywhere in the command (so ``cd x && pytest``
and ``uv run pytest`` count). One command may run several gates (``pytest --cov`` is test and coverage); a chained
command that failed fails every gate it ran. The command itself is never kept.
"""

from __future__ import annotations

import re

from ..enums import QualityGate

__all__ = ["PATTERNS", "gates_of"]

_S = r"(?:^|[\s;&|(/])"  # start of a word in a command line (also after a path: .venv/bin/pytest)
_E = r"(?=$|[\s;&|)])"

#: Gate → the commands that run it (documented in docs/otel.md).
PATTERNS: dict[QualityGate, re.Pattern[str]] = {
    QualityGate.TEST: re.compile(
        rf"{_S}(?:pytest|py\.test|tox|jest|vitest|mocha|rspec|phpunit|ctest|unittest)(?=$|[\s;&|)])"
        rf"|{_S}(?:npm|pnpm|yarn|bun)(?:\s+run)?\s+test{_E}"
        rf"|{_S}(?:go|cargo|mvn|gradle|\./gradlew|dotnet|mix|deno)\s+test{_E}"
        rf"|{_S}make\s+(?:test|check){_E}|{_S}nox\s+-s\s+tests?{_E}|{_S}python3?\s+-m\s+(?:pytest|unittest){_E}"
    ),
    QualityGate.LINT: re.compile(
        rf"{_S}(?:ruff\s+check|ruff\s+format\s+--check|flake8|pylint|eslint|golangci-lint|shellcheck|rubocop"
        rf"|stylelint|markdownlint|hadolint|biome\s+(?:check|lint)|black\s+--check|prettier\s+--check){_E}"
        rf"|{_S}cargo\s+clippy{_E}|{_S}(?:npm|pnpm|yarn|bun)(?:\s+run)?\s+lint{_E}|{_S}make\s+lint{_E}"
        rf"|{_S}nox\s+-s\s+lint{_E}"
    ),
    QualityGate.TYPECHECK: re.compile(
        rf"{_S}(?:mypy|pyright|basedpyright|pytype|tsc|vue-tsc|flow\s+check){_E}"
        rf"|{_S}(?:npm|pnpm|yarn|bun)(?:\s+run)?\s+(?:typecheck|type-check|types){_E}|{_S}cargo\s+check{_E}"
        rf"|{_S}nox\s+-s\s+(?:typecheck|mypy){_E}"
    ),
    QualityGate.BUILD: re.compile(
        rf"{_S}(?:npm|pnpm|yarn|bun)(?:\s+run)?\s+build{_E}|{_S}(?:cargo|go|docker|mvn|gradle|\./gradlew|dotnet)\s+"
        rf"(?:build|package|compile){_E}|{_S}python3?\s+-m\s+build{_E}|{_S}(?:make|cmake\s+--build|bazel\s+build)"
        rf"(?:$|\s*(?:[;&|)]|$))|{_S}make\s+(?:all|build){_E}|{_S}(?:uv|hatch|poetry)\s+build{_E}"
    ),
    QualityGate.COVERAGE: re.compile(
        rf"{_S}coverage\s+(?:run|report|xml|html){_E}|--cov(?:=|\s|$)|{_S}(?:npm|pnpm|yarn|bun)(?:\s+run)?\s+coverage{_E}"
        rf"|{_S}(?:jest|vitest)\b[^;&|]*--coverage|{_S}go\s+test\b[^;&|]*-cover|{_S}cargo\s+(?:tarpaulin|llvm-cov){_E}"
    ),
    QualityGate.SECURITY: re.compile(
        rf"{_S}(?:bandit|pip-audit|safety\s+check|semgrep|trivy|gitleaks|grype|snyk\s+test|gosec|govulncheck){_E}"
        rf"|{_S}(?:npm|pnpm|yarn)\s+audit{_E}|{_S}cargo\s+(?:audit|deny){_E}|{_S}ruff\s+check\b[^;&|]*--select[= ]S{_E}"
    ),
}


def gates_of(command: str) -> list[QualityGate]:
    """The gates ``command`` runs, in :class:`~..enums.QualityGate` order of :data:`PATTERNS` (empty: none)."""
    return [gate for gate, pattern in PATTERNS.items() if pattern.search(command)]
