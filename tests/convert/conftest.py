"""Tiny random checkpoints (built by model.tiny with the real DeepSeek-Coder tokenizer) and converted GGUFs.

Everything is made once per session: each checkpoint is a few MB and each conversion takes
well under a second, except the K-quant ones (llama.cpp's quantizer), which are made lazily.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from convert.pipeline import convert_checkpoint
from model.assets import default_vocab_path
from model.tiny import write_tiny_checkpoint

# name -> ModelConfig overrides of model.tiny's DeepSeek-Coder-shaped config
# (llama, MHA 4 heads of 16, linear rope x4, untied head, hidden 64, ffn 172).
CHECKPOINTS: dict[str, dict[str, object]] = {
    "mha_linear_rope_untied": {},
    "gqa_tied": {"num_kv_heads": 2, "tie_word_embeddings": True, "rope_scaling_factor": None},
    # every row a multiple of 256 so that the K-quants apply everywhere; GQA 4:1, tied
    "wide_gqa": {"hidden_size": 256, "intermediate_size": 512, "num_heads": 4, "num_kv_heads": 1,
                 "tie_word_embeddings": True},
    # like DeepSeek-Coder-1.3B's 5504, an ffn width of 640 is 128 past a multiple of 256: ffn_down falls back
    "wide_ffn_640": {"hidden_size": 256, "intermediate_size": 640, "num_heads": 4},
    "qwen2_bias_tied": {"arch": "qwen2", "attention_bias": True, "tie_word_embeddings": True, "num_kv_heads": 2,
                        "rope_scaling_factor": None, "rope_theta": 1000000.0},
}


@pytest.fixture(scope="session")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """``checkpoints(name)``: the directory of a tiny checkpoint from CHECKPOINTS (made on first use)."""
    if not default_vocab_path().is_file():
        pytest.fail(f"{default_vocab_path()} is missing: it is package data of model/ (model/vocab_data).")
    root = tmp_path_factory.mktemp("checkpoints")
    made: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in made:
            made[name] = write_tiny_checkpoint(root / name, seed=len(made) + 1, **CHECKPOINTS[name])
        return made[name]

    return get


@pytest.fixture(scope="session")
def converted(tmp_path_factory: pytest.TempPathFactory, checkpoints: Callable[[str], Path]) -> Callable[[str, str], Path]:
    """``converted(checkpoint_name, outtype)``: the GGUF our converter makes (made on first use)."""
    root = tmp_path_factory.mktemp("gguf")
    made: dict[tuple[str, str], Path] = {}

    def get(name: str, outtype: str) -> Path:
        if (name, outtype) not in made:
            made[name, outtype] = convert_checkpoint(checkpoints(name), root / f"{name}-{outtype}.gguf", outtype,
                                                     threads=2, log=lambda _message: None)
        return made[name, outtype]

    return get


@pytest.fixture
def checkpoint_copy(tmp_path: Path, checkpoints: Callable[[str], Path]) -> Callable[[str], Path]:
    """A private copy of a tiny checkpoint that a test may damage."""

    def copy(name: str = "mha_linear_rope_untied") -> Path:
        target = tmp_path / f"{name}-copy"
        shutil.copytree(checkpoints(name), target)
        return target

    return copy
