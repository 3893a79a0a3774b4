"""What every post-processing filter sees: the suggestion and the cursor's surroundings.

    Suggestion(text: str)
    Context.create(prefix, suffix, language="", special_texts=(), multiline=True) -> Context
    Filter = Callable[[Suggestion, Context], Suggestion]
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

TAB_WIDTH = 4
_BLOCK_OPENER = re.compile(r"(?:[{(\[]|=>|\bdo|\bthen)\s*$")
# In Python a trailing ":" opens a block only after a compound statement's keyword;
# elsewhere (dict literals, JS objects, TS types) it starts a value on the same line.
_PYTHON_COMPOUND = re.compile(
    r"^\s*(?:async\s+)?(?:def|class|if|elif|else|for|while|try|except|finally|with|match|case|lambda)\b.*:\s*$"
)
_CLOSING_LINE = re.compile(r"^\s*(?:[)\]}]|end\b)")


class Mode(str, enum.Enum):
    SINGLE_LINE = "single-line"
    MULTI_LINE = "multi-line"


@dataclass(frozen=True)
class Suggestion:
    text: str  # inserted at the cursor


@dataclass(frozen=True)
class Context:
    prefix: str  # document text before the cursor
    suffix: str  # document text after the cursor
    language: str = ""  # LSP languageId
    mode: Mode = Mode.SINGLE_LINE
    special_texts: tuple[str, ...] = ()  # the model's special-token spellings (Family.special_texts)
    indent_unit: str | None = None  # the document's indentation step (a tab or spaces); None: unknown
    held_back: str = ""  # Prompt.held_back: whitespace the model was left to write itself

    @classmethod
    def create(
        cls,
        prefix: str,
        suffix: str,
        language: str = "",
        special_texts: tuple[str, ...] = (),
        multiline: bool = True,
        held_back: str = "",
    ) -> "Context":
        mode = decide_mode(prefix, suffix, language) if multiline else Mode.SINGLE_LINE
        return cls(
            prefix, suffix, language, mode, tuple(special_texts), detect_indent_unit(prefix, suffix), held_back
        )

    @cached_property
    def line_prefix(self) -> str:
        """Text of the cursor's line before the cursor."""
        return self.prefix[self.prefix.rfind("\n") + 1 :]

    @cached_property
    def line_suffix(self) -> str:
        """Text of the cursor's line after the cursor."""
        end = self.suffix.find("\n")
        return self.suffix if end < 0 else self.suffix[:end]

    @cached_property
    def next_lines(self) -> list[str]:
        """Lines after the cursor's line (a bounded number)."""
        return self.suffix.split("\n", 60)[1:60]


Filter = Callable[[Suggestion, Context], Suggestion]


def decide_mode(prefix: str, suffix: str, language: str = "") -> Mode:
    """Multi-line at an empty line after a block opener or at the end of an opener line."""
    line_prefix = prefix[prefix.rfind("\n") + 1 :]
    end = suffix.find("\n")
    line_suffix = suffix if end < 0 else suffix[:end]
    if line_suffix.strip():
        return Mode.SINGLE_LINE
    if line_prefix.strip():
        return Mode.MULTI_LINE if opens_block(line_prefix, language) else Mode.SINGLE_LINE
    previous = next((line for line in reversed(prefix.split("\n")[:-1]) if line.strip()), None)
    if previous is None or opens_block(previous, language):
        return Mode.MULTI_LINE
    return Mode.SINGLE_LINE


def opens_block(line: str, language: str = "") -> bool:
    code = strip_line_comment(line, language)
    if language.lower() == "python" and _PYTHON_COMPOUND.match(code):
        return True
    return bool(_BLOCK_OPENER.search(code))


def is_closing_line(line: str) -> bool:
    return bool(_CLOSING_LINE.match(line))


_HASH_COMMENT_LANGUAGES = frozenset({"python", "ruby", "shellscript", "perl", "r", "yaml", "toml", "elixir"})


def strip_line_comment(line: str, language: str = "") -> str:
    """The line without a trailing comment (good enough outside string literals)."""
    marker = " #" if language.lower() in _HASH_COMMENT_LANGUAGES else " //"
    at = line.find(marker)
    return (line if at < 0 else line[:at]).rstrip()


def indent_width(line: str) -> int:
    whitespace = line[: len(line) - len(line.lstrip(" \t"))]
    return len(whitespace.expandtabs(TAB_WIDTH))


def leading_whitespace(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def detect_indent_unit(prefix: str, suffix: str, sample_lines: int = 400) -> str | None:
    """The document's indentation step: a tab, the most common increase in spaces, or None."""
    lines = [line for line in (prefix.split("\n")[-sample_lines:] + suffix.split("\n")[:sample_lines]) if line.strip()]
    tab_lines = sum(1 for line in lines if line.startswith("\t"))
    space_lines = sum(1 for line in lines if line.startswith(" "))
    if tab_lines > space_lines:
        return "\t"
    steps: dict[int, int] = {}
    previous = 0
    for line in lines:
        width = indent_width(line)
        if width > previous:
            steps[width - previous] = steps.get(width - previous, 0) + 1
        previous = width
    if not steps:
        return None
    step = max(sorted(steps), key=lambda size: steps[size])
    return " " * step if 1 < step <= 8 else None
