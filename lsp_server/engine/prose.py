"""Where a source file holds prose rather than code: comments and docstrings.

Model surprise there measures wording, not bugs (a rare word in a docstring is as
surprising as a wrong operator), so the review's surprise signal leaves these ranges out.
"""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)

COMMENT_TYPES = {"comment", "line_comment", "block_comment", "doc_comment"}
STRING_TYPES = {"string", "string_literal", "template_string", "interpreted_string_literal", "raw_string_literal"}


def prose_ranges(text: str, language: str) -> list[tuple[int, int]]:
    """Character ranges of comments and docstrings (string statements); [] without a grammar."""
    from lsp_server.engine import symbols

    grammar = symbols.language_of(language) if language else None
    if grammar is None:
        return []
    try:
        tree = symbols.parse(text, grammar)
    except (ImportError, ValueError) as error:
        logger.info("no syntax tree for %s: %s", language, error)
        return []
    data = text.encode("utf-8", "surrogatepass")
    ranges = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        is_docstring = (node.type in STRING_TYPES and node.parent is not None
                        and node.parent.type == "expression_statement" and node.parent.named_child_count == 1)
        if node.type in COMMENT_TYPES or is_docstring:
            start = len(data[: node.start_byte].decode("utf-8", "surrogatepass"))
            end = start + len(data[node.start_byte : node.end_byte].decode("utf-8", "surrogatepass"))
            ranges.append((start, end))
            continue
        stack.extend(node.children)
    return sorted(ranges)
