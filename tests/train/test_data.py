"""Data pipeline: discovery, dedup, split by file, FIM sample layout, packing."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from model.fim import DEEPSEEK_CODER
from model.tokenizer import Tokenizer
from model.train.data import (DataError, DataSettings, build_data, dedupe, discover_sources, documents,
                              fim_transform, read_sources, split_by_file)

BEGIN, HOLE, END = DEEPSEEK_CODER.prefix_token, DEEPSEEK_CODER.suffix_token, DEEPSEEK_CODER.middle_token
EOS = DEEPSEEK_CODER.end_token


def test_discovery_skips_test_directories_unless_asked(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "a.py").write_text("x = 1\n")
    (tmp_path / "lib" / "tests").mkdir()
    (tmp_path / "lib" / "tests" / "test_a.py").write_text("assert True\n")
    (tmp_path / "lib" / "notes.txt").write_text("not python\n")
    assert [p.name for p in discover_sources([tmp_path])] == ["a.py"]
    assert sorted(p.name for p in discover_sources([tmp_path], include_tests=True)) == ["a.py", "test_a.py"]


def test_missing_root_is_named(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        discover_sources([tmp_path / "nope"])


def test_dedupe_keeps_one_copy_per_content(source_tree: Path) -> None:
    files = read_sources(discover_sources([source_tree]))
    unique = dedupe(files)
    assert len(files) == len(unique) + 1  # pkg/bisect_copy.py repeats bisect.py
    assert len({f.digest for f in unique}) == len(unique)
    # Independent of the order the files came in.
    assert [f.digest for f in dedupe(list(reversed(files)))] == [f.digest for f in unique]


def test_split_is_by_whole_file_and_deterministic(source_tree: Path) -> None:
    files = dedupe(read_sources(discover_sources([source_tree])))
    train, heldout = split_by_file(files, 0.3)
    assert train and heldout
    assert {f.digest for f in train}.isdisjoint({f.digest for f in heldout})
    assert len(train) + len(heldout) == len(files)
    again_train, again_heldout = split_by_file(list(reversed(files)), 0.3)
    assert {f.path for f in again_heldout} == {f.path for f in heldout}
    # A file's side depends on its content only: adding files never moves the others.
    fewer_train, fewer_heldout = split_by_file(files[1:], 0.3)
    assert {f.path for f in fewer_heldout} <= {f.path for f in heldout}


def test_documents_cut_at_line_ends_and_cover_the_text() -> None:
    text = "".join(f"line {i} " + "x" * (i % 7) + "\n" for i in range(200)) + "y" * 50
    pieces = list(documents(text, 120))
    assert "".join(pieces) == text
    assert all(len(p) <= 120 for p in pieces)
    assert all(p.endswith("\n") for p in pieces[:-1])


def test_fim_psm_and_spm_layouts_use_the_deepseek_tokens() -> None:
    text = "def add(a, b):\n    return a + b\n"
    seen = set()
    rng = random.Random(0)
    for _ in range(200):
        sample = fim_transform(text, rng, fim_rate=1.0, spm_rate=0.5)
        assert sample.startswith(BEGIN) and sample.endswith(EOS)
        body = sample[len(BEGIN):-len(EOS)]
        if body.startswith(HOLE):  # SPM: <begin><hole>suffix<end>prefix middle
            suffix, prefix_middle = body[len(HOLE):].split(END)
            assert prefix_middle + suffix == text
            seen.add("spm")
        else:  # PSM: <begin>prefix<hole>suffix<end>middle
            prefix, rest = body.split(HOLE)
            suffix, middle = rest.split(END)
            assert prefix + middle + suffix == text
            seen.add("psm")
    assert seen == {"psm", "spm"}


def test_fim_rate_zero_is_plain_text_and_rate_half_is_about_half() -> None:
    rng = random.Random(1)
    assert fim_transform("x = 1\n", rng, fim_rate=0.0, spm_rate=0.5) == "x = 1\n" + EOS
    fim = sum(fim_transform("x = 1\n", rng, 0.5, 0.5).startswith(BEGIN) for _ in range(2000))
    assert 900 < fim < 1100


def test_fim_token_ids_in_the_packed_stream(source_tree: Path, tokenizer_dir: Path, tmp_path: Path) -> None:
    settings = DataSettings(seq_len=64, heldout_fraction=0.2, max_chars=400, seed=3)
    data = build_data([source_tree], tokenizer_dir / "tokenizer.json", settings, tmp_path)
    tok = Tokenizer.from_dir(tokenizer_dir)
    begin, hole, end = (tok.token_id(t) for t in (BEGIN, HOLE, END))
    assert (begin, hole, end) == (32016, 32015, 32017)
    samples = np.split(data.train, np.where(data.train == tok.bos_id)[0])[1:]
    fim = [s for s in samples if s[1] == begin]
    assert 0.35 < len(fim) / len(samples) < 0.65
    spm = [s for s in fim if s[2] == hole]
    assert spm and len(spm) < len(fim)
    for s in fim:  # each FIM sample has exactly one of each marker, in order, and ends with EOS
        assert [int(t) for t in s if t in (begin, hole, end)] == [begin, hole, end]
        assert s[-1] == tok.eos_id
    # Held-out text is plain next-token data.
    assert not np.isin(data.heldout, [begin, hole, end]).any()
    # Packing: sequence i is stream[i*T : i*T+T+1].
    assert np.array_equal(data.sequence(1), data.train[64:129])
    # The cache returns the same arrays.
    again = build_data([source_tree], tokenizer_dir / "tokenizer.json", settings, tmp_path)
    assert np.array_equal(again.train, data.train) and np.array_equal(again.heldout, data.heldout)
    assert len(list(tmp_path.glob("data-*.npz"))) == 1
