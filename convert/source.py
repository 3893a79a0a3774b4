"""A source checkpoint directory, opened for streaming: config, validated tensor list, rows on demand.

Safetensors files (single or sharded) are read here without torch: the header gives names,
dtypes, shapes and byte ranges, and data is read with ``pread`` into a fresh buffer per
chunk of rows. Two reasons: mapped pages a converter has touched stay in its resident set
until unmapped (a memory-mapped 2.7 GB checkpoint ends with 2.7 GB resident), and importing
torch alone costs ~240 MB of RSS. ``.bin`` checkpoints need torch to unpickle and go through
``model.checkpoint``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from gguf import GGMLQuantizationType

from convert.errors import ConvertError
from model.config import ConfigError, ModelConfig
from model.layout import IGNORED_SUFFIXES, expected_shapes, tensor_problems

SAFETENSORS_FILE = "model.safetensors"
SAFETENSORS_INDEX = "model.safetensors.index.json"
BIN_FILE = "pytorch_model.bin"
BIN_INDEX = "pytorch_model.bin.index.json"

# safetensors dtype -> (numpy dtype holding the raw values, GGML type of those values)
_RAW_DTYPES: dict[str, tuple[np.dtype, GGMLQuantizationType]] = {
    "F32": (np.dtype("<f4"), GGMLQuantizationType.F32),
    "F16": (np.dtype("<f2"), GGMLQuantizationType.F16),
    "BF16": (np.dtype("<u2"), GGMLQuantizationType.BF16),  # numpy has no bfloat16: keep the bits
}
_MAX_HEADER_BYTES = 100 * 1024 * 1024


@dataclass(frozen=True)
class SourceTensor:
    name: str
    shape: tuple[int, ...]
    ggml_type: GGMLQuantizationType  # F32, F16 or BF16: the values as stored

    @property
    def raw_dtype(self) -> np.dtype:
        return next(dtype for dtype, ggml_type in _RAW_DTYPES.values() if ggml_type == self.ggml_type)

    @property
    def row_bytes(self) -> int:
        return int(np.prod(self.shape[1:], dtype=np.int64)) * self.raw_dtype.itemsize


@dataclass(frozen=True)
class _Location:
    path: Path
    start: int  # absolute byte offset of the data in the file
    dtype: str
    shape: tuple[int, ...]


class SourceCheckpoint:
    """A validated checkpoint directory whose tensors are read a chunk of rows at a time."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.config = _load_config(directory)
        self._locations = _safetensors_locations(directory)
        self._bin = None if self._locations else _open_bin(directory)
        shapes = {name: loc.shape for name, loc in self._locations.items()} if self._locations else {
            name: tuple(self._bin.shape(name)) for name in self._bin.names()}
        check_tensors(directory, self.config, shapes)
        self.tensors: list[SourceTensor] = [self._describe(name, shape)
                                            for name, shape in expected_shapes(self.config).items()]

    def _describe(self, name: str, shape: tuple[int, ...]) -> SourceTensor:
        dtype = self._dtype_code(name)
        if dtype not in _RAW_DTYPES:
            raise ConvertError(
                f"{self.directory}: tensor {name} is stored as {dtype}; only float32, float16 and bfloat16 convert."
            )
        return SourceTensor(name, shape, _RAW_DTYPES[dtype][1])

    def _dtype_code(self, name: str) -> str:
        if name in self._locations:
            return self._locations[name].dtype
        assert self._bin is not None
        torch_dtype = str(self._bin.dtype(name)).removeprefix("torch.")
        return {"float32": "F32", "float16": "F16", "bfloat16": "BF16"}.get(torch_dtype, torch_dtype)

    def read_rows(self, tensor: SourceTensor, first: int, count: int) -> np.ndarray:
        """Rows ``first:first+count`` (along dim 0) as stored (bfloat16 as uint16 bits), in a fresh buffer."""
        shape = (count, *tensor.shape[1:])
        location = self._locations.get(tensor.name)
        if location is None:
            assert self._bin is not None
            return _torch_rows(self._bin.get(tensor.name), first, count).view(tensor.raw_dtype).reshape(shape)
        nbytes = count * tensor.row_bytes
        buffer = np.empty(nbytes, dtype=np.uint8)
        with open(location.path, "rb", buffering=0) as f:
            got = os.preadv(f.fileno(), [memoryview(buffer)], location.start + first * tensor.row_bytes)
        if got != nbytes:
            raise ConvertError(f"{location.path} ends inside tensor {tensor.name}; the file is truncated, download it again.")
        return buffer.view(tensor.raw_dtype).reshape(shape)

    def read(self, tensor: SourceTensor) -> np.ndarray:
        return self.read_rows(tensor, 0, tensor.shape[0])


def open_source(directory: str | Path) -> SourceCheckpoint:
    return SourceCheckpoint(Path(directory))


# ---- config and expected tensors ------------------------------------------------------------


