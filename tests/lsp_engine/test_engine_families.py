"""Family detection from real vocabularies and from GGUF metadata."""

from __future__ import annotations

import pytest

from lsp_server.engine.families import ContextStyle, Layout, detect_family


def test_deepseek_coder(load_vocab) -> None:
    vocab = load_vocab("deepseek-coder")
    family = detect_family(vocab.token_id, vocab.metadata)
    assert family.name == "deepseek-coder"
    assert (family.prefix_id, family.suffix_id, family.middle_id) == (32016, 32015, 32017)
    assert family.bos_id == 32013  # tokenizer.ggml.add_bos_token is true
    assert {32014, 32021} <= family.stop_ids  # <｜end▁of▁sentence｜>, <|EOT|>
    assert family.layout is Layout.PSM_ANCHORED
    assert family.context_style is ContextStyle.COMMENT
    assert "<|EOT|>" in family.special_texts


def test_starcoder(load_vocab) -> None:
    vocab = load_vocab("starcoder")
    family = detect_family(vocab.token_id, vocab.metadata)
    assert family.name == "starcoder"
    assert (family.prefix_id, family.suffix_id, family.middle_id) == (1, 3, 2)
    assert family.file_separator_id == 6 and family.repo_name_id == 5
    assert {0, 4, 6} <= family.stop_ids  # <|endoftext|>, <fim_pad>, <file_sep>
    assert family.layout is Layout.SPM_TAIL
    assert family.context_style is ContextStyle.FILE_SEPARATOR
    assert family.bos_id is None


def test_qwen2_base_vocab_has_no_fim_tokens_and_falls_back_to_plain(load_vocab) -> None:
    vocab = load_vocab("qwen2")
    family = detect_family(vocab.token_id, vocab.metadata)
    assert family.name == "plain" and family.layout is Layout.PLAIN and not family.has_fim
    assert 151643 in family.stop_ids  # <|endoftext|>
    assert 128247 not in family.stop_ids  # "</s>" is an ordinary BPE token in Qwen2


def test_qwen25_coder_real_vocab(qwen_coder_vocab) -> None:
    family = detect_family(qwen_coder_vocab.token_id, qwen_coder_vocab.metadata)
    assert family.name == "qwen2.5-coder"
    assert (family.prefix_id, family.suffix_id, family.middle_id) == (151659, 151661, 151660)
    assert family.file_separator_id == 151664 and family.repo_name_id == 151663
    assert {151643, 151645, 151662, 151664} <= family.stop_ids  # endoftext, im_end, fim_pad, file_sep
    assert family.bos_id is None  # add_bos_token is false


def table(tokens: dict[str, int]):
    return tokens.get


def test_codellama_from_its_spellings() -> None:
    vocab = {"▁<PRE>": 32007, "▁<SUF>": 32008, "▁<MID>": 32009, "▁<EOT>": 32010}
    metadata = {"tokenizer.ggml.bos_token_id": "1", "tokenizer.ggml.eos_token_id": "2"}
    family = detect_family(table(vocab), metadata)
    assert family.name == "codellama" and family.layout is Layout.SPM_TAIL
    assert (family.prefix_id, family.suffix_id, family.middle_id) == (32007, 32008, 32009)
    assert family.bos_id == 1 and {2, 32010} <= family.stop_ids
    assert "<EOT>" in family.special_texts


def test_codegemma_is_told_apart_from_qwen_by_its_file_separator() -> None:
    vocab = {"<|fim_prefix|>": 67, "<|fim_middle|>": 68, "<|fim_suffix|>": 69, "<|file_separator|>": 70, "<eos>": 1}
    family = detect_family(table(vocab), {"tokenizer.ggml.bos_token_id": 2})
    assert family.name == "codegemma"
    assert family.file_separator_id == 70 and 70 in family.stop_ids and 1 in family.stop_ids
    assert family.bos_id == 2  # Gemma needs <bos>


def test_unknown_spellings_from_fim_metadata() -> None:
    metadata = {
        "tokenizer.ggml.fim_pre_token_id": "10",
        "tokenizer.ggml.fim_suf_token_id": "11",
        "tokenizer.ggml.fim_mid_token_id": "12",
        "tokenizer.ggml.fim_pad_token_id": "13",
        "tokenizer.ggml.eos_token_id": "0",
        "tokenizer.ggml.pre": "newcoder",
    }
    family = detect_family(table({}), metadata)
    assert family.name == "newcoder" and family.has_fim
    assert (family.prefix_id, family.suffix_id, family.middle_id) == (10, 11, 12)
    assert {0, 13} <= family.stop_ids


def test_no_fim_tokens_gives_the_plain_family() -> None:
    family = detect_family(table({"<|endoftext|>": 5}), {})
    assert family.layout is Layout.PLAIN and family.stop_ids == {5}
    with pytest.raises(ValueError, match="no FIM tokens"):
        family.fim_ids()
