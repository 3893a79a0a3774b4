"""Shared helpers for the model/ tests: tiny configs and randomly initialised HF checkpoints."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from model.config import ModelConfig
from model.transformer import Transformer

VOCAB = 512


def tiny_config(arch: str = "llama", **overrides) -> ModelConfig:
    fields = dict(
        arch=arch, vocab_size=VOCAB, hidden_size=64, intermediate_size=160, num_layers=2,
        num_heads=4, num_kv_heads=4, rms_norm_eps=1e-6, rope_theta=10000.0,
        max_position_embeddings=256, attention_bias=arch == "qwen2",
        tie_word_embeddings=False, bos_token_id=1, eos_token_id=2, torch_dtype="float32",
    )
    fields.update(overrides)
    return ModelConfig(**fields)


@torch.no_grad()
def randomize_(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Random values in every parameter, norms and biases included, so each one is exercised."""
    generator = torch.Generator().manual_seed(seed)
    for name, param in sorted(module.named_parameters()):
        if "norm" in name:
            param.copy_(torch.rand(param.shape, generator=generator) + 0.5)
        else:
            param.copy_(torch.randn(param.shape, generator=generator) * 0.08)
    return module


def hf_model(config: ModelConfig, seed: int = 0):
    """A transformers LlamaForCausalLM / Qwen2ForCausalLM built from our config.json, randomly initialised."""
    import transformers

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hf_config = transformers.AutoConfig.for_model(**config.to_hf())
        model = transformers.AutoModelForCausalLM.from_config(hf_config)
    return randomize_(model, seed).eval()


def random_model(config: ModelConfig, seed: int = 0) -> Transformer:
    return randomize_(Transformer(config), seed).eval()


@pytest.fixture(autouse=True)
def single_torch_thread():
    """Tiny models run fastest on one thread; on a shared 2-core machine extra threads only contend."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def tokens() -> Callable[..., torch.Tensor]:
    def make(batch: int = 2, length: int = 24, seed: int = 0) -> torch.Tensor:
        return torch.randint(0, VOCAB, (batch, length), generator=torch.Generator().manual_seed(seed))

    return make


@pytest.fixture(scope="session")
def saved_checkpoint(tmp_path_factory) -> Callable[..., Path]:
    """A factory: save a random model of the given config with our save_checkpoint (cached per config)."""
    from model.checkpoint import save_checkpoint

    cache: dict[tuple, Path] = {}

    def make(config: ModelConfig, seed: int = 0, max_shard_bytes: int = 2 * 1024**3) -> Path:
        key = (config, seed, max_shard_bytes)
        if key not in cache:
            out = tmp_path_factory.mktemp("ckpt") / "model"
            save_checkpoint(out, config, random_model(config, seed).state_dict(), max_shard_bytes=max_shard_bytes)
            cache[key] = out
        return cache[key]

    return make


# The helpers as fixtures, so test modules never import conftest (other test folders have their own).
@pytest.fixture
def make_config() -> Callable[..., ModelConfig]:
    return tiny_config


@pytest.fixture
def make_hf_model() -> Callable:
    return hf_model


@pytest.fixture
def make_model() -> Callable[..., Transformer]:
    return random_model
