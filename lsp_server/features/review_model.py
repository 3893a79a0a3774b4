"""The review's view of a loaded llama.cpp model: token log-probabilities for surprise,
and grammar-constrained generation through the GGUF's chat template for the written review.

A model without a chat template (a base model such as the bundled one, or a tiny test
model) gets a plain instruction prompt instead; the grammar still makes its answer parse.
"""

from __future__ import annotations

import threading

from lsp_server.backend.base import StopReason
from lsp_server.engine.surprise import SurpriseScorer
from lsp_server.features.review import REVIEW_WINDOW_LINES, WrittenReviewUnavailable

MIN_ANSWER_TOKENS = 48  # room for at least one short finding
# Lines per written-review window: the prompt (~200 tokens of instructions, ~12 per numbered
# line) and an answer must fit the context; a 512-token model reviews 15 lines at a time.
PROMPT_OVERHEAD_TOKENS = 260
TOKENS_PER_LINE = 14
MIN_WINDOW_LINES = 12


class LocalReviewModel:
    def __init__(self, backend) -> None:
        self.backend = backend

    @property
    def window_lines(self) -> int:
        room = self.backend.context_size - PROMPT_OVERHEAD_TOKENS - 160
        return max(MIN_WINDOW_LINES, min(REVIEW_WINDOW_LINES, room // TOKENS_PER_LINE))

    def surprise_scorer(self) -> SurpriseScorer:
        backend = self.backend
        return SurpriseScorer(
            tokenize=backend.tokenize,
            piece=backend.token_piece,
            scores=lambda tokens, abort: backend.token_scores(tokens, abort=abort),
            context_size=backend.context_size,
            prefix_tokens=self._bos(),
        )

    def _bos(self) -> tuple[int, ...]:
        metadata = self.backend.metadata
        bos = metadata.get("tokenizer.ggml.bos_token_id")
        adds_bos = str(metadata.get("tokenizer.ggml.add_bos_token", "false")).lower() == "true"
        return (int(bos),) if bos is not None and adds_bos else ()

    def write(self, messages: list[dict], grammar: str, max_tokens: int, abort: threading.Event | None) -> str | None:
        from lsp_server.engine import chat

        backend = self.backend
        try:
            prompt = chat.chat_prompt(backend, messages)
        except chat.ChatTemplateError:
            prompt = self._plain_prompt(messages)
        room = backend.context_size - len(prompt)
        if room < MIN_ANSWER_TOKENS:
            raise WrittenReviewUnavailable(
                f"the code is too long for a written review in a {backend.context_size}-token context; review less."
            )
        # A small context gets a shorter answer: a list cut short still parses (complete findings kept).
        max_tokens = min(max_tokens, room)
        generation = backend.generate(prompt, max_tokens=max_tokens, temperature=0.0, abort=abort, grammar=grammar)
        if generation.stop_reason is StopReason.ABORTED:
            return None
        return generation.text

    def _plain_prompt(self, messages: list[dict]) -> list[int]:
        """A base model: the messages as an instruction document; the grammar constrains the answer alike."""
        text = "\n\n".join(message["content"] for message in messages) + "\n\nFindings as JSON:\n"
        return [*self._bos(), *self.backend.tokenize(text)]
