"""Snippets from other open and recently edited documents, for the start of the prompt.

Interface (used by features/completion.py and prompt.py):
    SourceDocument(path: str, text: str, language: str = "")
    Snippet(path: str, start_line: int, text: str, score: float)   # frozen
    ContextSelector(lines_per_chunk=20, top_k=4, region_lines=32, min_score=0.08)
        .snippets_for(path, prefix, suffix, others, token_budget, count_tokens) -> tuple[Snippet, ...]
        .forget(path)
    rank_snippets(query_text, others, lines_per_chunk=20) -> list[Snippet]   # best first

Other documents are cut into windows of `lines_per_chunk` lines and ranked by the Jaccard
similarity of their identifier sets with the lines around the cursor. The chosen ones
come back sorted by (path, start_line), not by score, and `ContextSelector` keeps its
choice while the cursor stays in the same region of the same document (`region_lines`
lines), so that typing never changes the start of the prompt and the KV cache holds.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MAX_LINES_PER_DOCUMENT = 5000
_QUERY_LINES_BEFORE = 15
_QUERY_LINES_AFTER = 5


@dataclass(frozen=True)
class SourceDocument:
    path: str
    text: str
    language: str = ""


@dataclass(frozen=True)
class Snippet:
    path: str
    start_line: int  # 0-based line of the document where `text` starts
    text: str
    score: float = 0.0

    @property
    def line_count(self) -> int:
        return self.text.count("\n") + 1


def identifiers(text: str) -> frozenset[str]:
    """Identifier-like words of two characters or more: the vocabulary code shares."""
    return frozenset(word for word in _IDENTIFIER.findall(text) if len(word) > 1)


def jaccard(left: frozenset[str], right: frozenset[str]) -> float:
    if not left or not right:
        return 0.0
    return len(left & right) / len(left | right)


def chunk_document(document: SourceDocument, lines_per_chunk: int = 20) -> list[Snippet]:
    """Consecutive windows of `lines_per_chunk` lines; blank windows are left out."""
    if lines_per_chunk < 1:
        raise ValueError(f"lines_per_chunk must be at least 1, got {lines_per_chunk}.")
    lines = document.text.split("\n")[:_MAX_LINES_PER_DOCUMENT]
    chunks = []
    for start in range(0, len(lines), lines_per_chunk):
        text = "\n".join(lines[start : start + lines_per_chunk]).rstrip()
        if text.strip():
            chunks.append(Snippet(document.path, start, text))
    return chunks


def query_text(prefix: str, suffix: str) -> str:
    """The lines around the cursor that snippets are compared with."""
    before = prefix.split("\n")[-_QUERY_LINES_BEFORE:]
    after = suffix.split("\n")[:_QUERY_LINES_AFTER]
    return "\n".join(before + after)


def rank_snippets(query: str, others: Sequence[SourceDocument], lines_per_chunk: int = 20) -> list[Snippet]:
    """Every chunk of `others` with its similarity to `query`, best first (ties: path, line)."""
    query_words = identifiers(query)
    scored = []
    for document in others:
        for chunk in chunk_document(document, lines_per_chunk):
            score = jaccard(identifiers(chunk.text), query_words)
            scored.append(Snippet(chunk.path, chunk.start_line, chunk.text, score))
    scored.sort(key=lambda snippet: (-snippet.score, snippet.path, snippet.start_line))
    return scored


def select_snippets(
    ranked: Sequence[Snippet],
    *,
    top_k: int,
    min_score: float,
    token_budget: int,
    count_tokens: Callable[[str], int],
) -> tuple[Snippet, ...]:
    """The best `top_k` snippets that fit `token_budget`, in stable (path, line) order."""
    chosen: list[Snippet] = []
    used = 0
    for snippet in ranked:
        if len(chosen) == top_k or snippet.score < min_score:
            break
        cost = count_tokens(snippet.text) + count_tokens(snippet.path) + 4  # separator and newlines
        if used + cost > token_budget:
            continue
        chosen.append(snippet)
        used += cost
    return tuple(sorted(chosen, key=lambda snippet: (snippet.path, snippet.start_line)))


@dataclass(frozen=True)
class _Choice:
    region: tuple[int, frozenset[str], int]
    snippets: tuple[Snippet, ...]


class ContextSelector:
    """Chooses snippets per document and keeps the choice while the cursor stays in its region."""

    def __init__(
        self, lines_per_chunk: int = 20, top_k: int = 4, region_lines: int = 32, min_score: float = 0.08
    ) -> None:
        if region_lines < 1:
            raise ValueError(f"region_lines must be at least 1, got {region_lines}.")
        self.lines_per_chunk = lines_per_chunk
        self.top_k = top_k
        self.region_lines = region_lines
        self.min_score = min_score
        self._choices: dict[str, _Choice] = {}

    def snippets_for(
        self,
        path: str,
        prefix: str,
        suffix: str,
        others: Sequence[SourceDocument],
        token_budget: int,
        count_tokens: Callable[[str], int],
    ) -> tuple[Snippet, ...]:
        others = [document for document in others if document.path != path]
        if token_budget <= 0 or not others:
            return ()
        region = (prefix.count("\n") // self.region_lines, frozenset(d.path for d in others), token_budget)
        previous = self._choices.get(path)
        if previous is not None and previous.region == region:
            return _refreshed(previous.snippets, others)
        ranked = rank_snippets(query_text(prefix, suffix), others, self.lines_per_chunk)
        snippets = select_snippets(
            ranked, top_k=self.top_k, min_score=self.min_score, token_budget=token_budget, count_tokens=count_tokens
        )
        self._choices[path] = _Choice(region, snippets)
        return snippets

    def forget(self, path: str) -> None:
        self._choices.pop(path, None)


def _refreshed(snippets: tuple[Snippet, ...], others: Sequence[SourceDocument]) -> tuple[Snippet, ...]:
    """The same line windows, with their documents' current text (usually unchanged)."""
    texts = {document.path: document.text for document in others}
    fresh = []
    for snippet in snippets:
        text = texts.get(snippet.path)
        if text is None:
            continue
        lines = text.split("\n")[snippet.start_line : snippet.start_line + snippet.line_count]
        window = "\n".join(lines).rstrip()
        if window.strip():
            fresh.append(Snippet(snippet.path, snippet.start_line, window, snippet.score))
    return tuple(fresh)
