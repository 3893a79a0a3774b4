"""FIM prompts per family: exact layouts, and the special ids they tokenize to with real vocabularies."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from vocab_assets import llama_cpp_encode, rebuilt_tokenizer

from model.fim import (
    CODELLAMA,
    DEEPSEEK_CODER,
    QWEN25_CODER,
    STARCODER,
    FimError,
    detect_fim_format,
    fim_format,
    fim_prompt,
    fim_training_text,
    repo_context,
    repo_fim_prompt,
)
from model.tokenizer import Tokenizer
from model.vocab import write_tokenizer_files

PREFIX = "def area(radius):\n    "
SUFFIX = "\n    return result\n"
MIDDLE = "result = 3.14159 * radius ** 2"

# Opt-in manual check (never required): SEEKCODE_QWEN25_GGUF=path/to/qwen2.5-coder-*.gguf, a real
# Qwen2.5-Coder GGUF, whose vocabulary has the FIM tokens the shared qwen2 vocab lacks.
QWEN25_GGUF = Path(os.environ.get("SEEKCODE_QWEN25_GGUF", "/nonexistent/qwen2.5-coder.gguf"))


def test_layouts_are_the_documented_strings() -> None:
    assert fim_prompt(DEEPSEEK_CODER, "P", "S") == "<｜fim▁begin｜>P<｜fim▁hole｜>S<｜fim▁end｜>"
    assert fim_prompt(DEEPSEEK_CODER, "P", "S", "spm") == "<｜fim▁begin｜><｜fim▁hole｜>S<｜fim▁end｜>P"
    assert fim_prompt(QWEN25_CODER, "P", "S") == "<|fim_prefix|>P<|fim_suffix|>S<|fim_middle|>"
    assert fim_prompt(STARCODER, "P", "S") == "<fim_prefix>P<fim_suffix>S<fim_middle>"
    assert fim_prompt(STARCODER, "P", "S", "spm") == "<fim_prefix><fim_suffix>S<fim_middle>P"
    assert fim_prompt(CODELLAMA, "P", "S") == "<PRE> P <SUF>S <MID>"
    assert fim_prompt(CODELLAMA, "P", "S", "spm") == "<PRE> <SUF>S <MID> P"


def test_training_text_is_prompt_middle_end_token() -> None:
    assert fim_training_text(DEEPSEEK_CODER, "P", "M", "S") == "<｜fim▁begin｜>P<｜fim▁hole｜>S<｜fim▁end｜>M<｜end▁of▁sentence｜>"
    assert fim_training_text(STARCODER, "P", "M", "S", "spm") == "<fim_prefix><fim_suffix>S<fim_middle>PM<|endoftext|>"
    assert fim_training_text(CODELLAMA, "P", "M", "S") == "<PRE> P <SUF>S <MID>M<EOT>"


def test_deepseek_psm_prompt_tokenizes_to_fim_ids_around_plain_text_ids() -> None:
    tokenizer = rebuilt_tokenizer("deepseek-coder")
    ids = tokenizer.encode(fim_prompt(DEEPSEEK_CODER, PREFIX, SUFFIX), add_bos=DEEPSEEK_CODER.uses_bos)
    prefix_ids, suffix_ids = tokenizer.encode(PREFIX), tokenizer.encode(SUFFIX)
    assert ids == [32013, 32016, *prefix_ids, 32015, *suffix_ids, 32017]


def test_deepseek_spm_prompt_puts_suffix_first() -> None:
    tokenizer = rebuilt_tokenizer("deepseek-coder")
    ids = tokenizer.encode(fim_prompt(DEEPSEEK_CODER, PREFIX, SUFFIX, "spm"))
    assert ids == [32016, 32015, *tokenizer.encode(SUFFIX), 32017, *tokenizer.encode(PREFIX)]


def test_deepseek_training_sample_ends_with_eos_after_the_middle() -> None:
    tokenizer = rebuilt_tokenizer("deepseek-coder")
    ids = tokenizer.encode(fim_training_text(DEEPSEEK_CODER, PREFIX, MIDDLE, SUFFIX))
    middle_start = ids.index(32017) + 1
    assert ids[-1] == tokenizer.eos_id == 32014
    assert tokenizer.decode(ids[middle_start:-1]) == MIDDLE


def test_starcoder_prompt_and_repo_context_tokenize_to_control_ids() -> None:
    tokenizer = rebuilt_tokenizer("starcoder")
    ids = tokenizer.encode(fim_prompt(STARCODER, PREFIX, SUFFIX))
    assert ids == [1, *tokenizer.encode(PREFIX), 3, *tokenizer.encode(SUFFIX), 2]
    prompt = repo_fim_prompt(STARCODER, "geometry", [("util.py", "PI = 3.14159")], "area.py", PREFIX, SUFFIX)
    assert prompt.startswith("<repo_name>geometry<file_sep>util.py\nPI = 3.14159\n<file_sep>area.py\n<fim_prefix>")
    repo_ids = tokenizer.encode(prompt)
    assert repo_ids[0] == 5 and repo_ids.count(6) == 2 and repo_ids[-1] == 2
    assert tokenizer.token_id(STARCODER.end_token) == 0


@pytest.mark.parametrize(("family", "fmt"), [("deepseek-coder", DEEPSEEK_CODER), ("starcoder", STARCODER)])
def test_fim_texts_tokenize_as_llama_cpp_does(family: str, fmt) -> None:
    tokenizer = rebuilt_tokenizer(family)
    texts = [
        fim_prompt(fmt, PREFIX, SUFFIX, "psm"),
        fim_prompt(fmt, PREFIX, SUFFIX, "spm"),
        fim_prompt(fmt, "", "", "psm"),
        fim_training_text(fmt, PREFIX, MIDDLE, SUFFIX, "spm"),
    ]
    if fmt.repo_name_token:
        texts.append(repo_fim_prompt(fmt, "geo", [("util.py", "PI = 3.14\n")], "area.py", PREFIX, SUFFIX))
    for text in texts:
        assert tokenizer.encode(text) == llama_cpp_encode(family, text), text


def test_qwen_repo_context_layout() -> None:
    context = repo_context(QWEN25_CODER, "lib", [("a.py", "x = 1\n"), ("b.py", "y = 2")], "c.py")
    assert context == "<|repo_name|>lib\n<|file_sep|>a.py\nx = 1\n<|file_sep|>b.py\ny = 2\n<|file_sep|>c.py\n"


def test_families_without_repo_tokens_refuse_repo_context() -> None:
    with pytest.raises(FimError, match="deepseek-coder has no repo-level tokens"):
        repo_context(DEEPSEEK_CODER, "r", [], "a.py")


def test_detect_fim_format_by_vocabulary() -> None:
    assert detect_fim_format(rebuilt_tokenizer("deepseek-coder")) is DEEPSEEK_CODER
    assert detect_fim_format(rebuilt_tokenizer("starcoder")) is STARCODER
    # The shared qwen2 vocab predates Qwen2.5-Coder: its FIM ids are fillers, so no format fits.
    assert detect_fim_format(rebuilt_tokenizer("qwen2")) is None


def test_unknown_family_and_mode_are_named() -> None:
    assert fim_format("qwen2.5-coder") is QWEN25_CODER
    with pytest.raises(FimError, match="unknown FIM family 'santacoder'"):
        fim_format("santacoder")
    with pytest.raises(FimError, match="unknown FIM mode 'pms'"):
        fim_prompt(STARCODER, "P", "S", "pms")  # type: ignore[arg-type]


@pytest.mark.skipif(not QWEN25_GGUF.is_file(), reason="set SEEKCODE_QWEN25_GGUF to a real Qwen2.5-Coder GGUF to run")
def test_qwen25_prompts_tokenize_to_fim_ids_with_the_real_vocabulary(tmp_path: Path) -> None:
    write_tokenizer_files(QWEN25_GGUF, tmp_path)
    tokenizer = Tokenizer.from_dir(tmp_path)
    assert detect_fim_format(tokenizer) is QWEN25_CODER
    prompt = repo_fim_prompt(QWEN25_CODER, "geometry", [("util.py", "PI = 3.14159\n")], "area.py", PREFIX, SUFFIX)
    ids = tokenizer.encode(prompt)
    assert ids[0] == 151663 and ids.count(151664) == 2
    assert ids[-len(tokenizer.encode(SUFFIX)) - 2 :] == [151661, *tokenizer.encode(SUFFIX), 151660]
    assert 151659 in ids and tokenizer.token_id(QWEN25_CODER.end_token) == 151643
    import llama_cpp

    reference = llama_cpp.Llama(model_path=str(QWEN25_GGUF), vocab_only=True, verbose=False)
    assert ids == reference.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
