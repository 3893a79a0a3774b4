"""GGUF -> reference checkpoint: dequantize a ``llama`` or ``qwen2`` GGUF into a Hugging Face-layout directory.

Quantized tensors are expanded with the ``gguf`` package's numpy dequantizers, Q/K rows of
``llama`` files go back from llama.cpp's interleaved RoPE layout to Hugging Face's
rotate-half layout, and ``tokenizer.json`` is rebuilt from the GGUF vocabulary by
``model.vocab``. The result loads with ``model.checkpoint.load_model`` (and transformers).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import gguf
import numpy as np
import torch
from gguf import GGUFReader, GGMLQuantizationType
from tqdm import tqdm

from convert.errors import ConvertError
from convert.tensors import from_interleaved_rope, hf_name, rope_heads
from model.checkpoint import CheckpointError, save_checkpoint
from model.config import ConfigError, ModelConfig
from model.vocab import VocabError, open_gguf, write_tokenizer_files

SUPPORTED_ARCHS = ("llama", "qwen2")
TORCH_DTYPES = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}


def to_hf(gguf_path: str | Path, out_dir: str | Path, dtype: str = "f32") -> Path:
    """Write a reference checkpoint for ``gguf_path`` into ``out_dir`` (replaced only on success)."""
    gguf_path, out_dir = Path(gguf_path), Path(out_dir)
    if dtype not in TORCH_DTYPES:
        raise ConvertError(f"--outtype {dtype!r} cannot be used with --to hf; use f32, f16 or bf16.")
    reader = _open(gguf_path)
    config = config_from_gguf(reader, gguf_path, TORCH_DTYPES[dtype])
    state_dict = _state_dict(reader, config, gguf_path, TORCH_DTYPES[dtype])
    with tempfile.TemporaryDirectory(prefix="seekcode-to-hf-tokenizer-") as tokenizer_dir:
        try:
            write_tokenizer_files(gguf_path, tokenizer_dir)
            return save_checkpoint(out_dir, config, state_dict, tokenizer_src=tokenizer_dir)
        except (VocabError, CheckpointError) as err:
            raise ConvertError(str(err)) from None


def _open(gguf_path: Path) -> GGUFReader:
    try:
        reader = open_gguf(gguf_path)
    except VocabError as err:
        raise ConvertError(str(err)) from None
    arch = _field(reader, gguf.Keys.General.ARCHITECTURE)
    if arch not in SUPPORTED_ARCHS:
        raise ConvertError(f"{gguf_path} has architecture {arch!r}; --to hf supports {', '.join(SUPPORTED_ARCHS)}.")
    return reader


def _field(reader: GGUFReader, key: str, default: Any = None) -> Any:
    entry = reader.fields.get(key)
    return default if entry is None else entry.contents()


def config_from_gguf(reader: GGUFReader, gguf_path: Path, dtype: torch.dtype) -> ModelConfig:
    arch = _field(reader, gguf.Keys.General.ARCHITECTURE)

    def hparam(key: str, default: Any = None) -> Any:
        value = _field(reader, f"{arch}.{key}", default)
        if value is None:
            raise ConvertError(f"{gguf_path} lacks {arch}.{key}; it is not a complete model file.")
        return value

    tensors = {t.name: t for t in reader.tensors}
    if "token_embd.weight" not in tensors:
        raise ConvertError(f"{gguf_path} has no token_embd.weight; it is not a complete model file.")
    vocab_size = int(tensors["token_embd.weight"].shape[1])
    hidden_size = int(hparam("embedding_length"))
    num_heads = int(hparam("attention.head_count"))
    scaling_type = _field(reader, f"{arch}.rope.scaling.type", "none")
    scaling_factor = None
    if scaling_type == "linear":
        scaling_factor = _float32_value(hparam("rope.scaling.factor"))
    elif scaling_type not in ("none", None):
        raise ConvertError(f"{gguf_path} uses rope scaling {scaling_type!r}; only linear scaling is supported.")
    eos = _field(reader, gguf.Keys.Tokenizer.EOS_ID)
    try:
        return ModelConfig(
            arch=arch,
            vocab_size=vocab_size,
            hidden_size=hidden_size,
            intermediate_size=int(hparam("feed_forward_length")),
            num_layers=int(hparam("block_count")),
            num_heads=num_heads,
            num_kv_heads=int(hparam("attention.head_count_kv", num_heads)),
            head_dim=int(_field(reader, f"{arch}.attention.key_length", hidden_size // num_heads)),
            rms_norm_eps=_float32_value(hparam("attention.layer_norm_rms_epsilon")),
            rope_theta=_float32_value(hparam("rope.freq_base", 10000.0)),
            rope_scaling_factor=scaling_factor,
            max_position_embeddings=int(hparam("context_length")),
            attention_bias="blk.0.attn_q.bias" in tensors,
            tie_word_embeddings="output.weight" not in tensors,
            bos_token_id=_field(reader, gguf.Keys.Tokenizer.BOS_ID),
            eos_token_id=eos,
            torch_dtype=str(dtype).removeprefix("torch."),
        )
    except ConfigError as err:
        raise ConvertError(f"{gguf_path}: {err}") from None


def _float32_value(value: float) -> float:
    """GGUF stores floats as float32: 1e-06 comes back as 9.99999997e-07; take the shortest decimal."""
    return float(str(np.float32(value)))


def _state_dict(reader: GGUFReader, config: ModelConfig, gguf_path: Path, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    state: dict[str, torch.Tensor] = {}
    for tensor in tqdm(reader.tensors, desc="dequantizing", unit="tensor", disable=None, leave=False):
        name = hf_name(tensor.name)
        if name is None:
            raise ConvertError(f"{gguf_path} has tensor {tensor.name} that a {config.arch} reference model has no place for.")
        values = dequantize(tensor)
        heads = rope_heads(tensor.name, config)
        if heads is not None:
            values = from_interleaved_rope(values, heads)
        state[name] = torch.from_numpy(np.array(values, dtype=np.float32, order="C")).to(dtype)
    return state


def dequantize(tensor: Any) -> np.ndarray:
    """A GGUFReader tensor as float32 in numpy (Hugging Face) dimension order."""
    shape = tuple(int(n) for n in reversed(tensor.shape))
    if tensor.tensor_type == GGMLQuantizationType.F32:
        return np.asarray(tensor.data, dtype=np.float32).reshape(shape)
    if tensor.tensor_type == GGMLQuantizationType.F16:
        return np.asarray(tensor.data).astype(np.float32).reshape(shape)
    try:
        values = gguf.quants.dequantize(np.asarray(tensor.data), tensor.tensor_type)
    except NotImplementedError:
        raise ConvertError(f"tensor {tensor.name} is {tensor.tensor_type.name}, which the gguf package cannot dequantize.") from None
    return values.astype(np.float32, copy=False).reshape(shape)
