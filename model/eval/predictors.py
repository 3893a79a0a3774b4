"""Next-line predictors: each turns a ``LineCase`` into the first line it generates.

- ``TorchFimPredictor``: our PyTorch reference model on a checkpoint, DeepSeek-Coder FIM (PSM or SPM).
- ``LlamaCppFimPredictor``: a GGUF through llama.cpp in its family's FIM format (PSM or SPM). Prompts are built
  as token lists: prefix and suffix are tokenized as plain text (``special=False``) and the
  marker ids spliced in (llama-cpp-python's ``suffix=`` path is not used).
- ``NgramPredictor``: the n-gram baseline, which sees the prefix only.

All are greedy and stop at the first newline, a stop token or ``max_tokens``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from model.eval.cases import LineCase
from model.fim import FimFormat, fim_format

MAX_TOKENS = 64


def fim_prompt_ids(fmt: FimFormat, encode: Callable[[str], list[int]], marker_id: Callable[[str], int],
                   bos_id: int | None, prefix: str, suffix: str, budget: int, mode: str = "psm") -> list[int]:
    """FIM prompt ids in ``mode``: ``psm`` (prefix, suffix, then the middle marker) or ``spm`` (as
    DeepSeek-Coder trains it: prefix and suffix markers, the suffix, the middle marker, then the prefix,
    which the answer continues). The prefix loses tokens from its start to fit ``budget`` (the suffix
    from its end only when it alone is too long)."""
    if mode not in ("psm", "spm"):
        raise ValueError(f"FIM mode must be psm or spm, got {mode!r}.")
    prefix_ids, suffix_ids = encode(prefix), encode(suffix)
    head = [bos_id] if fmt.uses_bos and bos_id is not None else []
    fixed = len(head) + 3
    room = max(0, budget - fixed)
    suffix_ids = suffix_ids[:room]
    prefix_ids = prefix_ids[len(prefix_ids) - min(len(prefix_ids), room - len(suffix_ids)):]
    begin, hole, end = marker_id(fmt.prefix_token), marker_id(fmt.suffix_token), marker_id(fmt.middle_token)
    if mode == "spm":
        return [*head, begin, hole, *suffix_ids, end, *prefix_ids]
    return [*head, begin, *prefix_ids, hole, *suffix_ids, end]


def first_line(tokens: Iterable[int], decode: Callable[[list[int]], str], stop_ids: set[int],
               max_tokens: int = MAX_TOKENS) -> str:
    """Consume generated tokens until the decoded text has a newline; return the text before it."""
    generated: list[int] = []
    for token in tokens:
        if token in stop_ids:
            break
        generated.append(token)
        text = decode(generated)
        if "\n" in text or len(generated) >= max_tokens:
            break
    return decode(generated).split("\n", 1)[0]


class TorchFimPredictor:
    """Our PyTorch reference model (greedy, KV cache) on a Hugging Face-layout checkpoint."""

    def __init__(self, checkpoint: str | Path, family: str = "deepseek-coder", mode: str = "psm") -> None:
        from model.checkpoint import load_model
        from model.tokenizer import Tokenizer

        self.tokenizer = Tokenizer.from_dir(checkpoint)
        self.model = load_model(checkpoint, dtype="float32")
        self.fmt = fim_format(family)
        self.mode = mode
        self.budget = self.model.config.max_position_embeddings - MAX_TOKENS
        self.stop_ids = {self.tokenizer.token_id(t) for t in self.fmt.stop_tokens} - {None}

    def prompt_ids(self, case: LineCase) -> list[int]:
        return fim_prompt_ids(self.fmt, lambda t: self.tokenizer.encode(t, parse_special=False),
                              self._marker, self.tokenizer.bos_id, case.prefix, case.suffix, self.budget, self.mode)

    def _marker(self, text: str) -> int:
        token_id = self.tokenizer.token_id(text)
        if token_id is None:
            raise ValueError(f"the checkpoint's tokenizer has no {text!r} token; it is not a {self.fmt.family} model.")
        return token_id

    def predict(self, case: LineCase) -> str:
        from model.generate import generate_stream

        stream = generate_stream(self.model, self.prompt_ids(case), MAX_TOKENS, stop_ids=self.stop_ids)
        return first_line(stream, self.tokenizer.decode, self.stop_ids)


class LlamaCppFimPredictor:
    """A GGUF through llama-cpp-python, greedy, in the FIM format of ``family``."""

    def __init__(self, gguf: str | Path, family: str, n_ctx: int = 2048, threads: int | None = None,
                 mode: str = "psm") -> None:
        from lsp_server.backend.probe import guarded_llama

        self.fmt = fim_format(family)
        self.mode = mode
        self.llm = guarded_llama(gguf, n_ctx=n_ctx, n_threads=threads, n_batch=512, verbose=False)
        self.budget = min(n_ctx, self.llm.n_ctx()) - MAX_TOKENS
        self.stop_ids = {self.llm.token_eos()} | {i for t in self.fmt.stop_tokens if (i := self._token(t)) is not None}

    def _token(self, text: str) -> int | None:
        ids = self.llm.tokenize(text.encode(), add_bos=False, special=True)
        return ids[0] if len(ids) == 1 else None

    def _marker(self, text: str) -> int:
        token_id = self._token(text)
        if token_id is None:
            raise ValueError(f"{text!r} is not a single token of this GGUF; pick the model's FIM family.")
        return token_id

    def _encode(self, text: str) -> list[int]:
        return self.llm.tokenize(text.encode(), add_bos=False, special=False) if text else []

    def _decode(self, ids: list[int]) -> str:
        return self.llm.detokenize(ids).decode("utf-8", errors="ignore")

    def prompt_ids(self, case: LineCase) -> list[int]:
        return fim_prompt_ids(self.fmt, self._encode, self._marker, self.llm.token_bos(), case.prefix, case.suffix,
                              self.budget, self.mode)

    def predict(self, case: LineCase) -> str:
        stream = self.llm.generate(self.prompt_ids(case), top_k=1, top_p=1.0, min_p=0.0, temp=0.0,
                                   repeat_penalty=1.0)
        return first_line(stream, self._decode, self.stop_ids)


class NgramPredictor:
    """The n-gram baseline: greedy tokens after BOS + the prefix (it cannot use the suffix)."""

    def __init__(self, model, tokenizer) -> None:
        self.model = model
        self.tokenizer = tokenizer

    def predict(self, case: LineCase) -> str:
        context: Sequence[int] = [self.tokenizer.bos_id, *self.tokenizer.encode(case.prefix, parse_special=False)]
        stop_ids = frozenset({self.tokenizer.eos_id, self.tokenizer.bos_id} - {None})
        return self.model.complete_line(context, self.tokenizer.decode, MAX_TOKENS, stop_ids)
