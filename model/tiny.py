"""Tiny randomly initialised DeepSeek-Coder-shaped checkpoints for tests.

``python -m model.tiny OUT_DIR [--seed N]`` writes a ``LlamaForCausalLM`` checkpoint with
DeepSeek-Coder's hyper-parameter shape (MHA, rope_theta 1e5, linear rope scaling ×4, untied
head, BOS 32013 / EOS 32014) in about 17 MB (mostly the two 32256×64 embedding matrices),
with the real DeepSeek-Coder tokenizer rebuilt from ``shared/vocab/ggml-vocab-deepseek-coder.gguf``.
Weights depend only on the seed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch

from model.assets import DEEPSEEK_CODER_VOCAB, default_vocab_path
from model.checkpoint import save_checkpoint
from model.config import ModelConfig
from model.transformer import Transformer
from model.vocab import read_gguf_vocab, write_vocab_files

INIT_STD = 0.02

TINY_CONFIG: dict[str, Any] = {
    "arch": "llama",
    "vocab_size": 32256,
    "hidden_size": 64,
    "intermediate_size": 172,
    "num_layers": 2,
    "num_heads": 4,
    "num_kv_heads": 4,
    "rms_norm_eps": 1e-6,
    "rope_theta": 100000.0,
    "rope_scaling_factor": 4.0,
    "max_position_embeddings": 16384,
    "attention_bias": False,
    "tie_word_embeddings": False,
    "bos_token_id": 32013,
    "eos_token_id": 32014,
    "torch_dtype": "float32",
}


class TinyModelError(ValueError):
    """The tiny checkpoint cannot be built as asked."""


def tiny_config(**overrides: Any) -> ModelConfig:
    """The tiny DeepSeek-Coder-shaped config, with ModelConfig field overrides."""
    unknown = sorted(set(overrides) - set(ModelConfig.__dataclass_fields__))
    if unknown:
        raise TinyModelError(f"unknown config override(s) {unknown}; use ModelConfig field names such as num_layers.")
    return ModelConfig(**{**TINY_CONFIG, **overrides})


def tiny_state_dict(config: ModelConfig, seed: int) -> dict[str, torch.Tensor]:
    """Weights drawn from normal(0, 0.02) by a generator seeded with ``seed`` (norms at 1)."""
    model = Transformer(config)
    model.init_weights(std=INIT_STD, generator=torch.Generator().manual_seed(seed))
    return model.state_dict()


def write_tiny_checkpoint(
    out_dir: str | Path, seed: int = 0, vocab_gguf: str | Path | None = None, **config_overrides: Any
) -> Path:
    """Write a tiny random checkpoint with the real DeepSeek-Coder tokenizer; returns ``out_dir``."""
    vocab_path = Path(vocab_gguf) if vocab_gguf is not None else default_vocab_path()
    if not vocab_path.is_file():
        raise TinyModelError(
            f"DeepSeek-Coder vocabulary {vocab_path} is missing; reinstall seekcode (it ships in "
            "model/vocab_data) or pass vocab_gguf."
        )
    config = tiny_config(**config_overrides)
    vocab = read_gguf_vocab(vocab_path)
    if config.vocab_size < len(vocab.tokens):
        raise TinyModelError(
            f"vocab_size={config.vocab_size} is smaller than the tokenizer's {len(vocab.tokens)} tokens; leave it at 32256."
        )
    state_dict = tiny_state_dict(config, seed)
    with tempfile.TemporaryDirectory(prefix="seekcode-tiny-tokenizer-") as tokenizer_dir:
        write_vocab_files(vocab, tokenizer_dir)
        return save_checkpoint(out_dir, config, state_dict, tokenizer_src=tokenizer_dir)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out_dir", type=Path, help="checkpoint directory to write (replaced if it is one)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the weights (default 0)")
    parser.add_argument("--vocab", type=Path, default=None,
                        help=f"DeepSeek-Coder vocab GGUF (default: the packaged model/vocab_data/{DEEPSEEK_CODER_VOCAB})")


def run(args: argparse.Namespace) -> int:
    print(write_tiny_checkpoint(args.out_dir, seed=args.seed, vocab_gguf=args.vocab))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model.tiny", description="write a tiny random DeepSeek-Coder-shaped checkpoint")
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except (ValueError, OSError) as exc:  # TinyModelError, VocabError, ConfigError, CheckpointError
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
