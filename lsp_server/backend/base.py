"""What every inference backend returns, independent of how it runs the model."""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


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


class BackendError(RuntimeError):
    """A request to the inference server failed (unreachable, refused, timed out, garbled).

    `str(error)` is one sentence for the user (never the API key); `reason` is the detail
    for the log; `retryable` says whether repeating an idempotent call may help.
    """

    def __init__(self, message: str, reason: str = "", retryable: bool = False) -> None:
        super().__init__(message)
        self.reason = reason or message
        self.retryable = retryable


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


@runtime_checkable
class Backend(Protocol):
    """What the completion engine needs from a model, wherever it runs.

    `LocalBackend` (in-process llama.cpp) and `HttpBackend` (llama-server or an
    OpenAI-compatible server) fit it. One thread uses a backend at a time (the
    scheduler's worker). `generate` raises `BackendError` when a remote call fails.
    """

    context_size: int
    # False: the backend cannot constrain the first token, so the engine keeps the
    # prompt's last token instead of healing it (and never calls `piece_index`).
    supports_token_healing: bool

    @property
    def metadata(self) -> Mapping[str, str]: ...

    def tokenize(self, text: str) -> list[int]: ...

    def token_id(self, text: str) -> int | None: ...

    def token_piece(self, token_id: int) -> bytes: ...

    def piece_index(self) -> object: ...

    def generate(
        self,
        prompt_tokens: Sequence[int],
        *,
        max_tokens: int,
        stop_ids: Collection[int] = (),
        temperature: float = 0.0,
        top_k: int = 40,
        top_p: float = 0.95,
        abort: threading.Event | None = None,
        on_text: Callable[[str], bool] | None = None,
        heal_text: str = "",
        heal_then_nonblank: bool = False,
    ) -> Generation: ...

    # True when `chat` can prompt the model as a conversation: a GGUF chat template
    # (local, llama-server's /props) or an OpenAI-compatible chat API. False for a base
    # model, which the features prompt by FIM through `generate` instead.
    can_chat: bool

    def chat(
        self,
        messages: Sequence[Mapping[str, str]],
        *,
        max_tokens: int,
        grammar: str | None = None,
        json_schema: Mapping[str, object] | None = None,
        answer_prefix: str = "",
        temperature: float = 0.0,
        abort: threading.Event | None = None,
        on_text: Callable[[str], bool] | None = None,
    ) -> Generation:
        """The assistant's answer to `messages`, continuing after `answer_prefix` (a pre-filled
        start of the answer, not part of the result). `grammar` (GBNF) constrains the whole
        answer after the prefix; `json_schema` is the same constraint as JSON Schema, for
        servers that take no grammar (a backend uses one of the two). Raises
        `chat.ChatTemplateError` when the model cannot chat, `BackendError` when a remote
        call fails."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class Prefilling(Protocol):
    """A backend that owns its KV cache (local llama.cpp): it can say what a prompt would cost
    and evaluate one ahead of time, so idle moments make the next keystroke cheap."""

    def pending_tokens(self, prompt_tokens: Sequence[int]) -> int:
        """How many of `prompt_tokens` a `generate` would evaluate now (the cache holds the rest)."""
        ...

    def prefill(self, prompt_tokens: Sequence[int], abort: threading.Event) -> int:
        """Evaluate `prompt_tokens` into the cache without generating, in small steps that check
        `abort`; return how many tokens were evaluated."""
        ...
