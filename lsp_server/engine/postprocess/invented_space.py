"""No space the model invented where code has none: `lines.` + ` pop(0)`, `f(x)` + ` :`, `width=` + ` 70`.

Small models often start a suggestion with a space. Where the text before the cursor already
decides the spacing, the space is wrong and is dropped: after an attribute dot (`lines.` +
` pop(0)`), before a comma or semicolon, in Python before a colon (`isinstance(b[0]` + ` , str)`,
`def f(x)` + ` :`), and after an `=` written tight against a name (`initial_indent=` + ` ""`, a
keyword argument or default, whose style is no spaces around `=`).

Left alone: a word followed by a space after a dot (a sentence's full stop in a comment), a
space inside a string (`re.sub('` + ` ', text)` starts with a quote), one before a closing
bracket or a ternary `:` outside Python (`{ a }`, `c ? a : b`), and prose languages.
"""

from __future__ import annotations

import re

from lsp_server.engine.postprocess.base import Context, Suggestion

_ATTRIBUTE_DOT = re.compile(r"[\w)\]]\.$")
_ATTRIBUTE = re.compile(r"\w+(?:[(\[.:,)\]\n]|$)")
_TIGHT_EQUALS = re.compile(r"\w=$")
_NEVER_AFTER_SPACE = ",;"
_PROSE = frozenset({"markdown", "plaintext", "restructuredtext", "latex", "tex", "text", ""})


def _space_is_invented(prefix: str, rest: str, language: str) -> bool:
    """Whether a space between `prefix` and `rest` (the suggestion after its space) breaks the code's spacing."""
    if not rest or rest[0].isspace():
        return False
    if _ATTRIBUTE_DOT.search(prefix):
        return bool(_ATTRIBUTE.match(rest))
    if _TIGHT_EQUALS.search(prefix):
        return True
    return rest[0] in _NEVER_AFTER_SPACE or (rest[0] == ":" and language == "python")


def drop_invented_space(suggestion: Suggestion, context: Context) -> Suggestion:
    text = suggestion.text
    if not text.startswith(" ") or not context.prefix[-1:].strip() or context.language in _PROSE:
        return suggestion
    if _space_is_invented(context.prefix, text[1:], context.language):
        return Suggestion(text[1:])
    return suggestion
