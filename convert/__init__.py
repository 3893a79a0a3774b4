"""seekcode convert: Hugging Face-layout checkpoints <-> GGUF for llama.cpp.

The public API (DESIGN.md): ``convert_checkpoint``, ``to_hf``, ``verify``. Submodules are
imported on first use so that ``import convert`` stays light.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from convert.errors import ConvertError

if TYPE_CHECKING:
    from convert.verify import VerifyReport

__all__ = ["ConvertError", "convert_checkpoint", "to_hf", "verify"]


def convert_checkpoint(src_dir: str | Path, out_path: str | Path, outtype: str, threads: int | None = None) -> Path:
    from convert.pipeline import convert_checkpoint as run

    return run(src_dir, out_path, outtype, threads=threads)


def to_hf(gguf_path: str | Path, out_dir: str | Path, dtype: str = "f32") -> Path:
    from convert.to_hf import to_hf as run

    return run(gguf_path, out_dir, dtype=dtype)


def verify(src_dir: str | Path, gguf_path: str | Path, outtype: str | None = None,
           threads: int | None = None) -> VerifyReport:
    from convert.verify import verify as run

    return run(src_dir, gguf_path, outtype=outtype, threads=threads)
