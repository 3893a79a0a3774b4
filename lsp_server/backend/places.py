"""Which cursor places are kept warm: the token lists parked in the KV cache's spare sequences.

The model evaluates in sequence 0. When the cursor leaves a place, the sequence's cells are
tagged with a spare sequence id as well (`llama_memory_seq_cp` on a unified cache shares the
cells, it copies nothing), so that going back to where the user just was finds its prompt
still evaluated. This module only keeps the books: which spare sequence holds which tokens,
and which one was used longest ago. No llama.cpp here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lsp_server.backend.base import common_prefix_length

ACTIVE_SEQUENCE = 0
# A parked place is brought back only when it saves at least this many tokens over the
# active one: switching costs two cache operations and evicts the least recently used place.
MIN_TOKENS_SAVED = 16


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

    def best_for(self, prompt: Sequence[int], active: Sequence[int]) -> ParkedPlace | None:
        """The parked place sharing the longest prefix with `prompt`, if it beats the active one."""
        current = common_prefix_length(list(active), prompt)
        best: ParkedPlace | None = None
        best_common = current + MIN_TOKENS_SAVED - 1
        for place in self._parked.values():
            common = common_prefix_length(place.tokens, prompt)
            if common > best_common:
                best, best_common = place, common
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
