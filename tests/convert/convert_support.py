"""Helpers shared by the convert tests (a uniquely named module: every tests/ folder has a conftest)."""

from __future__ import annotations

import os
from pathlib import Path

from model.assets import DEEPSEEK_CODER, vectors_path

VECTOR_SEPARATOR = "\n__ggml_vocab_test__\n"


def deepseek_vectors() -> list[tuple[str, list[int]]]:
    """llama.cpp's DeepSeek-Coder tokenizer test vectors: (text, ids without BOS)."""
    base = vectors_path(DEEPSEEK_CODER)
    texts = base.with_name(base.name + ".inp").read_text(encoding="utf-8").split(VECTOR_SEPARATOR)
    lines = base.with_name(base.name + ".out").read_text(encoding="utf-8").split("\n")
    texts = texts[:-1] if texts and texts[-1].strip() in ("", VECTOR_SEPARATOR.strip()) else texts
    ids = [[int(token) for token in line.split()] for line in lines[: len(texts)]]
    return list(zip(texts, ids))


def no_debris(directory: Path, allowed: set[str]) -> list[str]:
    """Files in ``directory`` other than ``allowed`` (temporary files a failed run left behind)."""
    return sorted(name for name in os.listdir(directory) if name not in allowed)
