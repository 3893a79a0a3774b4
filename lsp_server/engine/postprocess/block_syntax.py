"""Stop a multi-line suggestion at the end of the statement or block around the cursor,
judged by a tree-sitter parse of prefix + suggestion + suffix.

This catches what indentation misses: a closing brace followed by more code on the same
level, a multi-line call that ends before the model goes on, badly indented output.
Languages without an installed grammar pass through unchanged, and so do parses where
the enclosing node has syntax errors (there the indentation filter decides alone).
"""

from __future__ import annotations

import functools
import importlib
import logging
import re

from lsp_server.engine.postprocess.base import Context, Mode, Suggestion

logger = logging.getLogger(__name__)

# LSP languageId -> (module, function returning the language pointer)
_GRAMMARS: dict[str, tuple[str, str]] = {
    "python": ("tree_sitter_python", "language"),
    "javascript": ("tree_sitter_javascript", "language"),
    "javascriptreact": ("tree_sitter_javascript", "language"),
    "typescript": ("tree_sitter_typescript", "language_typescript"),
    "typescriptreact": ("tree_sitter_typescript", "language_tsx"),
    "go": ("tree_sitter_go", "language"),
    "rust": ("tree_sitter_rust", "language"),
    "java": ("tree_sitter_java", "language"),
}
_STOP_SUFFIXES = ("_statement", "_definition", "_declaration", "_item", "block", "_body", "declaration_list")


@functools.lru_cache(maxsize=None)
def grammar(language: str):
    """The tree_sitter.Language for an LSP languageId, or None when not installed."""
    spec = _GRAMMARS.get(language.lower())
    if spec is None:
        return None
    try:
        import tree_sitter

        module = importlib.import_module(spec[0])
        return tree_sitter.Language(getattr(module, spec[1])())
    except (ImportError, AttributeError, ValueError) as error:
        logger.info("no tree-sitter grammar for %s: %s", language, error)
        return None


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _utf8(text: str) -> bytes:
    """UTF-8 for the parser; a lone surrogate (legal in an LSP document, not in UTF-8)
    becomes U+FFFD, also one character of three bytes, so offsets stay put."""
    return _LONE_SURROGATE.sub("\ufffd", text).encode("utf-8")


def syntax_block_end(prefix: str, text: str, suffix: str, language: str) -> int | None:
    """Characters of `text` up to where the statement/block enclosing the cursor ends."""
    language_object = grammar(language)
    if language_object is None:
        return None
    import tree_sitter

    prefix_bytes = _utf8(prefix)
    text_bytes = _utf8(text)
    cursor = len(prefix_bytes)
    end = cursor + len(text_bytes)
    tree = tree_sitter.Parser(language_object).parse(prefix_bytes + text_bytes + _utf8(suffix))
    node = tree.root_node.descendant_for_byte_range(cursor, cursor)
    while node is not None:
        if node.start_byte < cursor < node.end_byte and node.type.endswith(_STOP_SUFFIXES):
            break
        node = node.parent
    if node is None or node.has_error or node.end_byte >= end:
        return None
    if not text_bytes[node.end_byte - cursor :].strip():
        return None
    return len(text_bytes[: node.end_byte - cursor].decode("utf-8", errors="ignore"))


def stop_at_syntax_block_end(suggestion: Suggestion, context: Context) -> Suggestion:
    if context.mode is not Mode.MULTI_LINE or "\n" not in suggestion.text:
        return suggestion
    cut = syntax_block_end(context.prefix, suggestion.text, context.suffix, context.language)
    if cut is None:
        return suggestion
    return Suggestion(suggestion.text[:cut].rstrip())
