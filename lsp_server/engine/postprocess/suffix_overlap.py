"""Drop the part of a suggestion that the text after the cursor already has.

Two cases: the model writes the rest of the cursor's line again (`foo(|, b)` completed as
`a, b)`, `{total:.2f}")` before `}")`), or a multi-line suggestion runs into the lines
that follow the cursor (it writes the `}` or the `return` that is already there). The
rest of the line is only taken off when what remains closes every bracket it opens:
`foo()` before `)` stays, `foo())` loses one.
"""

from __future__ import annotations

from lsp_server.engine.postprocess.base import Context, Suggestion

_OPEN = "([{"
_CLOSE = ")]}"


def closes_what_it_opens(text: str) -> bool:
    """True when `text` (outside string literals) never closes more than it opened and ends balanced."""
    depth = 0
    quote: str | None = None
    for char in text:
        if quote is not None:
            if char == quote:
                quote = None
            continue
        if char in "\"'`":
            quote = char
        elif char in _OPEN:
            depth += 1
        elif char in _CLOSE:
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


def _first_nonblank(lines: list[str]) -> str | None:
    return next((line.rstrip() for line in lines if line.strip()), None)


def _is_closers_only(line: str) -> bool:
    return bool(line.strip()) and all(char in _CLOSE or char in " \t;,)" for char in line)


def drop_suffix_overlap(suggestion: Suggestion, context: Context) -> Suggestion:
    text = suggestion.text
    rest_of_line = context.line_suffix.strip()
    trimmed = text.rstrip()
    if rest_of_line and "\n" not in trimmed and trimmed.endswith(rest_of_line):
        remaining = trimmed[: len(trimmed) - len(rest_of_line)]
        if closes_what_it_opens(remaining):
            text = remaining
    lines = text.split("\n")
    next_line = _first_nonblank(context.next_lines)
    if next_line is not None and len(lines) > 1:
        for index in range(1, len(lines)):
            if lines[index].rstrip() == next_line:
                text = "\n".join(lines[:index]).rstrip()
                break
        lines = text.split("\n")
        if len(lines) > 1 and _is_closers_only(lines[-1]) and next_line.startswith(lines[-1].rstrip()):
            text = "\n".join(lines[:-1]).rstrip()  # "}" before the suffix's "} else {" / "}()"
    if text.strip() and (context.line_prefix + text).rstrip() == next_line and not context.line_prefix.strip():
        text = ""  # the whole suggestion is the next line again
    return suggestion if text == suggestion.text else Suggestion(text)
