"""The review's view of a model: token log-probabilities for surprise, and
grammar-constrained generation through the chat template for the written review.

    review_model_for(backend) -> LocalReviewModel | RemoteReviewModel

A model without a chat template (a base model such as the bundled one, or a tiny test
model) gets a plain instruction prompt instead; the grammar still makes its answer parse.

A remote server gives the written review only. Surprise needs the log-probability of
every token of the file (the prompt), and no server API here returns them reliably:
llama-server's /completion gives probabilities of generated tokens only (`n_probs`) and
its /v1/completions refuses `echo`; llama-cpp-python's `echo` + `logprobs` pairs each
prompt token with the next position's distribution unless the model adds a BOS token
(llama_cpp/llama.py, `_create_completion`). The review says so once and runs the written signal.
"""

from __future__ import annotations

import math
import threading

from lsp_server.backend.base import StopReason
from lsp_server.engine.findings import FINDINGS_SCHEMA
from lsp_server.engine.surprise import SurpriseScorer
from lsp_server.features.review import REVIEW_WINDOW_LINES, WrittenReviewUnavailable

MIN_ANSWER_TOKENS = 48  # room for at least one short finding
# Lines per written-review window: the prompt (~200 tokens of instructions, ~12 per numbered
# line) and an answer must fit the context; a 512-token model reviews 15 lines at a time.
PROMPT_OVERHEAD_TOKENS = 260
TOKENS_PER_LINE = 14
MIN_WINDOW_LINES = 12


REMOTE_SURPRISE_NOTE = (
    "the surprise signal needs the log-probability of every token of the file, which a remote "
    "inference server does not return; this review used the written signal only."
)
MESSAGE_OVERHEAD_TOKENS = 8  # the template's role markers around each message


def review_model_for(backend):
    """The in-process model gives both signals; a remote one the written review."""
    return LocalReviewModel(backend) if hasattr(backend, "token_scores") else RemoteReviewModel(backend)


def _window_lines(context_size: int) -> int:
    room = context_size - PROMPT_OVERHEAD_TOKENS - 160
    return max(MIN_WINDOW_LINES, min(REVIEW_WINDOW_LINES, room // TOKENS_PER_LINE))


def _too_long(context_size: int) -> WrittenReviewUnavailable:
    return WrittenReviewUnavailable(
        f"the code is too long for a written review in a {context_size}-token context; review less."
    )


class LocalReviewModel:
    surprise_unavailable: str | None = None

    def __init__(self, backend) -> None:
        self.backend = backend

    @property
    def window_lines(self) -> int:
        return _window_lines(self.backend.context_size)

    def calibration(self, abort: threading.Event | None = None, progress=None):
        """This model's review thresholds (features/review_calibration.py): cached, or computed now."""
        from lsp_server.features.review_calibration import calibration_for

        return calibration_for(self, self.backend.model_path, abort=abort, progress=progress)

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
            raise _too_long(backend.context_size)
        # A small context gets a shorter answer: a list cut short still parses (complete findings kept).
        max_tokens = min(max_tokens, room)
        generation = backend.generate(prompt, max_tokens=max_tokens, temperature=0.0, abort=abort, grammar=grammar)
        if generation.stop_reason is StopReason.ABORTED:
            return None
        return generation.text

    def yes_no(self, messages: list[dict], abort: threading.Event | None) -> float | None:
        """log P(no) - log P(yes) for the first token of the model's answer (both spellings,
        "yes"/"Yes", "no"/"No"), read from one forward pass: the answer is constrained to
        the two words by construction, so it always "parses". The prompt is scored with the
        KV cache's common prefix reused, so questions about several lines of the same code
        evaluate only the question after the first one."""
        from lsp_server.engine import chat

        backend = self.backend
        try:
            prompt = chat.chat_prompt(backend, messages)
        except chat.ChatTemplateError:
            prompt = self._plain_prompt(messages, "Answer (yes or no):")
        if len(prompt) + 1 > backend.context_size:
            raise WrittenReviewUnavailable(
                f"the code is too long to ask about one line in a {backend.context_size}-token context; review less."
            )
        logprob = {}
        for word in ("yes", "no"):
            values = []
            for token in self._answer_tokens(word):
                scored = backend.token_scores([*prompt, token], abort=abort)
                if scored is None:
                    return None
                values.append(scored[0][-1])
            logprob[word] = _logsumexp(values)
        return logprob["no"] - logprob["yes"]

    def _answer_tokens(self, word: str) -> list[int]:
        """The distinct first tokens of the answer's spellings ("yes", "Yes")."""
        tokens = []
        for spelling in (word, word.capitalize()):
            ids = self.backend.tokenize(spelling)
            if ids and ids[0] not in tokens:
                tokens.append(ids[0])
        return tokens

    def _plain_prompt(self, messages: list[dict], cue: str = "Findings as JSON:") -> list[int]:
        """A base model: the messages as an instruction document; the grammar constrains the answer alike."""
        text = "\n\n".join(message["content"] for message in messages) + f"\n\n{cue}\n"
        return [*self._bos(), *self.backend.tokenize(text)]


class RemoteReviewModel:
    """The written review through the server's chat (`Backend.chat`, grammar or JSON Schema);
    a base model behind llama-server gets the plain prompt, constrained by the same grammar."""

    surprise_unavailable = REMOTE_SURPRISE_NOTE

    def __init__(self, backend) -> None:
        self.backend = backend

    @property
    def window_lines(self) -> int:
        return _window_lines(self.backend.context_size)

    def surprise_scorer(self) -> None:
        return None

    def write(self, messages: list[dict], grammar: str, max_tokens: int, abort: threading.Event | None) -> str | None:
        backend = self.backend
        if backend.can_chat:
            # The server applies the template: its length is estimated from the messages' tokens.
            prompt_tokens = sum(len(backend.tokenize(m["content"])) + MESSAGE_OVERHEAD_TOKENS for m in messages)
        else:
            prompt = self._plain_prompt(messages)
            prompt_tokens = len(prompt)
        room = backend.context_size - prompt_tokens
        if room < MIN_ANSWER_TOKENS:
            raise _too_long(backend.context_size)
        max_tokens = min(max_tokens, room)
        if backend.can_chat:
            generation = backend.chat(messages, max_tokens=max_tokens, grammar=grammar, json_schema=FINDINGS_SCHEMA,
                                      temperature=0.0, abort=abort)
        else:
            generation = backend.generate(prompt, max_tokens=max_tokens, temperature=0.0, abort=abort, grammar=grammar)
        if generation.stop_reason is StopReason.ABORTED:
            return None
        return generation.text

    def _plain_prompt(self, messages: list[dict]) -> list[int]:
        text = "\n\n".join(message["content"] for message in messages) + "\n\nFindings as JSON:\n"
        bos = self.backend.metadata.get("tokenizer.ggml.bos_token_id")
        adds_bos = str(self.backend.metadata.get("tokenizer.ggml.add_bos_token", "false")).lower() == "true"
        return [*((int(bos),) if bos is not None and adds_bos else ()), *self.backend.tokenize(text)]
def _logsumexp(values: list[float]) -> float:
    if not values:
        return -math.inf
    top = max(values)
    if top == -math.inf:
        return top
    return top + math.log(sum(math.exp(value - top) for value in values))
