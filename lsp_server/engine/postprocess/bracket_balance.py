"""Do not close what the text after the cursor already closes.

`print(|)` completed as `x)` or `x);` would give `print(x)))` or `print(x););`; the
suggestion is cut where it closes a bracket (or a string) that the rest of the line
closes anyway. `foo()` stays: its `)` closes a bracket it opened itself.
"""

from __future__ import annotations

from lsp_server.engine.postprocess.base import Context, Suggestion

_PAIRS = {")": "(", "]": "[", "}": "{"}
_OPENERS = frozenset("([{")
_QUOTES = frozenset("\"'`")
_SCAN_CHARS = 4000


def open_brackets(text: str) -> list[str]:
    """Brackets still open at the end of `text`, skipping string literals on a line."""
    stack: list[str] = []
    quote: str | None = None
    escaped = False
    for char in text:
        if quote is not None:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote or (char == "\n" and quote != "`"):
                quote = None
            continue
        if char in _QUOTES:
            quote = char
        elif char in _OPENERS:
            stack.append(char)
        elif char in _PAIRS:
            if stack and stack[-1] == _PAIRS[char]:
                stack.pop()
            elif not stack:
                pass  # unbalanced text before our window; ignore
    return stack


def open_quote(line_prefix: str) -> str | None:
    """The quote character of a string literal still open at the end of the line prefix."""
    quote: str | None = None
    escaped = False
    for char in line_prefix:
        if quote is not None:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = None
        elif char in _QUOTES:
            quote = char
    return quote


def closing_cut(text: str) -> int | None:
    """Index in `text` of the first bracket that closes one opened before the cursor."""
    depth = 0
    quote: str | None = None
    escaped = False
    for index, char in enumerate(text):
        if quote is not None:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote or char == "\n":
                quote = None
            continue
        if char in _QUOTES:
            quote = char
        elif char in _OPENERS:
            depth += 1
        elif char in _PAIRS:
            if depth == 0:
                return index
            depth -= 1
    return None


def _leading_closers(line_suffix: str) -> str:
    closers = ""
    for char in line_suffix.lstrip():
        if char in _PAIRS:
            closers += char
        elif char in " \t":
            continue
        else:
            break
    return closers


def balance_brackets(suggestion: Suggestion, context: Context) -> Suggestion:
    text = suggestion.text
    line_suffix = context.line_suffix
    quote = open_quote(context.line_prefix)
    if quote is not None and line_suffix.startswith(quote):
        at = _closing_quote(text, quote)
        if at is not None:
            return Suggestion(text[:at])
        return suggestion
    closers = _leading_closers(line_suffix)
    if not closers:
        return suggestion
    stack = open_brackets(context.prefix[-_SCAN_CHARS:])
    expected = "".join(_PAIRS[c] for c in closers)
    if not "".join(reversed(stack)).startswith(expected):
        return suggestion  # the rest of the line does not close the prefix's brackets; leave it
    cut = closing_cut(text)
    return suggestion if cut is None else Suggestion(text[:cut])


def _closing_quote(text: str, quote: str) -> int | None:
    escaped = False
    for index, char in enumerate(text):
        if char == "\n":
            return None
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == quote:
            return index
    return None