def _load_config(directory: Path) -> ModelConfig:
    if not (directory / "config.json").is_file():
        raise ConvertError(f"{directory} has no config.json; pass a Hugging Face-layout checkpoint directory.")
    try:
        return ModelConfig.load(directory)
    except ConfigError as err:
        raise ConvertError(str(err)) from None


def check_tensors(directory: Path, config: ModelConfig, present: dict[str, tuple[int, ...]]) -> None:
    """Name every missing, unexpected and mis-shaped tensor in one error."""
    problems = tensor_problems(config, present)
    if problems:
        raise ConvertError(f"{directory} does not match its config.json: " + "; ".join(problems) + ".")


# ---- safetensors ----------------------------------------------------------------------------


def _safetensors_locations(directory: Path) -> dict[str, _Location]:
    """Where each tensor's bytes are, for every safetensors file of the checkpoint ({} when there are none)."""
    if (directory / SAFETENSORS_FILE).exists():
        return _header_locations(directory / SAFETENSORS_FILE)
    if not (directory / SAFETENSORS_INDEX).exists():
        return {}
    weight_map = _index_weight_map(directory / SAFETENSORS_INDEX)
    locations: dict[str, _Location] = {}
    for file_name in sorted(set(weight_map.values())):
        locations.update(_header_locations(directory / file_name))
    for name, file_name in weight_map.items():
        if name not in locations or locations[name].path.name != file_name:
            raise ConvertError(f"{directory / file_name} lacks tensor {name} that {SAFETENSORS_INDEX} places there.")
    return locations


def _index_weight_map(path: Path) -> dict[str, str]:
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ConvertError(f"{path} is not readable JSON ({err}); restore the shard index.") from None
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict) or not all(isinstance(f, str) and Path(f).name == f for f in weight_map.values()):
        raise ConvertError(f"{path} has no valid \"weight_map\" naming shard files in the checkpoint directory.")
    return weight_map


def _header_locations(path: Path) -> dict[str, _Location]:
    if not path.is_file():
        raise ConvertError(f"{path} is missing; the checkpoint's weights are incomplete.")
    file_size = path.stat().st_size
    header = _read_header(path, file_size)
    data_start = 8 + header["__size__"]
    locations: dict[str, _Location] = {}
    data_end = 0
    for name, info in header.items():
        if name in ("__metadata__", "__size__"):
            continue
        try:
            begin, end = (int(offset) for offset in info["data_offsets"])
            dtype, shape = str(info["dtype"]), tuple(int(n) for n in info["shape"])
        except (KeyError, TypeError, ValueError):
            raise ConvertError(f"{path} is not a readable safetensors file (bad entry for {name}); it is corrupt.") from None
        data_end = max(data_end, end)
        itemsize = _RAW_DTYPES[dtype][0].itemsize if dtype in _RAW_DTYPES else None
        if itemsize is not None and end - begin != int(np.prod(shape, dtype=np.int64)) * itemsize:
            raise ConvertError(f"{path} is not a readable safetensors file ({name}'s byte range does not fit its shape).")
        if name.endswith(IGNORED_SUFFIXES):
            continue
        locations[name] = _Location(path, data_start + begin, dtype, shape)
    if data_start + data_end > file_size:
        raise ConvertError(f"{path} is {file_size} bytes but its tensors need {data_start + data_end}; "
                           "the file is truncated, download it again.")
    return locations


def _read_header(path: Path, file_size: int) -> dict[str, Any]:
    with open(path, "rb") as f:
        size = int.from_bytes(f.read(8), "little")
        if file_size < 8 or size > min(file_size - 8, _MAX_HEADER_BYTES):
            raise ConvertError(f"{path} is not a readable safetensors file (corrupt or truncated header).")
        try:
            header = json.loads(f.read(size))
        except (UnicodeDecodeError, ValueError):
            raise ConvertError(f"{path} is not a readable safetensors file (corrupt header).") from None
    if not isinstance(header, dict):
        raise ConvertError(f"{path} is not a readable safetensors file (corrupt header).")
    header["__size__"] = size
    return header


# ---- .bin through torch -------------------------------------------------------------------


def _open_bin(directory: Path) -> Any:
    if not any((directory / name).exists() for name in (BIN_FILE, BIN_INDEX)):
        raise ConvertError(
            f"{directory} holds no weights: expected {SAFETENSORS_FILE}, {SAFETENSORS_INDEX}, {BIN_FILE} or {BIN_INDEX}."
        )
    from model.checkpoint import CheckpointError, open_checkpoint

    try:
        return open_checkpoint(directory)
    except (CheckpointError, ConfigError) as err:
        raise ConvertError(str(err)) from None


def _torch_rows(tensor: Any, first: int, count: int) -> np.ndarray:
    import torch

    rows = tensor[first:first + count].contiguous()
    if rows.dtype == torch.bfloat16:
        rows = rows.view(torch.int16)
    return rows.numpy().view(np.uint8).copy()
