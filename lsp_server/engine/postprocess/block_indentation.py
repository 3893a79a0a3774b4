"""Stop a multi-line suggestion where its block ends, judged by indentation.

The cursor's statement sets the level: the cursor's line, or, when the cursor sits on an
empty line, the first line the suggestion writes. Deeper lines belong to it; a line
further left ends it. After a block opener (`def f():`, `if (x) {`) a line at the
opener's own level ends the block too, except one closing line (`}`, `)`, `end`) that the
suggestion needs to close what the opener opened.
"""

from __future__ import annotations

from dataclasses import dataclass

from lsp_server.engine.postprocess.base import (
    Context,
    Mode,
    Suggestion,
    indent_width,
    is_closing_line,
    opens_block,
)


@dataclass(frozen=True)
class BlockCut:
    line: int  # index into the cursor-line-first list of lines
    keep_line: bool  # True: the line at `line` is a closing line that belongs to the block


def find_block_end(line_prefix: str, text: str, language: str = "", final: bool = True) -> BlockCut | None:
    """Where the block that the cursor's line starts ends, as an index into the lines of
    `line_prefix + text`.

    The opener rule applies when the user's own line opens a block (`def f():║`); when
    the suggestion writes a compound statement on an empty line, its level is the block.
    With final=False the last line may be incomplete; a cut is only reported once the
    lines it depends on are complete, so streaming and the full filter agree.
    """
    lines = (line_prefix + text).split("\n")
    first = next((index for index, line in enumerate(lines) if line.strip()), None)
    if first is None:
        return None
    opener = first == 0 and opens_block(line_prefix, language) and opens_block(lines[0], language)
    level = indent_width(lines[first])
    for index in range(first + 1, len(lines)):
        line = lines[index]
        if not line.strip():
            continue
        complete = final or index < len(lines) - 1
        width = indent_width(line)
        if width > level or (width == level and not opener):
            continue
        if opener and width == level:
            if not complete and _may_become_closing(line):
                return None  # wait: a partial "e" may still become "end"
            if complete and is_closing_line(line):
                return BlockCut(index, keep_line=True)
        return BlockCut(index, keep_line=False)
    return None


def _may_become_closing(partial_line: str) -> bool:
    start = partial_line.lstrip()
    return start[:1] in (")", "]", "}") or "end".startswith(start[:3])


def cut_lines(suggestion_text: str, line_prefix: str, cut: BlockCut) -> str:
    lines = (line_prefix + suggestion_text).split("\n")
    kept = lines[: cut.line + 1] if cut.keep_line else lines[: cut.line]
    return "\n".join(kept)[len(line_prefix) :].rstrip()


def stop_at_block_end(suggestion: Suggestion, context: Context) -> Suggestion:
    if context.mode is not Mode.MULTI_LINE or "\n" not in suggestion.text:
        return suggestion
    cut = find_block_end(context.line_prefix, suggestion.text, context.language)
    if cut is None:
        return suggestion
    return Suggestion(cut_lines(suggestion.text, context.line_prefix, cut))
