"""Remove the whitespace the prompt held back (Prompt.held_back) from the model's output.

The prompt leaves out the spaces/tabs right before the cursor, so the model writes them
as part of its first token ("    if" as one token instead of "   " + " if"). The
suggestion is inserted after the document's own whitespace, so as much leading
whitespace as was held back (by width) is taken off again.
"""

from __future__ import annotations

from lsp_server.engine.postprocess.base import TAB_WIDTH, Context, Suggestion


def drop_held_back(suggestion: Suggestion, context: Context) -> Suggestion:
    held_width = len(context.held_back.expandtabs(TAB_WIDTH))
    if not held_width:
        return suggestion
    text = suggestion.text
    width = 0
    cut = 0
    while cut < len(text) and text[cut] in " \t":
        char_width = TAB_WIDTH if text[cut] == "\t" else 1
        if width + char_width > held_width:
            break
        width += char_width
        cut += 1
    return suggestion if cut == 0 else Suggestion(text[cut:])
