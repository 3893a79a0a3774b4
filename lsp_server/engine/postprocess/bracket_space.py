"""No space the model invented right after an opening bracket: `print(` + ` f"x"` becomes `f"x"`.

Small models often start an argument list with a space. The space is dropped unless the
document itself puts spaces inside that kind of bracket (`foo( x )` in some PHP and C
styles, `{ a: 1 }` in Prettier-formatted JavaScript). With no evidence either way,
round and square brackets drop it and braces keep it.
"""

from __future__ import annotations

import re

from lsp_server.engine.postprocess.base import Context, Suggestion

_CLOSER = {"(": ")", "[": "]", "{": "}"}
_KEEP_WITHOUT_EVIDENCE = {"(": False, "[": False, "{": True}


def _spaced_inside(text: str, opener: str) -> bool | None:
    """Whether `text` writes `opener` followed by a space more often than not; None if it never decides."""
    escaped, closer = re.escape(opener), re.escape(_CLOSER[opener])
    spaced = len(re.findall(rf"{escaped} +[^\s{closer}]", text))
    tight = len(re.findall(rf"{escaped}[^\s{closer}]", text))
    if spaced == tight:
        return None
    return spaced > tight


def drop_space_after_opener(suggestion: Suggestion, context: Context) -> Suggestion:
    text = suggestion.text
    opener = context.prefix[-1:]
    if opener not in _CLOSER or not text.startswith(" "):
        return suggestion
    spaced = _spaced_inside(context.prefix + context.suffix, opener)
    keep = _KEEP_WITHOUT_EVIDENCE[opener] if spaced is None else spaced
    return suggestion if keep else Suggestion(text.lstrip(" "))
