"""Drop the part of a suggestion that the text after the cursor already has.

Two cases: the model writes the rest of the cursor's line again (`foo(|, b)` completed as
`a, b)`), or a multi-line suggestion runs into the lines that follow the cursor (it writes
the `}` or the `return` that is already there). Closing brackets alone are left to the
bracket filter, which can tell `foo()` from `foo())`.
"""

from __future__ import annotations

from lsp_server.engine.postprocess.base import Context, Suggestion

_CLOSERS = frozenset(")]}\"'`;,")


def _first_nonblank(lines: list[str]) -> str | None:
    return next((line.rstrip() for line in lines if line.strip()), None)


def drop_suffix_overlap(suggestion: Suggestion, context: Context) -> Suggestion:
    text = suggestion.text
    rest_of_line = context.line_suffix.strip()
    if rest_of_line and not set(rest_of_line) <= _CLOSERS:
        trimmed = text.rstrip()
        if trimmed.endswith(rest_of_line):
            text = trimmed[: len(trimmed) - len(rest_of_line)]
    lines = text.split("\n")
    next_line = _first_nonblank(context.next_lines)
    if next_line is not None and len(lines) > 1:
        for index in range(1, len(lines)):
            if lines[index].rstrip() == next_line:
                text = "\n".join(lines[:index]).rstrip()
                break
    if text.strip() and text.strip() == (next_line or "").strip() and not context.line_prefix.strip():
        text = ""  # the whole suggestion is the next line again
    return suggestion if text == suggestion.text else Suggestion(text)
