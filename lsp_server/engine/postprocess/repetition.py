"""Cut the suggestion where the model starts looping.

Small models fall into loops: the same line again and again, the same few lines again,
or one phrase repeated inside a line. Keep the first copy, drop the rest. Two equal
short lines (`}`, `pass`) are ordinary code, so one line has to come three times, or a
block of several lines twice, before it counts as a loop.
"""

from __future__ import annotations

import re

from lsp_server.engine.postprocess.base import Context, Suggestion

_MAX_BLOCK_LINES = 6
_MIN_LINE_CHARS = 4
# A phrase of 3+ characters repeated 4+ more times in a row (on one line); only phrases
# with a letter or digit count: runs of spaces, "=====" banners and ")))" are ordinary.
_REPEATED_PHRASE = re.compile(r"([^\n]{3,30}?)\1{4,}")


def loop_start(lines: list[str]) -> int | None:
    """Index of the first line that repeats the block right before it, or None."""
    for index in range(1, len(lines)):
        for size in range(1, min(_MAX_BLOCK_LINES, index) + 1):
            block = lines[index - size : index]
            if sum(len(line.strip()) for line in block) < _MIN_LINE_CHARS:
                continue
            copies = 1
            while lines[index + (copies - 1) * size : index + copies * size] == block:
                copies += 1
            needed = 3 if size == 1 else 2
            if copies >= needed:
                return index
    return None


def cut_repetition(suggestion: Suggestion, context: Context) -> Suggestion:
    text = suggestion.text
    lines = text.split("\n")
    start = loop_start(lines)
    if start is not None:
        text = "\n".join(lines[:start])
    phrase = next((m for m in _REPEATED_PHRASE.finditer(text) if any(c.isalnum() for c in m.group(1))), None)
    if phrase is not None:
        text = text[: phrase.start() + len(phrase.group(1))]
    return suggestion if text == suggestion.text else Suggestion(text.rstrip())
