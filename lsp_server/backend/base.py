"""What every inference backend returns, independent of how it runs the model."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field


def common_prefix_length(left: Sequence[int], right: Sequence[int]) -> int:
    """How many leading tokens two token sequences share (the KV cache a new prompt can keep)."""
    count = 0
    for a, b in zip(left, right):
        if a != b:
            break
        count += 1
    return count


class ModelLoadError(RuntimeError):
    """The model file is missing, not a GGUF, or llama.cpp refused to load it.

    `str(error)` is one sentence for the user that says what to do; `reason` holds the
    underlying detail for the log.
    """

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason or message


class PromptTooLongError(ValueError):
    """The prompt does not fit the context window with room for any generated token."""


class StopReason(str, enum.Enum):
    END_OF_GENERATION = "eog"  # the model emitted an end/stop token
    MAX_TOKENS = "max_tokens"
    EARLY_STOP = "early_stop"  # the caller's streaming check said the suggestion is complete
    ABORTED = "aborted"  # superseded or cancelled


@dataclass
class GenerationStats:
    prompt_tokens: int = 0
    reused_tokens: int = 0  # prompt tokens whose KV entries were kept from the previous call
    evaluated_tokens: int = 0  # prompt tokens actually run through the model this call
    generated_tokens: int = 0
    prompt_ms: float = 0.0
    generate_ms: float = 0.0

    @property
    def total_ms(self) -> float:
        return self.prompt_ms + self.generate_ms


@dataclass
class Generation:
    text: str
    token_ids: list[int]
    stop_reason: StopReason
    stats: GenerationStats = field(default_factory=GenerationStats)
