"""Where the tokenizer vocabularies live (torch-free, so server tests can use it too).

The DeepSeek-Coder vocabulary (``ggml-vocab-deepseek-coder.gguf``, from llama.cpp, MIT) is package
data in ``model/vocab_data/``: ``python -m model tiny`` and training need it from an installed wheel.
The other vocabularies and llama.cpp's tokenizer test vectors (``*.gguf.inp``/``.out``) are test data
in ``tests/data/vocab/`` of a source checkout.
"""

from __future__ import annotations

from pathlib import Path

DEEPSEEK_CODER = "deepseek-coder"
DEEPSEEK_CODER_VOCAB = f"ggml-vocab-{DEEPSEEK_CODER}.gguf"

PACKAGE_VOCAB_DIR = Path(__file__).resolve().parent / "vocab_data"
TEST_VOCAB_DIR = Path(__file__).resolve().parents[1] / "tests" / "data" / "vocab"


def vocab_path(name: str) -> Path:
    """``ggml-vocab-{name}.gguf``: the package's copy, else the source checkout's test data (may not exist)."""
    filename = f"ggml-vocab-{name}.gguf"
    packaged = PACKAGE_VOCAB_DIR / filename
    return packaged if packaged.is_file() else TEST_VOCAB_DIR / filename


def vectors_path(name: str) -> Path:
    """llama.cpp's test vectors for a vocabulary: ``{path}.inp`` / ``{path}.out`` share this stem."""
    return TEST_VOCAB_DIR / f"ggml-vocab-{name}.gguf"


def default_vocab_path() -> Path:
    return vocab_path(DEEPSEEK_CODER)
