"""Our Transformer, loaded from a checkpoint transformers wrote, gives transformers' logits."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from model.checkpoint import load_model

CASES = {
    # id: (arch, overrides)
    "llama-mha": ("llama", {}),
    "llama-gqa-linear4": ("llama", dict(num_kv_heads=2, rope_scaling_factor=4.0, rope_theta=100000.0)),
    "llama-mqa-tied": ("llama", dict(num_kv_heads=1, tie_word_embeddings=True)),
    "llama-mha-tied-linear2": ("llama", dict(tie_word_embeddings=True, rope_scaling_factor=2.0)),
    "llama-attn-bias-headdim32": ("llama", dict(attention_bias=True, head_dim=32, num_kv_heads=2)),
    "qwen2-gqa-tied": ("qwen2", dict(num_kv_heads=2, tie_word_embeddings=True, rope_theta=1000000.0)),
    "qwen2-mha-untied-linear4": ("qwen2", dict(rope_scaling_factor=4.0)),
    "qwen2-mqa-tied-linear2": ("qwen2", dict(num_kv_heads=1, tie_word_embeddings=True, rope_scaling_factor=2.0)),
}


@pytest.fixture(scope="module")
def hf_checkpoints(tmp_path_factory):
    """Random HF models saved with save_pretrained, built once per case."""
    import transformers  # noqa: F401  (imported here so a missing dev extra fails only these tests)

    made = {}

    def get(case_id, make_config, make_hf_model):
        if case_id not in made:
            arch, overrides = CASES[case_id]
            hf = make_hf_model(make_config(arch, **overrides), seed=len(made))
            out = tmp_path_factory.mktemp(case_id)
            hf.save_pretrained(out)
            made[case_id] = (out, hf)
        return made[case_id]

    return get


@pytest.mark.parametrize("case_id", list(CASES))
def test_fp32_logits_match_transformers(case_id, hf_checkpoints, make_config, make_hf_model, tokens):
    directory, hf = hf_checkpoints(case_id, make_config, make_hf_model)
    ours = load_model(directory, dtype=torch.float32)
    assert ours.config == make_config(CASES[case_id][0], **CASES[case_id][1])
    batch = tokens(batch=2, length=48)
    with torch.no_grad():
        expected = hf(batch).logits
        got = ours(batch)
    assert got.shape == expected.shape == (2, 48, ours.config.vocab_size)
    assert expected.abs().max() > 0.1, "logits too small for the comparison to mean anything"
    assert (got - expected).abs().max().item() <= 1e-4


@pytest.mark.parametrize("case_id", ["llama-gqa-linear4", "qwen2-gqa-tied"])
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_forward_tracks_fp32(case_id, dtype, hf_checkpoints, make_config, make_hf_model, tokens):
    directory, _ = hf_checkpoints(case_id, make_config, make_hf_model)
    batch = tokens(batch=1, length=32)
    with torch.no_grad():
        reference = load_model(directory, dtype=torch.float32)(batch)
        model = load_model(directory, dtype=dtype)
        logits = model(batch)
    assert all(p.dtype == dtype for p in model.parameters())
    assert logits.dtype == dtype
    assert torch.isfinite(logits).all()
    similarity = F.cosine_similarity(logits.float().flatten(1), reference.flatten(1)).min()
    assert similarity > 0.995
