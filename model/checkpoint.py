"""Hugging Face-layout checkpoint directories: lazy reading, validated loading, atomic saving.

Read: ``model.safetensors``, sharded safetensors (``model.safetensors.index.json``),
``pytorch_model.bin`` and sharded ``.bin`` (``pytorch_model.bin.index.json``). Safetensors
headers give names, shapes and dtypes without touching tensor data; ``.bin`` files are
memory-mapped (``torch.load(weights_only=True, mmap=True)``), so their tensors are only
paged in when used.

Write: the same layout, sharded above ``max_shard_bytes``, into a temporary directory
beside the target that replaces the target only once everything is written.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from tqdm import tqdm

from model.config import CONFIG_FILE, ModelConfig
from model.layout import expected_shapes, tensor_problems
from model.transformer import Transformer

SAFETENSORS_FILE = "model.safetensors"
SAFETENSORS_INDEX = "model.safetensors.index.json"
BIN_FILE = "pytorch_model.bin"
BIN_INDEX = "pytorch_model.bin.index.json"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
DEFAULT_MAX_SHARD_BYTES = 2 * 1024**3

# Old Llama .bin checkpoints carry the rotary inverse frequencies; they are recomputed, not loaded.

_SAFETENSORS_DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
    "U8": torch.uint8, "BOOL": torch.bool,
    "F8_E4M3": torch.float8_e4m3fn, "F8_E5M2": torch.float8_e5m2,
}


class CheckpointError(ValueError):
    """A checkpoint directory that cannot be read or written as asked."""


# ---- reading -----------------------------------------------------------------------------


class _SafetensorsFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._handle = safe_open(str(path), framework="pt", device="cpu")
        except FileNotFoundError:
            raise CheckpointError(f"{path} is missing.") from None
        except (SafetensorError, OSError) as err:
            raise CheckpointError(f"{path} is not a readable safetensors file (corrupt or truncated?): {err}") from None
        self._names = list(self._handle.keys())
        self._name_set = set(self._names)

    def names(self) -> list[str]:
        return list(self._names)

    def __contains__(self, name: str) -> bool:
        return name in self._name_set

    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(self._handle.get_slice(name).get_shape())

    def dtype(self, name: str) -> torch.dtype:
        code = self._handle.get_slice(name).get_dtype()
        if code not in _SAFETENSORS_DTYPES:
            raise CheckpointError(f"{self.path}: tensor {name} has unsupported dtype {code}.")
        return _SAFETENSORS_DTYPES[code]

    def get(self, name: str) -> torch.Tensor:
        try:
            return self._handle.get_tensor(name)
        except SafetensorError as err:
            raise CheckpointError(f"{self.path}: cannot read tensor {name}: {err}") from None


class _BinFile:
    """A pytorch_model*.bin, memory-mapped on first use."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._tensors: dict[str, torch.Tensor] | None = None
        if not path.is_file():
            raise CheckpointError(f"{path} is missing.")

    def _load(self) -> dict[str, torch.Tensor]:
        if self._tensors is None:
            self._tensors = _torch_load(self.path)
        return self._tensors

    def names(self) -> list[str]:
        return list(self._load())

    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(self._load()[name].shape)

    def dtype(self, name: str) -> torch.dtype:
        return self._load()[name].dtype

    def get(self, name: str) -> torch.Tensor:
        return self._load()[name]


def _torch_load(path: Path) -> dict[str, torch.Tensor]:
    try:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as err:
            if "mmap" not in str(err):
                raise
            state = torch.load(path, map_location="cpu", weights_only=True)  # legacy (pre-zip) format
    except Exception as err:  # torch raises RuntimeError, UnpicklingError, EOFError, ... for bad files
        raise CheckpointError(f"{path} is not a readable PyTorch checkpoint (corrupt or truncated?): {err}") from None
    if not isinstance(state, Mapping) or not all(isinstance(t, torch.Tensor) for t in state.values()):
        raise CheckpointError(f"{path} does not hold a flat dict of tensors (a state_dict).")
    return dict(state)


