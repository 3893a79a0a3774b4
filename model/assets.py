"""Where the shared development assets live (torch-free, so server tests can use it too).

The shared folder holds the real tokenizer vocabularies (``vocab/ggml-vocab-*.gguf`` with
llama.cpp's test vectors) that tests and the training CLI build on.
"""

from __future__ import annotations

import os
from pathlib import Path

SHARED_ENV = "SEEKCODE_SHARED"
DEEPSEEK_CODER = "deepseek-coder"
DEEPSEEK_CODER_VOCAB = f"ggml-vocab-{DEEPSEEK_CODER}.gguf"


def shared_dir() -> Path:
    """The shared assets folder: $SEEKCODE_SHARED, else ``../shared`` next to the repository."""
    override = os.environ.get(SHARED_ENV)
    if override:
        return Path(override)
    return (Path(__file__).resolve().parents[1] / ".." / "shared").resolve()


def vocab_path(name: str) -> Path:
    """``shared/vocab/ggml-vocab-{name}.gguf`` (it may not exist)."""
    return shared_dir() / "vocab" / f"ggml-vocab-{name}.gguf"


def default_vocab_path() -> Path:
    return vocab_path(DEEPSEEK_CODER)
