"""Fenced code blocks of a Markdown file, with the marker that may precede each one."""

from __future__ import annotations

import re
from pathlib import Path

import attrs

#: ``<!-- not-runnable: reason -->`` on the last non-blank line before a fence.
NOT_RUNNABLE = re.compile(r"<!--\s*not-runnable:\s*(?P<reason>.*?)\s*-->")
#: ``<!-- continues the page -->`` (any words after ``continues``) on the last non-blank line before a fence: the block is
#: a fragment that uses what earlier blocks of the page defined.
CONTINUES = re.compile(r"<!--\s*continues\b.*?-->")
#: A block that includes a file with pymdownx.snippets and nothing else.
SNIPPET = re.compile(r'--8<--\s+"(?P<path>[^"]+)"')
_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*)$")


@attrs.frozen
class CodeBlock:
    """One fenced block: where it starts (the 1-based line of its first code line), its language and code."""

    path: Path
    line: int
    language: str
    code: str
    #: the reason given by a ``not-runnable`` marker, or ``None``
    not_runnable: str | None
    #: marked ``<!-- continues the page -->``: a fragment, run after (and with the names of) the blocks before it
    continues: bool = False

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"

    @property
    def included_file(self) -> str | None:
        """The path a snippet-include block includes (``--8<-- "examples/x.py"``), or ``None``."""
        match = SNIPPET.fullmatch(self.code.strip())
        return match.group("path") if match else None


def code_blocks(path: Path) -> list[CodeBlock]:
    """Every fenced block of ``path`` in order, dedented by its fence's indentation."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[CodeBlock] = []
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        indent, fence = opening.group("indent"), opening.group("fence")
        language = (opening.group("info").split() or [""])[0].lower()
        body: list[str] = []
        end = index + 1
        while end < len(lines) and lines[end].strip() != fence:
            body.append(lines[end][len(indent) :] if lines[end].startswith(indent) else lines[end].lstrip())
            end += 1
        if end == len(lines):
            raise ValueError(f"{path}:{index + 1}: unclosed code fence")
        marker = _marker_line(lines, index)
        match = NOT_RUNNABLE.fullmatch(marker)
        blocks.append(
            CodeBlock(
                path,
                index + 2,
                language,
                "\n".join(body) + "\n",
                not_runnable=match.group("reason") if match else None,
                continues=CONTINUES.fullmatch(marker) is not None,
            )
        )
        index = end + 1
    return blocks


def _marker_line(lines: list[str], fence_index: int) -> str:
    """The last non-blank line before the fence, stripped ("" at the start of the file)."""
    previous = fence_index - 1
    while previous >= 0 and not lines[previous].strip():
        previous -= 1
    return lines[previous].strip() if previous >= 0 else ""