class CheckpointReader:
    """Names, shapes, dtypes and tensors of one checkpoint directory, read lazily."""

    def __init__(self, directory: Path, config: ModelConfig, files: dict[str, Any], weight_map: dict[str, str]) -> None:
        self.directory = directory
        self.config = config
        self._files = files  # file name -> opened file (or None until a .bin is first needed)
        self._weight_map = weight_map  # tensor name -> file name

    def names(self) -> list[str]:
        return list(self._weight_map)

    def __contains__(self, name: str) -> bool:
        return name in self._weight_map

    def _file(self, name: str) -> _SafetensorsFile | _BinFile:
        if name not in self._weight_map:
            raise KeyError(f"{self.directory} has no tensor {name!r}.")
        return self._files[self._weight_map[name]]

    def shape(self, name: str) -> tuple[int, ...]:
        return self._file(name).shape(name)

    def dtype(self, name: str) -> torch.dtype:
        return self._file(name).dtype(name)

    def get(self, name: str) -> torch.Tensor:
        return self._file(name).get(name)

    def items(self) -> Iterator[tuple[str, torch.Tensor]]:
        for name in self._weight_map:
            yield name, self.get(name)


def open_checkpoint(directory: str | Path) -> CheckpointReader:
    directory = Path(directory)
    if not directory.is_dir():
        raise CheckpointError(f"{directory} is not a directory; pass a Hugging Face-layout checkpoint directory.")
    config = _read_config(directory)
    if (directory / SAFETENSORS_FILE).exists():
        single = _SafetensorsFile(directory / SAFETENSORS_FILE)
        return CheckpointReader(directory, config, {SAFETENSORS_FILE: single},
                                {name: SAFETENSORS_FILE for name in single.names()})
    if (directory / SAFETENSORS_INDEX).exists():
        weight_map = _read_index(directory / SAFETENSORS_INDEX)
        files = {f: _SafetensorsFile(directory / f) for f in sorted(set(weight_map.values()))}
        for name, file_name in weight_map.items():
            if name not in files[file_name]:
                raise CheckpointError(f"{directory / file_name} lacks tensor {name} that {SAFETENSORS_INDEX} places there.")
        return CheckpointReader(directory, config, files, weight_map)
    if (directory / BIN_INDEX).exists():
        weight_map = _read_index(directory / BIN_INDEX)
        files = {f: _BinFile(directory / f) for f in sorted(set(weight_map.values()))}
        return CheckpointReader(directory, config, files, weight_map)
    if (directory / BIN_FILE).exists():
        single_bin = _BinFile(directory / BIN_FILE)
        return CheckpointReader(directory, config, {BIN_FILE: single_bin},
                                {name: BIN_FILE for name in single_bin.names()})
    raise CheckpointError(
        f"{directory} holds no weights: expected {SAFETENSORS_FILE}, {SAFETENSORS_INDEX}, {BIN_FILE} or {BIN_INDEX}."
    )


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{path} is missing.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{path} is not valid JSON ({err}).") from None


def _read_config(directory: Path) -> ModelConfig:
    hf = _read_json(directory / CONFIG_FILE)
    if not isinstance(hf, dict):
        raise CheckpointError(f"{directory / CONFIG_FILE} must hold a JSON object.")
    return ModelConfig.from_hf(hf)  # ConfigError names an unsupported key and value


def _read_index(path: Path) -> dict[str, str]:
    index = _read_json(path)
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict) or not all(isinstance(f, str) for f in weight_map.values()):
        raise CheckpointError(f"{path} has no valid \"weight_map\" object mapping tensor names to files.")
    for file_name in weight_map.values():
        if Path(file_name).name != file_name:
            raise CheckpointError(f"{path} names shard {file_name!r} outside the checkpoint directory.")
    return weight_map


# ---- validating and loading ----------------------------------------------------------------


def check_tensors(where: str, config: ModelConfig, shapes: Mapping[str, tuple[int, ...]]) -> None:
    """Raise CheckpointError naming missing, unexpected and mis-shaped tensors."""
    problems = tensor_problems(config, shapes)
    if problems:
        raise CheckpointError(f"{where} does not match its config: " + "; ".join(problems) + ".")


def _as_dtype(dtype: torch.dtype | str | None, config: ModelConfig) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    name = dtype or config.torch_dtype
    if name not in ("float32", "float16", "bfloat16"):
        raise CheckpointError(f"dtype={name!r} is not supported; use float32, float16 or bfloat16.")
    return getattr(torch, name)


def load_model(directory: str | Path, dtype: torch.dtype | str | None = None,
               device: torch.device | str = "cpu", progress: bool = False) -> Transformer:
    """A Transformer with the directory's weights (in ``dtype``, default the config's), in eval mode.

    ``progress`` shows a tqdm bar on stderr when it is a terminal.
    """
    reader = open_checkpoint(directory)
    config = reader.config
    check_tensors(str(reader.directory), config, {name: reader.shape(name) for name in reader.names()})
    target = _as_dtype(dtype, config)
    with torch.device("meta"):
        model = Transformer(config)
    names = tqdm(expected_shapes(config), desc="loading weights", unit="tensor", leave=False,
                 disable=None if progress else True)
    state = {name: reader.get(name).to(device=device, dtype=target) for name in names}
    model.load_state_dict(state, strict=True, assign=True)
    return model.eval()


