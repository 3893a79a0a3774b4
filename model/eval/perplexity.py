"""Held-out perplexity over the first packed sequences of the held-out stream."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np


def sequences(stream: np.ndarray, seq_len: int, count: int) -> list[np.ndarray]:
    """Up to ``count`` consecutive windows of seq_len + 1 tokens (inputs [:-1], targets [1:])."""
    n = min(count, (len(stream) - 1) // seq_len)
    if n <= 0:
        raise ValueError(f"the held-out stream has {len(stream)} tokens, fewer than one sequence of {seq_len}.")
    return [stream[i * seq_len:i * seq_len + seq_len + 1].astype(np.int64) for i in range(n)]


def torch_perplexity(checkpoint: str | Path, windows: list[np.ndarray]) -> float:
    import torch
    import torch.nn.functional as F

    from model.checkpoint import load_model

    model = load_model(checkpoint, dtype="float32")
    total, count = 0.0, 0
    with torch.no_grad():
        for w in windows:
            tokens = torch.from_numpy(w)[None]
            logits = model(tokens[:, :-1])
            total += F.cross_entropy(logits[0].float(), tokens[0, 1:], reduction="sum").item()
            count += len(w) - 1
    return math.exp(total / count)


def llama_cpp_perplexity(gguf: str | Path, windows: list[np.ndarray], threads: int | None = None) -> float:
    from lsp_server.backend.probe import guarded_llama

    n_ctx = max(len(w) for w in windows)
    llm = guarded_llama(gguf, n_ctx=n_ctx, n_batch=n_ctx, n_threads=threads, logits_all=True, verbose=False)
    total, count = 0.0, 0
    for w in windows:
        llm.reset()
        llm.eval(w[:-1].tolist())
        logits = np.asarray(llm.scores[:len(w) - 1], dtype=np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        total -= log_probs[np.arange(len(w) - 1), w[1:]].sum()
        count += len(w) - 1
    return math.exp(total / count)
