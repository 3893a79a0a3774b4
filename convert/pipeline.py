"""Checkpoint directory -> GGUF file: plan every tensor, stream them out, quantize K-quants with llama.cpp."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import gguf
import numpy as np
from gguf import GGMLQuantizationType

from convert.errors import ConvertError
from convert.metadata import add_hyperparameters, add_provenance, add_vocabulary, load_vocabulary
from convert.quantize import fallbacks, quantize_file
from convert.source import SourceCheckpoint, SourceTensor, open_source
from convert.tensors import (
    K_QUANTS,
    OUTTYPES,
    direct_type,
    gguf_name,
    intermediate_type,
    rope_heads,
    to_interleaved_rope,
)
from convert.writer import (
    PlannedTensor,
    atomic_output,
    check_free_space,
    disk_errors,
    sync_to_disk,
    temporary_path,
    write_gguf,
)

Q = GGMLQuantizationType
_METADATA_ALLOWANCE = 16 * 1024 * 1024  # tokenizer and key/values, generously
_SOURCE_FILE_TYPES = {Q.F32: gguf.LlamaFileType.ALL_F32, Q.F16: gguf.LlamaFileType.MOSTLY_F16,
                      Q.BF16: gguf.LlamaFileType.MOSTLY_BF16}


def convert_checkpoint(src_dir: str | Path, out_path: str | Path, outtype: str, threads: int | None = None,
                       log: Callable[[str], None] | None = None) -> Path:
    """Convert a Hugging Face-layout checkpoint to a GGUF at ``out_path`` (replaced atomically)."""
    note = log or _stderr
    if outtype not in OUTTYPES:
        raise ConvertError(f"--outtype {outtype!r} is not supported; use one of {', '.join(OUTTYPES)}.")
    src_dir, out_path = Path(src_dir), Path(out_path)
    if not src_dir.is_dir():
        raise ConvertError(f"{src_dir} is not a directory; pass a Hugging Face-layout checkpoint directory.")
    source = open_source(src_dir)
    vocabulary = load_vocabulary(src_dir, source.config)
    name = _model_name(src_dir)

    def metadata(file_type: int) -> Callable[[gguf.GGUFWriter], None]:
        def add(writer: gguf.GGUFWriter) -> None:
            add_provenance(writer, name=name, base_model=name)
            add_hyperparameters(writer, source.config, file_type)
            add_vocabulary(writer, vocabulary)
        return add

    file_type, _ = OUTTYPES[outtype]
    with atomic_output(out_path) as tmp:
        if outtype in K_QUANTS:
            _convert_k_quant(source, tmp, out_path.name, outtype, threads, metadata, note)
        else:
            plan = _direct_plan(source, outtype, note)
            check_free_space(tmp.parent, sum(t.nbytes for t in plan) + _METADATA_ALLOWANCE)
            write_gguf(tmp, source.config.arch, metadata(int(file_type)), plan, progress_label=f"writing {outtype}")
    return out_path


def _convert_k_quant(source: SourceCheckpoint, tmp: Path, out_name: str, outtype: str, threads: int | None,
                     metadata: Callable[[int], Callable[[gguf.GGUFWriter], None]],
                     note: Callable[[str], None]) -> None:
    plan = _intermediate_plan(source)
    intermediate_bytes = sum(t.nbytes for t in plan)
    # the quantized file is at most ~0.45 of a 16-bit one (Q8_0 fallbacks included)
    check_free_space(tmp.parent, intermediate_bytes + intermediate_bytes // 2 + _METADATA_ALLOWANCE)
    intermediate = temporary_path(tmp.parent, out_name, ".unquantized.tmp")
    try:
        source_type = _common_type(source.tensors)
        write_gguf(intermediate, source.config.arch, metadata(int(_SOURCE_FILE_TYPES[source_type])), plan,
                   progress_label="writing unquantized", durable=False)
        with disk_errors(tmp.parent):
            quantize_file(intermediate, tmp, outtype, threads)
            sync_to_disk(tmp)
    finally:
        intermediate.unlink(missing_ok=True)
    for fallback in fallbacks(tmp):
        note(f"note: {fallback.describe()}")


def _direct_plan(source: SourceCheckpoint, outtype: str, note: Callable[[str], None]) -> list[PlannedTensor]:
    plan = []
    for tensor in source.tensors:
        name = _gguf_name(tensor)
        choice = direct_type(name, tensor.shape, outtype, source.config)
        if choice.fallback_from is not None:
            note(f"note: {name}: rows of {tensor.shape[-1]} are not a multiple of "
                 f"{gguf.GGML_QUANT_SIZES[choice.fallback_from][0]}, so it is {choice.ggml_type.name} "
                 f"instead of {choice.fallback_from.name}")
        plan.append(_planned(source, tensor, name, choice.ggml_type))
    return plan


def _intermediate_plan(source: SourceCheckpoint) -> list[PlannedTensor]:
    source_type = _common_type(source.tensors)
    return [_planned(source, t, _gguf_name(t), intermediate_type(t.shape, source_type)) for t in source.tensors]


def _common_type(tensors: list[SourceTensor]) -> GGMLQuantizationType:
    """The source's 2-D weight type, widened to F32 when the checkpoint mixes types."""
    types = {t.ggml_type for t in tensors if len(t.shape) >= 2}
    return types.pop() if len(types) == 1 else Q.F32


def _gguf_name(tensor: SourceTensor) -> str:
    name = gguf_name(tensor.name)
    if name is None:  # expected_shapes and the name map disagree: a bug, not bad input
        raise AssertionError(f"no GGUF name for {tensor.name}")
    return name


# Rows are read, converted and written in chunks of about this many source bytes.
CHUNK_BYTES = 16 * 1024 * 1024


def _planned(source: SourceCheckpoint, tensor: SourceTensor, name: str, target: GGMLQuantizationType) -> PlannedTensor:
    heads = rope_heads(name, source.config)

    def make() -> Iterator[np.ndarray]:
        if heads is not None:  # the permutation mixes rows within each head: take the tensor whole
            yield encode(to_interleaved_rope(source.read(tensor), heads), tensor.ggml_type, target)
            return
        rows = tensor.shape[0]
        step = max(1, CHUNK_BYTES // max(1, tensor.row_bytes)) if len(tensor.shape) > 1 else rows
        for first in range(0, rows, step):
            yield encode(source.read_rows(tensor, first, min(step, rows - first)), tensor.ggml_type, target)

    return PlannedTensor(name=name, shape=tensor.shape, ggml_type=target, make=make)


def encode(raw: np.ndarray, source_type: GGMLQuantizationType, target: GGMLQuantizationType) -> np.ndarray:
    """Values stored as ``source_type`` (BF16 as uint16 bits) -> contiguous bytes of ``target``."""
    if target == source_type:
        return np.ascontiguousarray(raw)
    values = to_float32(raw, source_type)
    if target == Q.F32:
        return values
    if target == Q.F16:
        return values.astype(np.float16)
    return gguf.quants.quantize(values, target)


def to_float32(raw: np.ndarray, source_type: GGMLQuantizationType) -> np.ndarray:
    if source_type == Q.BF16:
        return (raw.astype(np.uint32) << 16).view(np.float32)
    return np.ascontiguousarray(raw, dtype=np.float32)


def _model_name(src_dir: Path) -> str:
    try:
        hf = json.loads((src_dir / "config.json").read_text(encoding="utf-8"))
        name = hf.get("_name_or_path")
    except (OSError, ValueError):
        name = None
    return str(name) if name else src_dir.resolve().name


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)

