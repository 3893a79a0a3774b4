"""A scripted stand-in for a model, for exact placement tests (a real GGUF runs elsewhere).

Tokens are words, runs of punctuation, and runs of whitespace, so a test can say which
token the "model" finds surprising; the written answer is a fixed text.
"""

from __future__ import annotations

import re
import threading

from lsp_server.engine.surprise import SurpriseScorer
from lsp_server.features.review import WrittenReviewUnavailable

TOKEN = re.compile(r"\w+|[^\w\s]+|\s+")


class ScriptedModel:
    def __init__(self, answer: str | None = "[]", surprising: dict[str, float] | None = None,
                 context_size: int = 4096, writes: bool = True, expected: dict[str, str] | None = None,
                 after: dict[tuple[str, str], float] | None = None) -> None:
        self.answer = answer
        self.surprising = surprising or {}  # token text -> its surprise in nats
        self.context_size = context_size
        self.writes = writes
        self.expected = expected or {}  # token text -> the "model's" first choice there
        # (previous non-blank token, token) -> its surprise in nats: the one place where context counts
        self.after = after or {}
        self.vocab: list[str] = []
        self.ids: dict[str, int] = {}
        self.messages: list[list[dict]] = []
        self.grammars: list[str] = []
        self.scored: list[list[int]] = []
        self.verdicts: dict[int, float] = {}
        self.questions: list[list[dict]] = []

    def _id(self, text: str) -> int:
        if text not in self.ids:
            self.ids[text] = len(self.vocab)
            self.vocab.append(text)
        return self.ids[text]

    def tokenize(self, text: str) -> list[int]:
        return [self._id(match.group()) for match in TOKEN.finditer(text)]

    def piece(self, token: int) -> bytes:
        return self.vocab[token].encode("utf-8")

    def logprobs(self, tokens, abort):
        if abort is not None and abort.is_set():
            return None
        self.scored.append(list(tokens))
        # Ordinary tokens: 1.0-2.0 nats, varying so the file has a spread.
        values, previous = [], ""
        for index, token in enumerate(tokens):
            text = self.vocab[token]
            surprise = self.after.get((previous, text), self.surprising.get(text, 1.0 + (index % 5) * 0.25))
            values.append(-surprise)
            previous = text if text.strip() else previous
        return values

    def scores(self, tokens, abort):
        logprobs = self.logprobs(tokens, abort)
        if logprobs is None:
            return None
        # The "model's first choice" is always a 0.9-nat token: gaps follow the surprises.
        best_ids = [self._id(self.expected[self.vocab[token]]) if self.vocab[token] in self.expected else -1
                    for token in tokens]
        return logprobs, [-0.9] * len(logprobs), best_ids

    def surprise_scorer(self) -> SurpriseScorer:
        return SurpriseScorer(self.tokenize, self.piece, self.scores, self.context_size)

    def yes_no(self, messages, abort: threading.Event | None):
        """log P(no) - log P(yes): `verdicts` maps a line number to it (0.0 for other lines)."""
        if not self.writes:
            raise WrittenReviewUnavailable("this model has no chat template.")
        if abort is not None and abort.is_set():
            return None
        self.questions.append(messages)
        line = int(re.search(r"Is line (\d+) correct", messages[-1]["content"]).group(1))
        return self.verdicts.get(line, 0.0)

    def write(self, messages, grammar, max_tokens, abort: threading.Event | None):
        if not self.writes:
            raise WrittenReviewUnavailable("this model has no chat template.")
        if abort is not None and abort.is_set():
            return None
        self.messages.append(messages)
        self.grammars.append(grammar)
        return self.answer
