"""In single-line mode keep only the rest of the cursor's line."""

from __future__ import annotations

from lsp_server.engine.postprocess.base import Context, Mode, Suggestion


def keep_single_line(suggestion: Suggestion, context: Context) -> Suggestion:
    if context.mode is not Mode.SINGLE_LINE or "\n" not in suggestion.text:
        return suggestion
    return Suggestion(suggestion.text.split("\n", 1)[0])
