"""A source checkpoint directory, opened for streaming: config, tensor list, one tensor at a time.

Names, shapes and validation come from ``model.checkpoint``. Safetensors data is read with
``pread`` into a fresh buffer per tensor rather than through a memory map: mapped pages a
converter has touched stay in its resident set until unmapped, so a mapped 2.7 GB checkpoint
ends with 2.7 GB resident, while read buffers are freed after each tensor. ``.bin`` files go
through ``model.checkpoint`` (torch's memory-mapped load).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType

from convert.errors import ConvertError
from convert.tensors import IGNORED_SUFFIXES
from model.checkpoint import (
    SAFETENSORS_FILE,
    SAFETENSORS_INDEX,
    CheckpointError,
    CheckpointReader,
    check_tensors,
    expected_shapes,
    open_checkpoint,
)
from model.config import ConfigError, ModelConfig

# safetensors dtype -> (numpy dtype holding the raw values, GGML type of those values)
_RAW_DTYPES: dict[str, tuple[np.dtype, GGMLQuantizationType]] = {
    "F32": (np.dtype("<f4"), GGMLQuantizationType.F32),
    "F16": (np.dtype("<f2"), GGMLQuantizationType.F16),
    "BF16": (np.dtype("<u2"), GGMLQuantizationType.BF16),  # numpy has no bfloat16: keep the bits
}


@dataclass(frozen=True)
class SourceTensor:
    name: str
    shape: tuple[int, ...]
    ggml_type: GGMLQuantizationType  # F32, F16 or BF16: the values as stored
    nbytes: int


@dataclass(frozen=True)
class _Location:
    path: Path
    start: int  # absolute byte offset of the data in the file
    nbytes: int
    dtype: str


class SourceCheckpoint:
    """A validated checkpoint directory whose tensors are read one at a time as raw numpy arrays."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._reader = _open(directory)
        self.config: ModelConfig = self._reader.config
        self._locations = _safetensors_locations(directory)
        shapes = {name: self._reader.shape(name) for name in self._reader.names()}
        try:
            check_tensors(str(directory), self.config, shapes)
        except CheckpointError as err:
            raise ConvertError(str(err)) from None
        self.tensors: list[SourceTensor] = [self._describe(name, shapes[name]) for name in expected_shapes(self.config)]

    def _describe(self, name: str, shape: tuple[int, ...]) -> SourceTensor:
        dtype = self._dtype_code(name)
        if dtype not in _RAW_DTYPES:
            raise ConvertError(
                f"{self.directory}: tensor {name} is stored as {dtype}; only float32, float16 and bfloat16 convert."
            )
        numpy_dtype, ggml_type = _RAW_DTYPES[dtype]
        return SourceTensor(name, shape, ggml_type, int(np.prod(shape, dtype=np.int64)) * numpy_dtype.itemsize)

    def _dtype_code(self, name: str) -> str:
        if name in self._locations:
            return self._locations[name].dtype
        torch_dtype = str(self._reader.dtype(name)).removeprefix("torch.")
        return {"float32": "F32", "float16": "F16", "bfloat16": "BF16"}.get(torch_dtype, torch_dtype)

    def read(self, tensor: SourceTensor) -> np.ndarray:
        """The tensor's values as stored (bfloat16 as uint16 bits), in a buffer owned by the caller."""
        numpy_dtype, _ = _RAW_DTYPES[self._dtype_code(tensor.name)]
        location = self._locations.get(tensor.name)
        if location is None:
            return _torch_raw(self._reader, tensor.name).view(numpy_dtype).reshape(tensor.shape)
        buffer = np.empty(location.nbytes, dtype=np.uint8)
        with open(location.path, "rb", buffering=0) as f:
            got = os.preadv(f.fileno(), [memoryview(buffer)], location.start)
        if got != location.nbytes:
            raise ConvertError(f"{location.path} ends inside tensor {tensor.name}; the file is truncated, download it again.")
        return buffer.view(numpy_dtype).reshape(tensor.shape)


def open_source(directory: str | Path) -> SourceCheckpoint:
    directory = Path(directory)
    return SourceCheckpoint(directory)


def _open(directory: Path) -> CheckpointReader:
    if not (directory / "config.json").is_file() and directory.is_dir():
        raise ConvertError(f"{directory} has no config.json; pass a Hugging Face-layout checkpoint directory.")
    try:
        return open_checkpoint(directory)
    except (CheckpointError, ConfigError) as err:
        raise ConvertError(str(err)) from None


def _torch_raw(reader: CheckpointReader, name: str) -> np.ndarray:
    import torch

    tensor = reader.get(name).contiguous()
    if tensor.dtype == torch.bfloat16:
        tensor = tensor.view(torch.int16)
    return tensor.numpy().view(np.uint8).copy()


def _safetensors_locations(directory: Path) -> dict[str, _Location]:
    """Where each tensor's bytes are, for every safetensors file of the checkpoint."""
    if (directory / SAFETENSORS_FILE).exists():
        files = [directory / SAFETENSORS_FILE]
    elif (directory / SAFETENSORS_INDEX).exists():
        weight_map = json.loads((directory / SAFETENSORS_INDEX).read_text(encoding="utf-8"))["weight_map"]
        files = [directory / name for name in sorted(set(weight_map.values()))]
    else:
        return {}
    locations: dict[str, _Location] = {}
    for path in files:
        locations.update(_header_locations(path))
    return locations


def _header_locations(path: Path) -> dict[str, _Location]:
    with open(path, "rb") as f:
        header_size = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(header_size))
    data_start = 8 + header_size
    file_size = path.stat().st_size
    locations: dict[str, _Location] = {}
    for name, info in header.items():
        if name == "__metadata__" or name.endswith(IGNORED_SUFFIXES):
            continue
        begin, end = info["data_offsets"]
        if data_start + end > file_size:
            raise ConvertError(f"{path} ends inside tensor {name}; the file is truncated, download it again.")
        locations[name] = _Location(path, data_start + begin, end - begin, info["dtype"])
    return locations
