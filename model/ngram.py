"""A token n-gram language model with stupid backoff: the baseline the trained model must beat.

Counts are kept in sorted numpy arrays, one table per order: for every (context, next token)
pair seen in training, the context's 64-bit hash, the token and the count. The continuations of
a context are one contiguous run of the table, found by binary search, so a 4-gram model of a few
million tokens fits in memory and predicts quickly.

Stupid backoff (Brants et al. 2007): S(w | ctx) = c(ctx w) / c(ctx) if c(ctx w) > 0, else
0.4 * S(w | ctx minus its first token), down to unigram frequencies. ``next_token`` returns the
argmax of S; ``complete_line`` appends argmax tokens until the text has a newline.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

BACKOFF = 0.4
_MULT = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit multiplier (golden ratio) for the rolling hash
_EMPTY_CONTEXT = np.uint64(0)


def context_hashes(tokens: np.ndarray, length: int) -> np.ndarray:
    """Hash of the ``length`` tokens before each position i >= length (array of len(tokens) - length)."""
    n = len(tokens) - length
    h = np.zeros(n, dtype=np.uint64)
    t = tokens.astype(np.uint64)
    with np.errstate(over="ignore"):
        for j in range(length):
            h = (h ^ (t[j:j + n] + np.uint64(1))) * _MULT
    return h


def hash_context(context: Sequence[int]) -> np.uint64:
    return context_hashes(np.asarray([*context, 0], dtype=np.int64), len(context))[0] if context else _EMPTY_CONTEXT


@dataclass
class _Table:
    """Sorted (context hash, token) pairs with counts; ``totals`` per unique context."""

    contexts: np.ndarray  # uint64, sorted
    tokens: np.ndarray  # int32
    counts: np.ndarray  # int64

    def continuations(self, context_hash: np.uint64) -> tuple[np.ndarray, np.ndarray]:
        lo = np.searchsorted(self.contexts, context_hash, side="left")
        hi = np.searchsorted(self.contexts, context_hash, side="right")
        return self.tokens[lo:hi], self.counts[lo:hi]


def _count(tokens: np.ndarray, context_len: int) -> _Table:
    if context_len == 0:
        contexts = np.full(len(tokens), _EMPTY_CONTEXT, dtype=np.uint64)
        nexts = tokens.astype(np.int64)
    else:
        contexts = context_hashes(tokens, context_len)
        nexts = tokens[context_len:].astype(np.int64)
    # One sort of (context, token) pairs; runs of equal pairs give the counts.
    order = np.lexsort((nexts, contexts))
    contexts, nexts = contexts[order], nexts[order]
    boundary = np.ones(len(contexts), dtype=bool)
    boundary[1:] = (contexts[1:] != contexts[:-1]) | (nexts[1:] != nexts[:-1])
    starts = np.flatnonzero(boundary)
    counts = np.diff(np.append(starts, len(contexts)))
    return _Table(contexts[starts], nexts[starts].astype(np.int32), counts.astype(np.int64))


class NgramModel:
    """Token n-gram model of order ``order`` (4: three tokens of context) with stupid backoff."""

    def __init__(self, order: int = 4) -> None:
        if order < 1:
            raise ValueError(f"order={order} must be at least 1.")
        self.order = order
        self._tables: list[_Table] = []

    def fit(self, documents: Sequence[Sequence[int] | np.ndarray]) -> NgramModel:
        """Count n-grams within each document (a document is one token sequence; none cross documents)."""
        if not documents:
            raise ValueError("no training documents; give at least one token sequence.")
        self._tables = []
        for context_len in range(self.order):
            parts = [_count(np.asarray(d, dtype=np.int64), context_len) for d in documents if len(d) > context_len]
            contexts = np.concatenate([p.contexts for p in parts])
            tokens = np.concatenate([p.tokens for p in parts])
            counts = np.concatenate([p.counts for p in parts])
            order = np.lexsort((tokens, contexts))
            contexts, tokens, counts = contexts[order], tokens[order], counts[order]
            boundary = np.ones(len(contexts), dtype=bool)
            boundary[1:] = (contexts[1:] != contexts[:-1]) | (tokens[1:] != tokens[:-1])
            group = np.cumsum(boundary) - 1
            merged = np.zeros(int(group[-1]) + 1, dtype=np.int64)
            np.add.at(merged, group, counts)
            self._tables.append(_Table(contexts[boundary], tokens[boundary], merged))
        return self

    def scores(self, context: Sequence[int]) -> dict[int, float]:
        """Stupid-backoff scores of the tokens worth considering after ``context`` (the argmax is among them)."""
        if not self._tables:
            raise ValueError("the n-gram model is not fitted; call fit() first.")
        scores: dict[int, float] = {}
        weight = 1.0
        best = 0.0
        for context_len in range(min(self.order - 1, len(context)), -1, -1):
            if weight < best:  # lower orders cannot beat what is already there
                break
            ctx = list(context[len(context) - context_len:]) if context_len else []
            tokens, counts = self._tables[context_len].continuations(hash_context(ctx))
            if len(tokens):
                probs = weight * counts / counts.sum()
                for token, p in zip(tokens.tolist(), probs.tolist()):
                    if token not in scores:
                        scores[token] = p
                        best = max(best, p)
            weight *= BACKOFF
        return scores

    def next_token(self, context: Sequence[int], banned: frozenset[int] = frozenset()) -> int | None:
        """The argmax of the stupid-backoff score (lowest id on ties), or None when nothing is allowed."""
        candidates = {t: s for t, s in self.scores(context).items() if t not in banned}
        if not candidates:
            return None
        return min(candidates, key=lambda t: (-candidates[t], t))

    def complete_line(self, context: Sequence[int], decode: Callable[[list[int]], str], max_tokens: int = 48,
                      stop_ids: frozenset[int] = frozenset()) -> str:
        """Greedy tokens after ``context`` up to the first newline (not included) or a stop token."""
        history = list(context)
        generated: list[int] = []
        for _ in range(max_tokens):
            token = self.next_token(history)
            if token is None or token in stop_ids:
                break
            generated.append(token)
            history.append(token)
            text = decode(generated)
            if "\n" in text:
                return text.split("\n", 1)[0]
        return decode(generated).split("\n", 1)[0]
