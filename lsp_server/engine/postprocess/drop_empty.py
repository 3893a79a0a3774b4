"""Show nothing rather than whitespace."""

from __future__ import annotations

from lsp_server.engine.postprocess.base import Context, Suggestion


def drop_empty(suggestion: Suggestion, context: Context) -> Suggestion:
    return suggestion if suggestion.text.strip() else Suggestion("")
