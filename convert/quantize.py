"""K-quants through llama.cpp's own quantizer (``llama_model_quantize``), in process.

llama.cpp picks the per-tensor mixture (Q4_K_M keeps half of attn_v/ffn_down and the
output in Q6_K) and falls back where a row is not a whole number of 256-wide super-blocks;
``fallbacks`` reads the finished file to report those tensors.
"""

from __future__ import annotations

import ctypes
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from gguf import GGUFReader, GGMLQuantizationType
from tqdm import tqdm

from convert.errors import ConvertError
from convert.tensors import OUTTYPES

_K_TYPES = frozenset({
    GGMLQuantizationType.Q2_K, GGMLQuantizationType.Q3_K, GGMLQuantizationType.Q4_K,
    GGMLQuantizationType.Q5_K, GGMLQuantizationType.Q6_K,
})
_GGML_LOG_LEVEL_ERROR = 4  # ggml_log_level: NONE, DEBUG, INFO, WARN, ERROR, CONT
_PROGRESS = re.compile(rb"\[\s*(\d+)/\s*(\d+)\]")
# Tensor rows are processed in slabs of at most this many bytes (llama.cpp's default is 8 GiB).
MAX_BUFFER_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Fallback:
    tensor: str
    row_size: int
    ggml_type: GGMLQuantizationType

    def describe(self) -> str:
        return (f"{self.tensor}: rows of {self.row_size} are not a multiple of 256, "
                f"so it is {self.ggml_type.name} instead of a K-quant")


def quantize_file(source_gguf: Path, out_path: Path, outtype: str, threads: int | None) -> None:
    """Quantize ``source_gguf`` (F32/F16/BF16 tensors) into ``out_path`` with llama.cpp."""
    import llama_cpp

    file_type, _ = OUTTYPES[outtype]
    params = llama_cpp.llama_model_quantize_default_params()
    params.nthread = threads or 0
    params.ftype = int(file_type)
    params.max_buf_size = MAX_BUFFER_BYTES
    with _llama_log_to_progress(f"quantizing to {outtype}") as errors:
        status = llama_cpp.llama_model_quantize(str(source_gguf).encode(), str(out_path).encode(), ctypes.byref(params))
    if status != 0:
        detail = errors[-1] if errors else "no reason given"
        raise ConvertError(f"llama.cpp could not quantize to {outtype} ({detail}); check free disk space and the input.")


def fallbacks(gguf_path: Path) -> list[Fallback]:
    """2-D weights that are not K-quants in a K-quant file because their rows do not fit 256-blocks."""
    try:
        reader = GGUFReader(gguf_path)
    except Exception as err:  # GGUFReader raises bare ValueError/struct errors on short files
        raise ConvertError(f"llama.cpp wrote an unreadable {gguf_path.name} ({err}); check free disk space.") from None
    found = []
    for tensor in reader.tensors:
        row_size = int(tensor.shape[0])  # GGUFReader shapes are in ggml order: ne0 first
        if len(tensor.shape) >= 2 and row_size % 256 != 0 and tensor.tensor_type not in _K_TYPES:
            found.append(Fallback(tensor.name, row_size, tensor.tensor_type))
    return found


_lock = threading.Lock()


@contextmanager
def _llama_log_to_progress(label: str) -> Iterator[list[str]]:
    """Route llama.cpp's log to a progress bar (per-tensor lines) and a list of error lines."""
    import llama_cpp
    from llama_cpp import _logger

    errors: list[str] = []
    bar = tqdm(total=None, unit="tensor", desc=label, disable=None, leave=False)

    @llama_cpp.llama_log_callback
    def on_log(level: int, text: bytes, _user_data: ctypes.c_void_p) -> None:
        match = _PROGRESS.search(text or b"")
        if match:
            bar.total = int(match.group(2))
            bar.n = int(match.group(1))
            bar.refresh()
        elif level == _GGML_LOG_LEVEL_ERROR and text:
            errors.append(text.decode("utf-8", "replace").strip().removeprefix("llama_model_quantize: "))

    with _lock:
        llama_cpp.llama_log_set(on_log, ctypes.c_void_p(0))
        try:
            yield errors
        finally:
            llama_cpp.llama_log_set(_logger.llama_log_callback, ctypes.c_void_p(0))
            bar.close()
