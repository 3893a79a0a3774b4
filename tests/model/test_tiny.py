"""model.tiny writes a loadable DeepSeek-Coder-shaped checkpoint whose weights depend only on the seed."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from vocab_assets import vocab_gguf

from model.checkpoint import load_model, open_checkpoint
from model.fim import DEEPSEEK_CODER, detect_fim_format, fim_prompt
from model.tiny import TinyModelError, main as tiny_main, tiny_config, tiny_state_dict, write_tiny_checkpoint
from model.tokenizer import Tokenizer


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "seed0", seed=0, vocab_gguf=vocab_gguf("deepseek-coder"))


def test_config_has_deepseek_coder_shape(tiny_dir: Path) -> None:
    config = open_checkpoint(tiny_dir).config
    assert config.arch == "llama" and config.vocab_size == 32256
    assert config.num_heads == config.num_kv_heads == 4  # MHA, as DeepSeek-Coder
    assert (config.rope_theta, config.rope_scaling_factor) == (100000.0, 4.0)
    assert (config.bos_token_id, config.eos_token_id) == (32013, 32014)
    assert not config.tie_word_embeddings


def test_checkpoint_carries_the_real_deepseek_tokenizer(tiny_dir: Path) -> None:
    tokenizer = Tokenizer.from_dir(tiny_dir)
    assert (tokenizer.bos_id, tokenizer.eos_id, tokenizer.vocab_size) == (32013, 32014, 32256)
    assert tokenizer.encode("Hello world") == [17535, 1835]
    assert detect_fim_format(tokenizer) is DEEPSEEK_CODER


def test_checkpoint_loads_and_gives_modest_logits_for_a_fim_prompt(tiny_dir: Path) -> None:
    model = load_model(tiny_dir)
    tokenizer = Tokenizer.from_dir(tiny_dir)
    ids = tokenizer.encode(fim_prompt(DEEPSEEK_CODER, "def f(x):\n    ", "\n"), add_bos=True)
    with torch.no_grad():
        logits = model(torch.tensor([ids]))
    assert logits.shape == (1, len(ids), 32256)
    assert torch.isfinite(logits).all()
    assert 0.01 < logits.std().item() < 2.0  # normal(0, 0.02) init: near-uniform, not degenerate


def test_same_seed_same_weights_through_the_cli(tiny_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "again"
    assert tiny_main([str(out), "--seed", "0", "--vocab", str(vocab_gguf("deepseek-coder"))]) == 0
    first, second = open_checkpoint(tiny_dir), open_checkpoint(out)
    assert first.names() == second.names()
    for name in first.names():
        assert torch.equal(first.get(name), second.get(name)), name


def test_different_seeds_give_different_weights(tiny_dir: Path) -> None:
    saved = open_checkpoint(tiny_dir)
    other = tiny_state_dict(tiny_config(), seed=1)
    name = "model.layers.0.self_attn.q_proj.weight"
    assert not torch.equal(saved.get(name), other[name])
    assert torch.equal(saved.get(name), tiny_state_dict(tiny_config(), seed=0)[name])
    # The generator, not the global RNG, decides the weights.
    torch.manual_seed(1234)
    assert torch.equal(saved.get(name), tiny_state_dict(tiny_config(), seed=0)[name])


def test_init_is_scaled(tiny_dir: Path) -> None:
    weight = open_checkpoint(tiny_dir).get("model.embed_tokens.weight")
    assert abs(weight.std().item() - 0.02) < 0.002
    assert torch.equal(open_checkpoint(tiny_dir).get("model.norm.weight"), torch.ones(64))


def test_overrides_reach_the_config() -> None:
    config = tiny_config(num_layers=1, num_kv_heads=2)
    assert (config.num_layers, config.num_kv_heads, config.hidden_size) == (1, 2, 64)


def test_bad_overrides_and_missing_vocab_are_named(tmp_path: Path) -> None:
    with pytest.raises(TinyModelError, match=r"unknown config override\(s\) \['layers'\]"):
        tiny_config(layers=1)
    with pytest.raises(TinyModelError, match="vocab_size=1000 is smaller than the tokenizer's 32256 tokens"):
        write_tiny_checkpoint(tmp_path / "small", vocab_gguf=vocab_gguf("deepseek-coder"), vocab_size=1000)
    with pytest.raises(TinyModelError, match="vocabulary .*nowhere.gguf is missing"):
        write_tiny_checkpoint(tmp_path / "none", vocab_gguf=tmp_path / "nowhere.gguf")
