"""Does a GGUF behave like its source checkpoint? PyTorch reference vs llama.cpp on code prompts.

Both models see the same token ids (llama.cpp's tokenization of each prompt, plus one FIM
prompt built from the file's FIM token ids), so only the models are compared. Over every
position of every prompt we measure:

- max abs logit difference, and the same divided by the reference logits' standard
  deviation ("relative"), which makes it comparable across models whose logits have very
  different scales (a random tiny model vs a trained one);
- mean KL(reference || llama.cpp) of the next-token distributions, in nats;
- top-1 agreement: the share of positions where both pick the same next token.

Tolerances (exceeding any one fails ``--verify``). They were set with margin above what
was measured on tiny random checkpoints (tests/convert) and on a trained model (the real
Qwen2.5-Coder-0.5B, bench/convert/real_model.py; measured value in brackets where known):

    outtype   max rel diff      mean KL (nats)    top-1
    f32       0.01  [0.002]     1e-5              1.00  [1.00]
    f16       0.05  [0.018]     1e-4  [1.2e-6]    0.95  [1.00]
    bf16      0.10  [0.027]     1e-3              0.95
    q8_0      0.50  [0.27]      5e-3  [3.0e-4]    0.90  [0.994]
    q6_k      0.75  [0.30]      1e-2              0.85
    q5_k_m    1.00  [0.51]      2e-2              0.75
    q4_k_m    1.50  [0.83]      5e-2  [1.9e-3]    0.65  [0.994]
    q4_0      2.00  [1.07]      1e-1              0.60

Every quantized type has a floor of about 0.25 relative / 4e-4 KL on a trained model from
llama.cpp itself, which quantizes activations to 8 bits in quantized matmuls (the released
Q4_K_M file against its own dequantized weights measures 0.24 / 3.9e-4 / 98.7%). Top-1
minimums are low for 4-bit types because random-weight test models have near-tied top
logits (the max of 32k Gaussians), where any noise flips the winner; a trained model keeps
its top-1 far better (99.4% for q4_k_m above).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from convert.errors import ConvertError


@dataclass(frozen=True)
class Tolerance:
    max_relative_diff: float
    mean_kl: float
    min_top1: float


TOLERANCES: dict[str, Tolerance] = {
    "f32": Tolerance(0.01, 1e-5, 1.00),
    "f16": Tolerance(0.05, 1e-4, 0.95),
    "bf16": Tolerance(0.10, 1e-3, 0.95),
    "q8_0": Tolerance(0.50, 5e-3, 0.90),
    "q6_k": Tolerance(0.75, 1e-2, 0.85),
    "q5_k_m": Tolerance(1.00, 2e-2, 0.75),
    "q4_k_m": Tolerance(1.50, 5e-2, 0.65),
    "q4_0": Tolerance(2.00, 1e-1, 0.60),
}

CODE_PROMPTS: tuple[str, ...] = (
    "def fibonacci(n: int) -> int:\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n    if n < 2:\n        return n\n",
    "import os\nimport sys\n\n\ndef main(argv):\n    for path in argv[1:]:\n        with open(path) as f:\n",
    "function debounce(fn, ms) {\n  let timer;\n  return (...args) => {\n    clearTimeout(timer);\n",
    "#include <stdio.h>\n\nint main(void) {\n    for (int i = 0; i < 10; i++) {\n        printf(\"%d\\n\", i);\n",
)
FIM_PREFIX = "def is_prime(n):\n    if n < 2:\n        return False\n    for d in range(2, int(n ** 0.5) + 1):\n"
FIM_SUFFIX = "\n    return True\n"


@dataclass(frozen=True)
class VerifyReport:
    gguf_path: Path
    outtype: str | None
    prompts: int
    positions: int
    max_abs_diff: float
    logit_std: float
    mean_kl: float
    top1: float
    tolerance: Tolerance | None

    @property
    def max_relative_diff(self) -> float:
        return self.max_abs_diff / self.logit_std if self.logit_std > 0 else math.inf

    @property
    def failures(self) -> list[str]:
        if self.tolerance is None:
            return []
        problems = []
        if self.max_relative_diff > self.tolerance.max_relative_diff:
            problems.append(f"max rel diff {self.max_relative_diff:.4g} > {self.tolerance.max_relative_diff}")
        if self.mean_kl > self.tolerance.mean_kl:
            problems.append(f"mean KL {self.mean_kl:.3g} > {self.tolerance.mean_kl}")
        if self.top1 < self.tolerance.min_top1:
            problems.append(f"top-1 {self.top1:.1%} < {self.tolerance.min_top1:.0%}")
        return problems

    @property
    def passed(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        verdict = "no tolerance for this type" if self.tolerance is None else ("PASS" if self.passed else "FAIL")
        return (
            f"verify {self.gguf_path.name} ({self.outtype or 'unknown type'}) against the PyTorch reference, "
            f"{self.prompts} prompts / {self.positions} positions: "
            f"max abs logit diff {self.max_abs_diff:.4g} (logit std {self.logit_std:.4g}, relative "
            f"{self.max_relative_diff:.4g}), mean KL {self.mean_kl:.3g} nats, top-1 agreement {self.top1:.1%}: {verdict}"
        )


def verify(src_dir: str | Path, gguf_path: str | Path, outtype: str | None = None,
           threads: int | None = None, prompts: tuple[str, ...] = CODE_PROMPTS) -> VerifyReport:
    """Compare the reference model in ``src_dir`` with llama.cpp running ``gguf_path``."""
    src_dir, gguf_path = Path(src_dir), Path(gguf_path)
    token_lists = _llama_token_lists(gguf_path, prompts, threads)
    reference = _reference_logits(src_dir, token_lists)
    llama = _llama_logits(gguf_path, token_lists, threads)
    return compare(gguf_path, outtype, reference, llama)


def compare(gguf_path: Path, outtype: str | None, reference: list[np.ndarray], llama: list[np.ndarray]) -> VerifyReport:
    ref = np.concatenate(reference).astype(np.float64)
    got = np.concatenate(llama).astype(np.float64)
    if ref.shape != got.shape:
        raise ConvertError(f"{gguf_path} gives logits of shape {got.shape}, the reference {ref.shape}; the vocabularies differ.")
    log_p, log_q = _log_softmax(ref), _log_softmax(got)
    kl = np.sum(np.exp(log_p) * (log_p - log_q), axis=-1)
    return VerifyReport(
        gguf_path=gguf_path,
        outtype=outtype,
        prompts=len(reference),
        positions=ref.shape[0],
        max_abs_diff=float(np.max(np.abs(ref - got))),
        logit_std=float(np.std(ref)),
        mean_kl=float(np.mean(kl)),
        top1=float(np.mean(np.argmax(ref, axis=-1) == np.argmax(got, axis=-1))),
        tolerance=TOLERANCES.get(outtype) if outtype else None,
    )


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _reference_logits(src_dir: Path, token_lists: list[list[int]]) -> list[np.ndarray]:
    """Logits of the PyTorch reference model in float32, one prompt at a time."""
    import torch

    from model.checkpoint import CheckpointError, load_model
    from model.config import ConfigError

    try:
        model = load_model(src_dir, dtype="float32")
    except (CheckpointError, ConfigError) as err:
        raise ConvertError(str(err)) from None
    with torch.no_grad():
        return [model(torch.tensor([tokens]))[0].float().numpy() for tokens in token_lists]


def _open_llama(gguf_path: Path, n_ctx: int, threads: int | None, vocab_only: bool = False):  # type: ignore[no-untyped-def]
    from lsp_server.backend.probe import guarded_llama

    try:
        return guarded_llama(gguf_path, n_ctx=n_ctx, n_batch=n_ctx, n_ubatch=n_ctx, logits_all=True,
                             vocab_only=vocab_only, n_threads=threads, verbose=False)
    except ValueError as err:
        raise ConvertError(f"llama.cpp cannot load {gguf_path} ({err}).") from None


def _llama_token_lists(gguf_path: Path, prompts: tuple[str, ...], threads: int | None) -> list[list[int]]:
    import llama_cpp

    llm = _open_llama(gguf_path, 512, threads, vocab_only=True)
    try:
        lists = [llm.tokenize(prompt.encode(), add_bos=True, special=False) for prompt in prompts]
        vocab = llama_cpp.llama_model_get_vocab(llm.model)
        fim = [llama_cpp.llama_vocab_fim_pre(vocab), llama_cpp.llama_vocab_fim_suf(vocab), llama_cpp.llama_vocab_fim_mid(vocab)]
        if all(token >= 0 for token in fim):
            bos = [llm.token_bos()] if llama_cpp.llama_vocab_get_add_bos(vocab) and llm.token_bos() >= 0 else []
            prefix = llm.tokenize(FIM_PREFIX.encode(), add_bos=False, special=False)
            suffix = llm.tokenize(FIM_SUFFIX.encode(), add_bos=False, special=False)
            lists.append(bos + [fim[0]] + prefix + [fim[1]] + suffix + [fim[2]])
    finally:
        llm.close()
    return lists


def _llama_logits(gguf_path: Path, token_lists: list[list[int]], threads: int | None) -> list[np.ndarray]:
    n_ctx = max(len(tokens) for tokens in token_lists)
    n_ctx = max(64, -(-n_ctx // 64) * 64)
    llm = _open_llama(gguf_path, n_ctx, threads)
    try:
        result = []
        for tokens in token_lists:
            llm.reset()  # eval drops the KV cache from n_tokens (now 0) on
            llm.eval(tokens)
            result.append(np.array(llm.scores[: len(tokens)], dtype=np.float32))
        return result
    finally:
        llm.close()
