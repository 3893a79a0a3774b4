"""Trim whitespace at line ends and blank lines at the end of the suggestion.

The last line keeps its trailing spaces when text follows the cursor on the line:
`return |x` completed as `not ` needs that space.
"""

from __future__ import annotations

from lsp_server.engine.postprocess.base import Context, Suggestion


def trim_trailing_whitespace(suggestion: Suggestion, context: Context) -> Suggestion:
    lines = suggestion.text.split("\n")
    while len(lines) > 1 and not lines[-1].strip():
        lines.pop()
    last = lines[-1] if context.line_suffix.strip() else lines[-1].rstrip()
    text = "\n".join([line.rstrip() for line in lines[:-1]] + [last])
    return suggestion if text == suggestion.text else Suggestion(text)
