"""Cut the suggestion at the first special token that leaked into the text.

A leaked FIM marker, end-of-text or file separator means the model left the hole: what
follows belongs to another part of the file or another file. Instruct-tuned models also
close a code block with a Markdown fence and start explaining; a ``` line outside
Markdown documents is cut the same way. Spellings the document itself contains are
left alone: there the model is copying text.
"""

from __future__ import annotations

import re

from lsp_server.engine.postprocess.base import Context, Suggestion

# Spellings of the families we know, for models whose own list was not passed in.
_GENERIC = re.compile(
    r"<\|(?:fim_[a-z]+|file_sep|repo_name|endoftext|im_end|im_start|file_separator|EOT)\|>"
    r"|<｜[^｜]{1,30}｜>"
    r"|<(?:fim_prefix|fim_suffix|fim_middle|fim_pad|file_sep|repo_name|PRE|SUF|MID|EOT)>"
    r"|<eos>|<end_of_turn>"
)
_FENCE = re.compile(r"^[ \t]*```", re.MULTILINE)
_MARKDOWN = frozenset({"markdown", "mdx", "rmd", "quarto"})


def _in_document(spelling: str, context: Context) -> bool:
    """Code about models (like this file) spells these tokens as text; copying them is no leak."""
    return spelling in context.prefix or spelling in context.suffix


def strip_special_tokens(suggestion: Suggestion, context: Context) -> Suggestion:
    text = suggestion.text
    cut = len(text)
    for special in context.special_texts:
        at = text.find(special)
        if 0 <= at < cut and not _in_document(special, context):
            cut = at
    for match in _GENERIC.finditer(text):
        if match.start() < cut and not _in_document(match.group(), context):
            cut = match.start()
            break
    fence = _FENCE.search(text) if context.language.lower() not in _MARKDOWN else None
    if fence is not None and fence.start() < cut:
        cut = fence.start()
    return suggestion if cut == len(text) else Suggestion(text[:cut])