# ---- saving ----------------------------------------------------------------------------------


def save_checkpoint(directory: str | Path, config: ModelConfig, state_dict: Mapping[str, torch.Tensor],
                    max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES,
                    tokenizer_src: str | Path | None = None) -> Path:
    """Write ``state_dict`` as a Hugging Face checkpoint; the target is replaced only on success."""
    directory = Path(directory)
    tensors = _tensors_to_save(config, state_dict)
    _refuse_non_checkpoint(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = directory.parent / f".{directory.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()  # not mkdtemp: its 0700 mode would stay on the finished checkpoint
    try:
        _write_weights(tmp, tensors, max_shard_bytes)
        config_path = config.save(tmp)
        if tokenizer_src is not None:
            _copy_tokenizer(Path(tokenizer_src), tmp)
        _give_files_mode_of(config_path)
        _replace_dir(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return directory


def _tensors_to_save(config: ModelConfig, state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    check_tensors("state_dict", config, {name: tuple(t.shape) for name, t in state_dict.items()})
    tensors: dict[str, torch.Tensor] = {}
    seen_storage: set[int] = set()
    for name in expected_shapes(config):
        tensor = state_dict[name].detach().to("cpu").contiguous()
        storage = tensor.untyped_storage().data_ptr()
        if storage in seen_storage:  # safetensors refuses tensors that share memory
            tensor = tensor.clone()
        seen_storage.add(tensor.untyped_storage().data_ptr())
        tensors[name] = tensor
    return tensors


def _refuse_non_checkpoint(directory: Path) -> None:
    if directory.exists() and (not directory.is_dir() or (any(directory.iterdir())
                                                          and not (directory / CONFIG_FILE).exists())):
        raise CheckpointError(f"refusing to replace {directory}: it exists and is not a checkpoint directory.")


def _shard(tensors: dict[str, torch.Tensor], max_shard_bytes: int) -> list[dict[str, torch.Tensor]]:
    shards: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for name, tensor in tensors.items():
        nbytes = tensor.numel() * tensor.element_size()
        if shards[-1] and size + nbytes > max_shard_bytes:
            shards.append({})
            size = 0
        shards[-1][name] = tensor
        size += nbytes
    return shards


def _write_shard(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    save_file(tensors, str(path), metadata={"format": "pt"})


def _write_weights(out: Path, tensors: dict[str, torch.Tensor], max_shard_bytes: int) -> None:
    shards = _shard(tensors, max_shard_bytes)
    if len(shards) == 1:
        _write_shard(out / SAFETENSORS_FILE, shards[0])
        return
    weight_map: dict[str, str] = {}
    for i, shard in enumerate(shards, start=1):
        file_name = f"model-{i:05d}-of-{len(shards):05d}.safetensors"
        _write_shard(out / file_name, shard)
        weight_map.update({name: file_name for name in shard})
    total = sum(t.numel() * t.element_size() for t in tensors.values())
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (out / SAFETENSORS_INDEX).write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")


def _copy_tokenizer(src: Path, out: Path) -> None:
    if src.is_file():
        shutil.copyfile(src, out / "tokenizer.json")
        return
    if not (src / "tokenizer.json").is_file():
        raise CheckpointError(f"tokenizer_src {src} has no tokenizer.json.")
    for file_name in TOKENIZER_FILES:
        if (src / file_name).is_file():
            shutil.copyfile(src / file_name, out / file_name)


def _give_files_mode_of(reference: Path) -> None:
    """safetensors writes owner-only (0600) files; give every file the umask mode an ordinary write got."""
    mode = reference.stat().st_mode & 0o777
    for path in reference.parent.iterdir():
        path.chmod(mode)


def _replace_dir(tmp: Path, directory: Path) -> None:
    """Move the finished ``tmp`` to ``directory``; an existing one is removed only after the swap."""
    for path in tmp.iterdir():
        with open(path, "rb") as f:
            os.fsync(f.fileno())
    if not directory.exists():
        os.replace(tmp, directory)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{directory.name}.old-", dir=directory.parent))
    os.replace(directory, old / "previous")
    try:
        os.replace(tmp, directory)
    except BaseException:
        os.replace(old / "previous", directory)
        raise
    shutil.rmtree(old, ignore_errors=True)
