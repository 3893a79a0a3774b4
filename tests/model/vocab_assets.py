"""The vocab GGUFs and their llama.cpp tokenizer test vectors, for the tokenizer/FIM/tiny tests.

Rebuilt tokenizers are cached per process: reading a 150k-token GGUF takes seconds.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

import pytest

from model.assets import vocab_path

from model.tokenizer import Tokenizer
from model.vocab import GgufVocab, read_gguf_vocab, write_vocab_files

VECTOR_SEPARATOR = "\n__ggml_vocab_test__\n"


def vocab_gguf(name: str) -> Path:
    """Path of ``vocab/ggml-vocab-{name}.gguf``; fails the test with a clear message when missing."""
    path = vocab_path(name)
    if not path.is_file():
        pytest.fail(
            f"vocabulary {path} is missing: it belongs to the repository (model/vocab_data, tests/data/vocab)."
        )
    return path


def read_vocab_vectors(gguf_path: Path) -> list[tuple[str, list[int]]]:
    """The (text, ids without BOS) pairs of ``{gguf}.inp``/``{gguf}.out``, read as llama.cpp's test-tokenizer-0 does.

    ``.inp`` holds the texts, each followed by a separator line ``__ggml_vocab_test__``: the file is
    split on ``\\n__ggml_vocab_test__\\n`` and the empty remainder after the final separator is
    not a test. ``.out`` holds one line per text: space-separated ids (an empty line for no ids).
    """
    raw = Path(f"{gguf_path}.inp").read_text(encoding="utf-8")
    texts = raw.split(VECTOR_SEPARATOR)
    if raw.endswith(VECTOR_SEPARATOR):
        texts.pop()
    lines = Path(f"{gguf_path}.out").read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    assert len(texts) == len(lines), f"{gguf_path}: {len(texts)} inputs but {len(lines)} outputs"
    return [(text, [int(tok) for tok in line.split()]) for text, line in zip(texts, lines)]


@functools.cache
def gguf_vocab(name: str) -> GgufVocab:
    """The tokenizer fields of the shared GGUF ``name`` (read once per process)."""
    return read_gguf_vocab(vocab_gguf(name))


@functools.cache
def rebuilt_tokenizer_dir(name: str) -> Path:
    """A directory with tokenizer.json + tokenizer_config.json rebuilt from the shared GGUF (once per process)."""
    out = Path(tempfile.mkdtemp(prefix=f"seekcode-test-vocab-{name}-"))
    atexit.register(shutil.rmtree, out, True)
    write_vocab_files(gguf_vocab(name), out)
    return out


def rebuilt_tokenizer(name: str) -> Tokenizer:
    return Tokenizer.from_dir(rebuilt_tokenizer_dir(name))


@functools.cache
def llama_cpp_vocab(name: str):
    """llama.cpp's own tokenizer for the shared GGUF ``name`` (vocab only, no weights)."""
    import llama_cpp

    return llama_cpp.Llama(model_path=str(vocab_gguf(name)), vocab_only=True, verbose=False)


def llama_cpp_encode(name: str, text: str) -> list[int]:
    """llama.cpp's ids for ``text`` with special tokens parsed and no BOS."""
    return llama_cpp_vocab(name).tokenize(text.encode("utf-8"), add_bos=False, special=True)
