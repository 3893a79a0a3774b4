"""Incremental decoding with the KV cache gives the logits of one full forward pass."""

from __future__ import annotations

import pytest
import torch

CONFIGS = {
    "llama-gqa-linear4": ("llama", dict(num_kv_heads=2, rope_scaling_factor=4.0)),
    "qwen2-mqa-tied": ("qwen2", dict(num_kv_heads=1, tie_word_embeddings=True)),
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_token_by_token_equals_full_forward(name, make_config, make_model, tokens):
    arch, overrides = CONFIGS[name]
    model = make_model(make_config(arch, **overrides))
    batch = tokens(batch=2, length=30)
    with torch.no_grad():
        full = model(batch)
        cache = model.new_cache(batch=2, max_len=40)
        pieces = [model(batch[:, :5], cache)]  # prefill
        pieces += [model(batch[:, i:i + 1], cache) for i in range(5, 20)]  # one token at a time
        pieces.append(model(batch[:, 20:27], cache))  # a chunk after the start exercises the offset mask
        pieces += [model(batch[:, i:i + 1], cache) for i in range(27, 30)]
    assert cache.length == 30
    assert (torch.cat(pieces, dim=1) - full).abs().max().item() <= 1e-5


def test_truncate_reuses_a_shared_prefix(make_config, make_model, tokens):
    model = make_model(make_config("llama", num_kv_heads=2))
    first, second = tokens(batch=1, length=16, seed=1), tokens(batch=1, length=16, seed=2)
    other = torch.cat([first[:, :10], second[:, 10:]], dim=1)  # same first 10 tokens, different tail
    with torch.no_grad():
        cache = model.new_cache(batch=1, max_len=16)
        model(first, cache)
        cache.truncate(10)
        tail = model(other[:, 10:], cache)
        expected = model(other)[:, 10:]
    assert (tail - expected).abs().max().item() <= 1e-5


def test_cache_overflow_and_bad_truncate_are_refused(make_config, make_model, tokens):
    model = make_model(make_config("llama"))
    cache = model.new_cache(batch=1, max_len=8)
    with torch.no_grad():
        model(tokens(batch=1, length=6), cache)
        with pytest.raises(ValueError, match="8 positions"):
            model(tokens(batch=1, length=3), cache)
    assert cache.length == 6
    with pytest.raises(ValueError, match="truncate"):
        cache.truncate(7)


def test_cache_in_bfloat16(make_config, make_model, tokens):
    model = make_model(make_config("qwen2", num_kv_heads=2)).to(torch.bfloat16)
    batch = tokens(batch=1, length=12)
    with torch.no_grad():
        full = model(batch).float()
        cache = model.new_cache(batch=1, max_len=12)
        assert cache.keys[0].dtype == torch.bfloat16
        steps = torch.cat([model(batch[:, :4], cache)] + [model(batch[:, i:i + 1], cache) for i in range(4, 12)], 1)
    assert torch.isfinite(steps).all()
    assert (steps.float() - full).abs().max().item() < 0.05 * full.abs().max().item()
