"""Text generation with the KV cache: greedy, or temperature + top-p sampling.

CLI: ``python -m model generate DIR --prompt TEXT [--suffix TEXT] [--max-tokens N]
[--temperature T --top-p P --seed S]`` prints only the continuation on stdout (with
``--suffix``, the middle of a fill-in-the-middle prompt).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import torch
from torch import Tensor

from model.transformer import Transformer


@dataclass(frozen=True)
class Sampling:
    """temperature 0 means greedy (argmax); top_p keeps the smallest set of tokens with that much mass."""

    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise ValueError(f"temperature={self.temperature} must be >= 0 (0 is greedy).")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p={self.top_p} must be in (0, 1].")


def next_token(logits: Tensor, sampling: Sampling, generator: torch.Generator | None = None) -> int:
    """Pick one token id from logits [V]."""
    if sampling.temperature == 0:
        return int(logits.argmax())
    probs = torch.softmax(logits.float() / sampling.temperature, dim=-1)
    if sampling.top_p < 1:
        sorted_probs, order = probs.sort(descending=True)
        mass_before = sorted_probs.cumsum(-1) - sorted_probs
        sorted_probs[mass_before >= sampling.top_p] = 0  # the first token always survives
        probs = torch.zeros_like(probs).scatter_(-1, order, sorted_probs)
    return int(torch.multinomial(probs, 1, generator=generator))


@torch.no_grad()
def generate_stream(model: Transformer, prompt_ids: list[int], max_tokens: int = 64,
                    sampling: Sampling = Sampling(), stop_ids: Iterable[int] | None = None) -> Iterator[int]:
    """Yield generated token ids one by one; a stop token ends generation and is not yielded.

    ``stop_ids`` defaults to the config's EOS token(s).
    """
    if not prompt_ids:
        raise ValueError("the prompt is empty; give at least one token (e.g. BOS).")
    if max_tokens <= 0:
        return
    stops = set(model.config.eos_token_ids if stop_ids is None else stop_ids)
    device = model.model.embed_tokens.weight.device
    generator = None
    if sampling.seed is not None:
        generator = torch.Generator(device=device).manual_seed(sampling.seed)
    cache = model.new_cache(1, len(prompt_ids) + max_tokens)
    logits = model(torch.tensor([prompt_ids], device=device), cache)[0, -1]
    for step in range(max_tokens):
        token = next_token(logits, sampling, generator)
        if token in stops:
            return
        yield token
        if step + 1 < max_tokens:
            logits = model(torch.tensor([[token]], device=device), cache)[0, -1]


def generate(model: Transformer, prompt_ids: list[int], max_tokens: int = 64,
             sampling: Sampling = Sampling(), stop_ids: Iterable[int] | None = None) -> list[int]:
    return list(generate_stream(model, prompt_ids, max_tokens, sampling, stop_ids))


def continuation_text(tokenizer, prompt_ids: list[int], new_ids: list[int]) -> str:
    """Decode new tokens in the context of the prompt, so tokenizers that mark word starts decode right."""
    full = tokenizer.decode(prompt_ids + new_ids)
    head = tokenizer.decode(prompt_ids)
    return full[len(head):] if full.startswith(head) else tokenizer.decode(new_ids)


# ---- `python -m model generate` -------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", metavar="DIR", help="Hugging Face-layout checkpoint directory with tokenizer.json")
    parser.add_argument("--prompt", required=True, help="prompt text ('-' reads it from stdin)")
    parser.add_argument("--suffix", default=None,
                        help="text after the cursor: --prompt becomes the prefix of a fill-in-the-middle prompt "
                             "in the tokenizer's FIM format")
    parser.add_argument("--max-tokens", type=int, default=64, help="most tokens to generate (default 64)")
    parser.add_argument("--temperature", type=float, default=0.0, help="sampling temperature; 0 is greedy (default)")
    parser.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling mass (default 1.0)")
    parser.add_argument("--seed", type=int, default=None, help="random seed for sampling")
    parser.add_argument("--dtype", choices=("float32", "float16", "bfloat16"), default="float32",
                        help="weights dtype for the run (default float32)")
    parser.add_argument("--no-bos", action="store_true", help="never prepend BOS (by default it is added when tokenizer_config.json's add_bos_token says so, or the FIM family uses it)")


def run(args: argparse.Namespace) -> int:
    from model.checkpoint import load_model
    from model.tokenizer import Tokenizer

    sampling = Sampling(args.temperature, args.top_p, args.seed)
    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    tokenizer = Tokenizer.from_dir(args.checkpoint)
    model = load_model(args.checkpoint, dtype=args.dtype, progress=True)
    stop_ids = set(model.config.eos_token_ids) | ({tokenizer.eos_id} - {None})
    add_bos = tokenizer.adds_bos  # tokenizer_config's add_bos_token, as transformers does
    if args.suffix is not None:
        prompt, add_bos, fim_stop_ids = fim_request(tokenizer, prompt, args.suffix)
        stop_ids |= fim_stop_ids
    prompt_ids = tokenizer.encode(prompt, add_bos=add_bos and tokenizer.bos_id is not None and not args.no_bos)
    new_ids = generate(model, prompt_ids, args.max_tokens, sampling, stop_ids)
    sys.stdout.write(continuation_text(tokenizer, prompt_ids, new_ids))
    sys.stdout.flush()
    return 0


def fim_request(tokenizer, prefix: str, suffix: str) -> tuple[str, bool, set[int]]:
    """(FIM prompt text, whether the family starts with BOS, ids that end the middle) for the tokenizer's family."""
    from model.fim import detect_fim_format, fim_prompt

    fmt = detect_fim_format(tokenizer)
    if fmt is None:
        raise ValueError("--suffix needs a tokenizer with fill-in-the-middle tokens, and this one has none; drop --suffix.")
    stop_ids = {tokenizer.token_id(token) for token in fmt.stop_tokens} - {None}
    return fim_prompt(fmt, prefix, suffix), fmt.uses_bos, stop_ids
