"""Abort flags for tests that say where an abort lands."""

from __future__ import annotations

import threading


class AbortInsideBatch(threading.Event):
    """An abort flag that turns set at its first look from inside llama.cpp's evaluation of the
    batch that starts at cache position `at`: the backend's abort callback looks between the
    compute graph's operations, so the abort lands in the middle of that batch."""

    def __init__(self, backend, at: int) -> None:
        super().__init__()
        self.backend = backend
        self.at = at
        self.looked_inside = False

    def is_set(self) -> bool:
        if self.backend._abort is self and self.backend._llama.n_tokens == self.at:
            self.looked_inside = True
        return self.looked_inside or super().is_set()


class AbortAfterLooks(threading.Event):
    """An abort flag that turns set after `looks` looks by the backend between batches and tokens
    (once per prompt batch, once per generated token), so it stops a generation after a fixed
    amount. The abort callback's looks from inside llama.cpp's evaluation do not count."""

    def __init__(self, backend, looks: int) -> None:
        super().__init__()
        self.backend = backend
        self.looks = looks

    def is_set(self) -> bool:
        if self.backend._abort is not self:
            self.looks -= 1
        return self.looks < 0 or super().is_set()
