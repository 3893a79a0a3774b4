"""Post-processing: a pipeline of small pure filters over the model's raw suggestion.

Interface (used by features/completion.py, the CLI and bench/):
    Context.create(prefix, suffix, language="", special_texts=(), multiline=True) -> Context
    postprocess(text: str, context: Context, truncated: bool = False) -> str
        # the suggestion to show ("" = none); truncated: generation hit max_tokens
    StreamingStop(context).feed(piece: str) -> bool      # pass as LocalBackend.generate(on_text=...)
    PIPELINE: tuple[Filter, ...]                         # Filter = (Suggestion, Context) -> Suggestion

`prefix`/`suffix` are the document text around the cursor (the whole document or at
least the prompt's windows); `special_texts` is Family.special_texts; `held_back` is
Prompt.held_back; `multiline=False` forces single-line suggestions.
"""

from __future__ import annotations

from lsp_server.engine.postprocess.base import Context, Filter, Mode, Suggestion, decide_mode
from lsp_server.engine.postprocess.block_indentation import stop_at_block_end
from lsp_server.engine.postprocess.block_syntax import stop_at_syntax_block_end
from lsp_server.engine.postprocess.bracket_balance import balance_brackets
from lsp_server.engine.postprocess.bracket_space import drop_space_after_opener
from lsp_server.engine.postprocess.control_characters import cut_at_control_character
from lsp_server.engine.postprocess.drop_empty import drop_empty
from lsp_server.engine.postprocess.held_back import drop_held_back
from lsp_server.engine.postprocess.invented_space import drop_invented_space
from lsp_server.engine.postprocess.indentation_style import keep_indentation_style
from lsp_server.engine.postprocess.repetition import cut_repetition
from lsp_server.engine.postprocess.single_line import keep_single_line
from lsp_server.engine.postprocess.streaming import TIME_LIMIT, StreamingStop, complete_lines
from lsp_server.engine.postprocess.strip_special_tokens import strip_special_tokens
from lsp_server.engine.postprocess.suffix_overlap import drop_suffix_overlap
from lsp_server.engine.postprocess.trailing_whitespace import trim_trailing_whitespace
from lsp_server.engine.postprocess.truncation import drop_unfinished_line

PIPELINE: tuple[Filter, ...] = (
    drop_held_back,  # the whitespace the prompt left for the model to write
    drop_space_after_opener,  # `print( x` when the file writes `print(x`
    drop_invented_space,  # `lines. pop(0)`, `f(x) :`, `width= 70`
    strip_special_tokens,  # everything after a leaked <|file_sep|> etc. is another place
    cut_at_control_character,  # an escape, NUL or bell is garbage, never code
    keep_single_line,  # single-line mode: the rest of the cursor's line only
    cut_repetition,  # loops before anything measures blocks in them
    stop_at_block_end,  # indentation leaves the cursor's block
    stop_at_syntax_block_end,  # tree-sitter: the enclosing statement/block ends
    drop_suffix_overlap,  # the rest of the line / the next lines are already there
    balance_brackets,  # don't close what the rest of the line closes
    keep_indentation_style,  # tabs vs spaces, indent width
    trim_trailing_whitespace,
    drop_empty,
)


def postprocess(
    text: str, context: Context, truncated: bool = False, pipeline: tuple[Filter, ...] = PIPELINE
) -> str:
    if truncated:
        text = drop_unfinished_line(text, context)
    suggestion = Suggestion(text)
    for step in pipeline:
        suggestion = step(suggestion, context)
    return suggestion.text


__all__ = [
    "PIPELINE",
    "Context",
    "Filter",
    "Mode",
    "StreamingStop",
    "TIME_LIMIT",
    "complete_lines",
    "Suggestion",
    "decide_mode",
    "postprocess",
]
