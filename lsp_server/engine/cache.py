"""Completion cache keyed by the text around the cursor, with type-through.

Interface (used by features/completion.py):
    CompletionCache(max_entries=512, prefix_chars=1000, suffix_chars=200, max_typed_chars=200)
        .put(prefix: str, suffix: str, suggestion: str) -> None
        .get(prefix: str, suffix: str) -> str | None   # the text to show, or None on a miss
        .clear() -> None                                 # call when the model or settings change
        .hits / .type_through_hits / .misses: int        # counters for the bench

An entry is keyed by the last `prefix_chars` characters before the cursor and the first
`suffix_chars` after it. `get` first looks the cursor up as is; then, type-through, it
looks up earlier cursor positions on the same line: if the characters typed since such a
position are the start of the suggestion stored there, the rest of that suggestion comes
back without the model. Typing the whole suggestion ends the type-through (None).

Auto-closing editors: typing "(" may also insert ")" after the cursor. A stored entry
still matches when the new text after the cursor is the old one with closing characters
in front, and those closers end the remaining suggestion; they are then cut from it.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

_CLOSERS = frozenset(")]}\"'`")


@dataclass(frozen=True)
class _Entry:
    suggestion: str


class CompletionCache:
    def __init__(
        self, max_entries: int = 512, prefix_chars: int = 1000, suffix_chars: int = 200, max_typed_chars: int = 200
    ) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}.")
        self.max_entries = max_entries
        self.prefix_chars = prefix_chars
        self.suffix_chars = suffix_chars
        self.max_typed_chars = max_typed_chars
        self._entries: OrderedDict[bytes, _Entry] = OrderedDict()
        self.hits = 0
        self.type_through_hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def key(self, prefix: str, suffix: str) -> bytes:
        text = prefix[-self.prefix_chars :] + "\x00" + suffix[: self.suffix_chars]
        return hashlib.blake2b(text.encode("utf-8", errors="surrogatepass"), digest_size=16).digest()

    def put(self, prefix: str, suffix: str, suggestion: str) -> None:
        """Remember the suggestion shown for this cursor; empty suggestions are remembered too."""
        key = self.key(prefix, suffix)
        self._entries[key] = _Entry(suggestion)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def get(self, prefix: str, suffix: str) -> str | None:
        entry = self._lookup(self.key(prefix, suffix))
        if entry is not None:
            self.hits += 1
            return entry.suggestion
        rest = self._type_through(prefix, suffix)
        if rest is not None:
            self.type_through_hits += 1
            return rest
        self.misses += 1
        return None

    def clear(self) -> None:
        self._entries.clear()

    def _lookup(self, key: bytes) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def _type_through(self, prefix: str, suffix: str) -> str | None:
        furthest = max(0, len(prefix) - self.max_typed_chars)
        # Only the end of the prefix makes a key: don't copy a long document per position.
        window = prefix[-(self.prefix_chars + self.max_typed_chars) :]
        offset = len(prefix) - len(window)
        # Nearest earlier position first: it has the freshest suggestion.
        for position in range(len(prefix) - 1, furthest - 1, -1):
            typed = prefix[position:]
            for old_suffix, closers in _suffix_variants(suffix, typed):
                entry = self._lookup(self.key(window[: position - offset], old_suffix))
                if entry is None or not entry.suggestion.startswith(typed):
                    continue
                rest = entry.suggestion[len(typed) :]
                if closers:
                    if not rest.endswith(closers):
                        continue
                    rest = rest[: len(rest) - len(closers)]
                if not rest.strip():
                    return None
                self.put(prefix, suffix, rest)
                return rest
        return None


def _suffix_variants(suffix: str, typed: str) -> list[tuple[str, str]]:
    """(suffix before typing, closers the editor inserted) pairs worth looking up."""
    variants = [(suffix, "")]
    inserted = ""
    for char in suffix[: len(typed)]:
        if char not in _CLOSERS:
            break
        inserted += char
        variants.append((suffix[len(inserted) :], inserted))
    return variants
