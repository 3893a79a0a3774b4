"""Which tensors a GGUF holds: Hugging Face -> GGUF names, RoPE layout, and each tensor's type."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from gguf import GGML_QUANT_SIZES, GGMLQuantizationType, LlamaFileType

from model.config import ModelConfig

Q = GGMLQuantizationType

# outtype -> (GGUF file type, type of 2-D weights written directly, or None for K-quants made by llama.cpp)
OUTTYPES: dict[str, tuple[LlamaFileType, GGMLQuantizationType | None]] = {
    "f32": (LlamaFileType.ALL_F32, Q.F32),
    "f16": (LlamaFileType.MOSTLY_F16, Q.F16),
    "bf16": (LlamaFileType.MOSTLY_BF16, Q.BF16),
    "q8_0": (LlamaFileType.MOSTLY_Q8_0, Q.Q8_0),
    "q4_0": (LlamaFileType.MOSTLY_Q4_0, Q.Q4_0),
    "q4_k_m": (LlamaFileType.MOSTLY_Q4_K_M, None),
    "q5_k_m": (LlamaFileType.MOSTLY_Q5_K_M, None),
    "q6_k": (LlamaFileType.MOSTLY_Q6_K, None),
}
K_QUANTS = frozenset(name for name, (_, direct) in OUTTYPES.items() if direct is None)

_LAYER_TENSORS = {
    "input_layernorm.weight": "attn_norm.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.q_proj.bias": "attn_q.bias",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.k_proj.bias": "attn_k.bias",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.v_proj.bias": "attn_v.bias",
    "self_attn.o_proj.weight": "attn_output.weight",
    "self_attn.o_proj.bias": "attn_output.bias",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
}
_GLOBAL_TENSORS = {
    "model.embed_tokens.weight": "token_embd.weight",
    "model.norm.weight": "output_norm.weight",
    "lm_head.weight": "output.weight",
}
_LAYER_NAME = re.compile(r"model\.layers\.(\d+)\.(.+)")


def gguf_name(hf_name: str) -> str | None:
    """The llama.cpp name of a Hugging Face tensor, or None when llama/qwen2 have no such tensor."""
    if hf_name in _GLOBAL_TENSORS:
        return _GLOBAL_TENSORS[hf_name]
    match = _LAYER_NAME.fullmatch(hf_name)
    if match and match.group(2) in _LAYER_TENSORS:
        return f"blk.{match.group(1)}.{_LAYER_TENSORS[match.group(2)]}"
    return None


def hf_name(gguf_tensor_name: str) -> str | None:
    """The inverse of ``gguf_name``."""
    for hf, gg in _GLOBAL_TENSORS.items():
        if gg == gguf_tensor_name:
            return hf
    match = re.fullmatch(r"blk\.(\d+)\.(.+)", gguf_tensor_name)
    if match:
        for hf, gg in _LAYER_TENSORS.items():
            if gg == match.group(2):
                return f"model.layers.{match.group(1)}.{hf}"
    return None


# ---- RoPE layout ------------------------------------------------------------------------------


def rope_heads(gguf_tensor_name: str, config: ModelConfig) -> int | None:
    """Heads to permute for llama.cpp's interleaved RoPE, or None when the tensor keeps its layout.

    Hugging Face Llama rotates halves of each head (x[i], x[i + d/2]); llama.cpp's ``llama``
    arch rotates adjacent pairs (x[2i], x[2i+1]), so Q and K rows (and their biases) are
    interleaved per head. Qwen2 uses NEOX-style RoPE in llama.cpp, which is the HF layout.
    """
    if config.arch != "llama":
        return None
    if gguf_tensor_name.endswith((".attn_q.weight", ".attn_q.bias")):
        return config.num_heads
    if gguf_tensor_name.endswith((".attn_k.weight", ".attn_k.bias")):
        return config.num_kv_heads
    return None


def to_interleaved_rope(weights: np.ndarray, n_heads: int) -> np.ndarray:
    """HF rotate-half rows -> llama.cpp adjacent-pair rows, per head."""
    rows = weights.shape[0]
    return (
        weights.reshape(n_heads, 2, rows // n_heads // 2, *weights.shape[1:])
        .swapaxes(1, 2)
        .reshape(weights.shape)
    )


def from_interleaved_rope(weights: np.ndarray, n_heads: int) -> np.ndarray:
    """The inverse of ``to_interleaved_rope``."""
    rows = weights.shape[0]
    return (
        weights.reshape(n_heads, rows // n_heads // 2, 2, *weights.shape[1:])
        .swapaxes(1, 2)
        .reshape(weights.shape)
    )


# ---- tensor types -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TypeChoice:
    ggml_type: GGMLQuantizationType
    fallback_from: GGMLQuantizationType | None = None  # the wanted type, when the shape did not fit it


def fits(ggml_type: GGMLQuantizationType, shape: tuple[int, ...]) -> bool:
    """Whether rows (the last dimension, ggml's ne0) are a whole number of blocks."""
    block_size, _ = GGML_QUANT_SIZES[ggml_type]
    return shape[-1] % block_size == 0


def is_output_like(gguf_tensor_name: str, config: ModelConfig) -> bool:
    """The tensor that produces the logits: output.weight, or the token embedding when tied."""
    return gguf_tensor_name == "output.weight" or (
        config.tie_word_embeddings and gguf_tensor_name == "token_embd.weight"
    )


def direct_type(gguf_tensor_name: str, shape: tuple[int, ...], outtype: str, config: ModelConfig) -> TypeChoice:
    """The type written for ``outtype`` in {f32, f16, bf16, q8_0, q4_0}.

    1-D tensors (norms, biases) stay F32 as llama.cpp needs. For q4_0 the logits projection
    is Q8_0: llama.cpp's quantizer gives it Q6_K, for which the gguf package has no
    quantizer, and Q8_0 is llama.cpp's own choice where Q6_K does not fit. A shape whose rows
    are not whole blocks falls back to F16, like llama.cpp's converter.
    """
    _, wanted = OUTTYPES[outtype]
    assert wanted is not None, f"{outtype} is quantized by llama.cpp, not written directly"
    if len(shape) < 2:
        return TypeChoice(Q.F32)
    if outtype == "q4_0" and is_output_like(gguf_tensor_name, config):
        wanted = Q.Q8_0
    if fits(wanted, shape):
        return TypeChoice(wanted)
    return TypeChoice(Q.F16, fallback_from=wanted)


def intermediate_type(shape: tuple[int, ...], source_type: GGMLQuantizationType) -> GGMLQuantizationType:
    """The type of a tensor in the temporary GGUF that llama.cpp's quantizer reads: lossless for the source."""
    return Q.F32 if len(shape) < 2 else source_type


def tensor_nbytes(shape: tuple[int, ...], ggml_type: GGMLQuantizationType) -> int:
    block_size, type_size = GGML_QUANT_SIZES[ggml_type]
    rows = int(np.prod(shape[:-1], dtype=np.int64)) if len(shape) > 1 else 1
    return rows * (shape[-1] // block_size) * type_size
