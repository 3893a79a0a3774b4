"""Evaluation pieces: the held-out line sample, FIM prompt ids, first-line extraction."""

from __future__ import annotations

import hashlib

import pytest

from model.eval.cases import case_set_id, exact_match, sample_cases
from model.eval.predictors import first_line, fim_prompt_ids
from model.fim import DEEPSEEK_CODER, QWEN25_CODER, fim_training_text
from model.train.data import SourceFile


def source(text: str, name: str) -> SourceFile:
    return SourceFile(name, text, hashlib.sha256(text.encode()).hexdigest())


FILES = [source("".join(f"x{i} = {i}\n" if i % 3 else "\n" for i in range(60)), "a.py"),
         source("def f():\n    return 1\n\n\nclass A:\n    pass\n", "b.py")]


def test_cases_mask_one_non_blank_line_between_its_prefix_and_suffix() -> None:
    cases = sample_cases(FILES, 20, seed=1, prefix_chars=40, suffix_chars=20)
    assert len(cases) == 20 and len({(c.path, c.line_number) for c in cases}) == 20
    texts = {f.path: f.text for f in FILES}
    for c in cases:
        assert c.line.strip()
        assert c.prefix + c.line + "\n" + c.suffix in texts[c.path]
        lines = texts[c.path].splitlines()
        assert lines[c.line_number - 1] == c.line
        assert len(c.prefix) <= 40 and len(c.suffix) <= 20
        assert c.prefix == "" or c.prefix.endswith("\n")
    assert sample_cases(FILES, 20, seed=1, prefix_chars=40, suffix_chars=20) == cases
    assert case_set_id(sample_cases(FILES, 20, seed=2)) != case_set_id(cases)


def test_too_many_cases_is_an_error() -> None:
    with pytest.raises(ValueError, match="fewer than"):
        sample_cases(FILES, 1000)


def test_exact_match_ignores_surrounding_whitespace() -> None:
    case = sample_cases(FILES[1:], 1, seed=0)[0]
    assert exact_match("  " + case.line.strip() + " ", case)
    assert not exact_match(case.line.strip() + "x", case)


MARKERS = {DEEPSEEK_CODER.prefix_token: 1001, DEEPSEEK_CODER.suffix_token: 1002, DEEPSEEK_CODER.middle_token: 1003,
           QWEN25_CODER.prefix_token: 2001, QWEN25_CODER.suffix_token: 2002, QWEN25_CODER.middle_token: 2003}


def encode(text: str) -> list[int]:
    return [ord(ch) for ch in text]


def test_fim_prompt_ids_layout_and_budget() -> None:
    ids = fim_prompt_ids(DEEPSEEK_CODER, encode, MARKERS.__getitem__, 7, "ab", "cd", budget=100)
    assert ids == [7, 1001, ord("a"), ord("b"), 1002, ord("c"), ord("d"), 1003]
    qwen = fim_prompt_ids(QWEN25_CODER, encode, MARKERS.__getitem__, 7, "ab", "cd", budget=100)
    assert qwen == [2001, ord("a"), ord("b"), 2002, ord("c"), ord("d"), 2003]  # no BOS for Qwen
    tight = fim_prompt_ids(DEEPSEEK_CODER, encode, MARKERS.__getitem__, 7, "abcdef", "uv", budget=8)
    assert tight == [7, 1001, ord("e"), ord("f"), 1002, ord("u"), ord("v"), 1003]  # the prefix loses its start
    tighter = fim_prompt_ids(DEEPSEEK_CODER, encode, MARKERS.__getitem__, 7, "", "uvwxyz", budget=6)
    assert tighter == [7, 1001, 1002, ord("u"), ord("v"), 1003]  # then the suffix its end


def test_first_line_stops_at_newline_or_stop_token() -> None:
    decode = lambda ids: "".join(chr(i) for i in ids)  # noqa: E731
    assert first_line(iter(encode("ret x\nmore")), decode, stop_ids=set()) == "ret x"
    assert first_line(iter([*encode("ab"), 0, *encode("cd")]), decode, stop_ids={0}) == "ab"
    assert first_line(iter(encode("a" * 100)), decode, stop_ids=set(), max_tokens=5) == "aaaaa"


def test_fim_prompt_ids_spm_is_the_training_layout() -> None:
    ids = fim_prompt_ids(DEEPSEEK_CODER, encode, MARKERS.__getitem__, 7, "ab", "cd", budget=100, mode="spm")
    assert ids == [7, 1001, 1002, ord("c"), ord("d"), 1003, ord("a"), ord("b")]
    names = {v: k for k, v in MARKERS.items()}
    text = "".join(names.get(i, chr(i)) for i in ids[1:])
    training = fim_training_text(DEEPSEEK_CODER, "ab", "MIDDLE", "cd", "spm")
    assert training.startswith(text) and training[len(text):].startswith("MIDDLE")
    tight = fim_prompt_ids(DEEPSEEK_CODER, encode, MARKERS.__getitem__, 7, "abcdef", "uv", budget=8, mode="spm")
    assert tight == [7, 1001, 1002, ord("u"), ord("v"), 1003, ord("e"), ord("f")]
    with pytest.raises(ValueError, match="psm or spm"):
        fim_prompt_ids(DEEPSEEK_CODER, encode, MARKERS.__getitem__, 7, "ab", "cd", budget=100, mode="xyz")
