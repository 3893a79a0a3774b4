"""The tensors a checkpoint of a given config holds, in Hugging Face names (no torch).

Shared by model.checkpoint and the converter, which reads safetensors without importing torch.
"""

from __future__ import annotations

from collections.abc import Mapping

from model.config import ModelConfig

# Buffers old transformers versions saved; they carry nothing a forward pass needs.
IGNORED_SUFFIXES = (".rotary_emb.inv_freq",)


def expected_shapes(config: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Every tensor a checkpoint for ``config`` holds, in Hugging Face order."""
    d, ff, q_dim = config.hidden_size, config.intermediate_size, config.num_heads * config.head_dim
    kv_dim = config.num_kv_heads * config.head_dim
    shapes: dict[str, tuple[int, ...]] = {"model.embed_tokens.weight": (config.vocab_size, d)}
    for i in range(config.num_layers):
        p = f"model.layers.{i}."
        shapes[p + "input_layernorm.weight"] = (d,)
        for proj, out_dim in (("q_proj", q_dim), ("k_proj", kv_dim), ("v_proj", kv_dim)):
            shapes[p + f"self_attn.{proj}.weight"] = (out_dim, d)
            if config.attention_bias:
                shapes[p + f"self_attn.{proj}.bias"] = (out_dim,)
        shapes[p + "self_attn.o_proj.weight"] = (d, q_dim)
        if config.output_proj_bias:
            shapes[p + "self_attn.o_proj.bias"] = (d,)
        shapes[p + "post_attention_layernorm.weight"] = (d,)
        shapes[p + "mlp.gate_proj.weight"] = (ff, d)
        shapes[p + "mlp.up_proj.weight"] = (ff, d)
        shapes[p + "mlp.down_proj.weight"] = (d, ff)
    shapes["model.norm.weight"] = (d,)
    if not config.tie_word_embeddings:
        shapes["lm_head.weight"] = (config.vocab_size, d)
    return shapes


def is_ignored(name: str, config: ModelConfig) -> bool:
    """Tensors a checkpoint may carry that are not part of the model (a tied copy of the embeddings too)."""
    return name.endswith(IGNORED_SUFFIXES) or (config.tie_word_embeddings and name == "lm_head.weight")


def tensor_problems(config: ModelConfig, shapes: Mapping[str, tuple[int, ...]]) -> list[str]:
    """Missing, unexpected and mis-shaped tensors, each kind as one phrase (empty when all is well)."""
    expected = expected_shapes(config)
    present = {name: tuple(shape) for name, shape in shapes.items() if not is_ignored(name, config)}
    missing = [name for name in expected if name not in present]
    unexpected = [name for name in present if name not in expected]
    misshaped = [f"{name} has shape {present[name]}, expected {shape}"
                 for name, shape in expected.items() if name in present and present[name] != shape]
    problems = []
    if missing:
        problems.append(f"missing {_listing(missing)}")
    if unexpected:
        problems.append(f"unexpected {_listing(unexpected)}")
    if misshaped:
        problems.append(_listing(misshaped))
    return problems


def _listing(items: list[str], limit: int = 6) -> str:
    shown = ", ".join(items[:limit])
    return shown if len(items) <= limit else f"{shown} and {len(items) - limit} more"
