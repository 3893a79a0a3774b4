"""Which cursor places are kept warm, and which cached chunks a new prompt can reuse.

The model evaluates in sequence 0. When the cursor leaves a place, its sequence is copied to
a spare one (each sequence has its own stream of the KV cache), so that going back to where
the user just was finds its prompt still evaluated. `WarmPlaces` only keeps the books: which
spare sequence holds which tokens, and which one was used longest ago.

`shift_plan` finds, after the common prefix, runs of cached tokens that the new prompt
repeats further on (the cursor moved down a file: the new window starts later, the lines it
shares were evaluated before). The backend removes what lies between and shifts those runs
into place (`llama_memory_seq_add`), as llama-server's `--cache-reuse` does. No llama.cpp here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from lsp_server.backend.base import common_prefix_length

ACTIVE_SEQUENCE = 0
# A parked place is brought back only when it saves at least this many tokens over the
# active one: switching costs two cache operations and evicts the least recently used place.
MIN_TOKENS_SAVED = 16


# A run of cached tokens is shifted into place only when at least this long: a shifted run's
# keys and values were computed after other text than the new prompt puts before it.
MIN_SHIFTED_RUN = 32


class Move(NamedTuple):
    """Cached tokens [cache_start, cache_start + length) go to prompt position prompt_start."""

    cache_start: int
    prompt_start: int
    length: int


def shift_plan(cached: Sequence[int], prompt: Sequence[int], start: int, min_run: int = MIN_SHIFTED_RUN) -> list[Move]:
    """Runs of `cached` after `start` that `prompt` continues with, in order, each moved left.

    Scans the cache forward from `start` (the common prefix): where the prompt's next tokens
    appear as a run of at least `min_run`, that run moves to the prompt's position and the
    scan goes on after it; the cached tokens skipped over are dropped. The prompt's last token
    is never covered: it is evaluated again for its logits.
    """
    moves: list[Move] = []
    end = len(prompt) - 1
    cache_at, prompt_at = start, start
    while cache_at < len(cached) and prompt_at < end:
        length = 0
        while (cache_at + length < len(cached) and prompt_at + length < end
               and cached[cache_at + length] == prompt[prompt_at + length]):
            length += 1
        if length >= min_run:
            moves.append(Move(cache_at, prompt_at, length))
            cache_at += length
            prompt_at += length
        else:
            cache_at += 1
    return moves


def reused_by(moves: Sequence[Move], start: int) -> int:
    """Prompt tokens covered by the common prefix `start` and the moves."""
    return start + sum(move.length for move in moves)


@dataclass
class ParkedPlace:
    sequence: int
    tokens: list[int]
    last_used: int


class WarmPlaces:
    def __init__(self, slots: int) -> None:
        self.sequences = tuple(range(ACTIVE_SEQUENCE + 1, ACTIVE_SEQUENCE + 1 + slots))
        self._parked: dict[int, ParkedPlace] = {}
        self._clock = 0

    def _tick(self) -> int:
        self._clock += 1
        return self._clock

    def best_for(
        self, prompt: Sequence[int], active: Sequence[int], reusable: Callable[[Sequence[int]], int] | None = None
    ) -> ParkedPlace | None:
        """The parked place from which `prompt` reuses the most, if it beats the active one.

        `reusable(tokens)` says how many prompt tokens a cache holding `tokens` saves (default:
        the common prefix)."""
        reusable = reusable or (lambda tokens: common_prefix_length(list(tokens), prompt))
        best: ParkedPlace | None = None
        best_saved = reusable(active) + MIN_TOKENS_SAVED - 1
        for place in self._parked.values():
            saved = reusable(place.tokens)
            if saved > best_saved:
                best, best_saved = place, saved
        return best

    def slot_for(self, tokens: Sequence[int], keep: int | None = None) -> int | None:
        """Where to park `tokens`: a place holding a prefix of them, else a free sequence, else the LRU one.

        None when `tokens` are already parked whole (nothing to do). `keep` is never chosen.
        """
        tokens = list(tokens)
        for place in self._parked.values():
            if place.tokens == tokens:
                place.last_used = self._tick()
                return None
        for place in self._parked.values():
            if place.sequence != keep and tokens[: len(place.tokens)] == place.tokens:
                return place.sequence  # the same place, typed further: replace it
        free = [sequence for sequence in self.sequences if sequence not in self._parked and sequence != keep]
        if free:
            return free[0]
        candidates = [place for place in self._parked.values() if place.sequence != keep]
        return min(candidates, key=lambda place: place.last_used).sequence if candidates else None

    def park(self, sequence: int, tokens: Sequence[int]) -> None:
        self._parked[sequence] = ParkedPlace(sequence, list(tokens), self._tick())

    def touch(self, sequence: int) -> None:
        self._parked[sequence].last_used = self._tick()

    def forget(self) -> None:
        self._parked.clear()

    @property
    def parked(self) -> list[ParkedPlace]:
        return sorted(self._parked.values(), key=lambda place: place.sequence)
