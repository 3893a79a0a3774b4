"""Cut the suggestion at the first control character the model wrote.

Source code holds tabs, newlines and (rarely) form feeds as raw characters; an escape
(the start of an ANSI sequence), NUL, a bell or a C1 control in a suggestion is the model
emitting garbage, and shown as ghost text it can confuse the editor or a terminal. What
comes before it is kept. A control character the document itself contains is copying, left alone.
"""

from __future__ import annotations

import re

from lsp_server.engine.postprocess.base import Context, Suggestion

_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")  # not \t \n \f \r


def cut_at_control_character(suggestion: Suggestion, context: Context) -> Suggestion:
    for match in _CONTROL.finditer(suggestion.text):
        if match.group() not in context.prefix and match.group() not in context.suffix:
            return Suggestion(suggestion.text[: match.start()])
    return suggestion
