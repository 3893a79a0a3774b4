"""The review's view of a loaded llama.cpp model: token log-probabilities for surprise,
and grammar-constrained generation through the GGUF's chat template for the written review.

A model without a chat template (a base model such as the bundled one, or a tiny test
model) gets a plain instruction prompt instead; the grammar still makes its answer parse.
"""

from __future__ import annotations

import threading

from lsp_server.backend.base import StopReason
from lsp_server.engine.surprise import SurpriseScorer
from lsp_server.features.review import WrittenReviewUnavailable


class LocalReviewModel:
    def __init__(self, backend) -> None:
        self.backend = backend

    def surprise_scorer(self) -> SurpriseScorer:
        backend = self.backend
        return SurpriseScorer(
            tokenize=backend.tokenize,
            piece=backend.token_piece,
            logprobs=lambda tokens, abort: backend.token_logprobs(tokens, abort=abort),
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

        try:
            generation = chat.generate_constrained(self.backend, messages, grammar, max_tokens=max_tokens, abort=abort)
        except chat.ChatTemplateError:
            generation = self._plain(messages, grammar, max_tokens, abort)
        if generation.stop_reason is StopReason.ABORTED:
            return None
        return generation.text

    def _plain(self, messages: list[dict], grammar: str, max_tokens: int, abort: threading.Event | None):
        """A base model: the messages as an instruction document, the answer constrained alike."""
        backend = self.backend
        text = "\n\n".join(message["content"] for message in messages) + "\n\nFindings as JSON:\n"
        prompt = [*self._bos(), *backend.tokenize(text)]
        room = backend.context_size - max_tokens
        if len(prompt) > room:
            raise WrittenReviewUnavailable(
                f"the code is too long for a written review in a {backend.context_size}-token context; review less."
            )
        return backend.generate(prompt, max_tokens=max_tokens, abort=abort, grammar=grammar)
