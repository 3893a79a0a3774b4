"""Fixtures for the training tests: the real DeepSeek-Coder tokenizer and a small source tree."""

from __future__ import annotations

import shutil
import sysconfig
from pathlib import Path

import pytest

from model.assets import default_vocab_path
from model.vocab import write_tokenizer_files

# A few real standard-library modules: enough text for some training sequences, fast to tokenize.
STDLIB_SLICE = ("bisect.py", "colorsys.py", "keyword.py", "fnmatch.py", "glob.py", "shlex.py", "textwrap.py",
                "this.py", "copy.py", "heapq.py", "queue.py", "string.py", "numbers.py", "abc.py")


@pytest.fixture(scope="session")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    vocab = default_vocab_path()
    if not vocab.is_file():
        pytest.fail(f"DeepSeek-Coder vocabulary {vocab} is missing: it is package data of model/ (model/vocab_data).")
    out = tmp_path_factory.mktemp("tokenizer")
    write_tokenizer_files(vocab, out)
    return out


@pytest.fixture(scope="session")
def source_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Copies of a few stdlib modules, one of them twice (to exercise dedup)."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    root = tmp_path_factory.mktemp("sources")
    for name in STDLIB_SLICE:
        shutil.copyfile(stdlib / name, root / name)
    (root / "pkg").mkdir()
    shutil.copyfile(stdlib / "bisect.py", root / "pkg" / "bisect_copy.py")
    return root
