"""Real vocabularies for the engine tests: the repository's vocab-only GGUFs loaded with
llama.cpp (`vocab_only=True` reads no weights, so each load takes well under a second)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from model.assets import vocab_path

REAL_MODEL = Path.home() / ".cache/seekcode-dev/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"


@dataclass
class Vocab:
    """What the engine needs from a model's vocabulary, straight from llama.cpp."""

    llama: object
    path: Path

    @property
    def metadata(self) -> dict[str, str]:
        return dict(self.llama.metadata)

    def tokenize(self, text: str) -> list[int]:
        return self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=False) if text else []

    def token_id(self, text: str) -> int | None:
        ids = self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=True)
        return ids[0] if len(ids) == 1 and self.llama._model.token_get_text(ids[0]) == text else None

    def detokenize(self, ids: list[int]) -> str:
        return self.llama.detokenize(ids, special=True).decode("utf-8", errors="replace")


def _load(path: Path) -> Vocab:
    import llama_cpp

    return Vocab(llama_cpp.Llama(str(path), vocab_only=True, verbose=False), path)


@pytest.fixture(scope="session")
def load_vocab() -> Callable[[str], Vocab]:
    """load_vocab("deepseek-coder" | "qwen2" | "starcoder") -> Vocab, loaded once per session."""
    loaded: dict[str, Vocab] = {}

    def load(name: str) -> Vocab:
        if name not in loaded:
            path = vocab_path(name)
            if not path.is_file():
                pytest.fail(
                    f"vocabulary {path} is missing: it belongs to the repository (tests/data/vocab)."
                )
            loaded[name] = _load(path)
        return loaded[name]

    return load


@pytest.fixture(scope="session")
def qwen_coder_vocab() -> Vocab:
    """The real Qwen2.5-Coder vocabulary (FIM and repo tokens); only where the dev model exists."""
    if not REAL_MODEL.is_file():
        pytest.skip(f"{REAL_MODEL} is not on this machine (a development-only model)")
    return _load(REAL_MODEL)
