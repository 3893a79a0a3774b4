"""The tokenizer rebuilt from a GGUF vocabulary reproduces llama.cpp's tokenizer test vectors."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import gguf
import pytest
from model.assets import vectors_path
from vocab_assets import gguf_vocab, llama_cpp_encode, read_vocab_vectors, rebuilt_tokenizer, rebuilt_tokenizer_dir, vocab_gguf

from model.tokenizer import Tokenizer, TokenizerError
from model.vocab import VocabError, main as vocab_main, tokenizer_json_from_gguf

FAMILIES = ["deepseek-coder", "qwen2", "starcoder"]

DEEPSEEK_SPECIALS = {
    "<｜begin▁of▁sentence｜>": 32013,
    "<｜end▁of▁sentence｜>": 32014,
    "<｜fim▁hole｜>": 32015,
    "<｜fim▁begin｜>": 32016,
    "<｜fim▁end｜>": 32017,
    "<pad>": 32018,
    "<|User|>": 32019,
    "<|Assistant|>": 32020,
    "<|EOT|>": 32021,
}


def test_vector_files_hold_46_cases_including_edge_whitespace() -> None:
    cases = read_vocab_vectors(vectors_path("deepseek-coder"))
    texts = [text for text, _ in cases]
    assert len(cases) == 46
    assert "" in texts and "\n\n\n" in texts and "\t\n" in texts
    assert dict(cases)[""] == []


@pytest.mark.parametrize("family", FAMILIES)
def test_rebuilt_tokenizer_reproduces_llama_cpp_vectors(family: str) -> None:
    tokenizer = rebuilt_tokenizer(family)
    cases = read_vocab_vectors(vectors_path(family))
    assert len(cases) == 46
    mismatches = [
        (text, got, expected)
        for text, expected in cases
        if (got := tokenizer.encode(text, parse_special=False)) != expected
    ]
    assert not mismatches, f"{len(mismatches)} of {len(cases)} vectors differ, first: {mismatches[0]!r}"


@pytest.mark.parametrize("family", FAMILIES)
def test_decode_round_trips_vector_texts(family: str) -> None:
    tokenizer = rebuilt_tokenizer(family)
    for text, _ in read_vocab_vectors(vectors_path(family)):
        # qwen2 normalises to NFC before tokenizing, so only NFC text can come back unchanged.
        expected = unicodedata.normalize("NFC", text) if family == "qwen2" else text
        assert tokenizer.decode(tokenizer.encode(text)) == expected


CODE_SAMPLE = (
    "import os\n\n\nclass Cache:\n    \"\"\"LRU cache — 容量 1024, ½ full.\"\"\"\n\n"
    "    def get(self, key: str) -> bytes | None:\n\t\treturn self._d.get(key)  # 0x1F600 😀\r\n"
)


@pytest.mark.parametrize("family", FAMILIES)
def test_code_and_control_tokens_encode_as_llama_cpp_does(family: str) -> None:
    tokenizer = rebuilt_tokenizer(family)
    texts = [CODE_SAMPLE, "<|im_start|>user\nfix it<|im_end|>", "<|endoftext|>x = 1", "<｜end▁of▁sentence｜>\n"]
    for text in texts:
        assert tokenizer.encode(text) == llama_cpp_encode(family, text), text


def test_deepseek_special_tokens_have_their_ids() -> None:
    tokenizer = rebuilt_tokenizer("deepseek-coder")
    assert {text: tokenizer.token_id(text) for text in DEEPSEEK_SPECIALS} == DEEPSEEK_SPECIALS
    assert (tokenizer.bos_id, tokenizer.eos_id) == (32013, 32014)
    assert tokenizer.adds_bos
    assert tokenizer.vocab_size == 32256
    assert tokenizer.token_id("no such token at all") is None


def test_special_tokens_in_text_are_parsed_unless_asked_not_to() -> None:
    tokenizer = rebuilt_tokenizer("deepseek-coder")
    text = "x<｜end▁of▁sentence｜>"
    assert tokenizer.encode(text) == [87, 32014]
    literal = tokenizer.encode(text, parse_special=False)
    assert 32014 not in literal and len(literal) > 2
    assert tokenizer.decode(literal) == text
    # Not even user-defined tokens (DeepSeek's FIM markers) are matched in literal mode.
    fim_literal = tokenizer.encode("<｜fim▁begin｜>", parse_special=False)
    assert tokenizer.encode("<｜fim▁begin｜>") == [32016]
    assert all(token_id < 32000 for token_id in fim_literal)
    assert tokenizer.decode(fim_literal) == "<｜fim▁begin｜>"


def test_bos_is_added_only_when_asked() -> None:
    tokenizer = rebuilt_tokenizer("deepseek-coder")
    assert tokenizer.encode("Hello world") == [17535, 1835]
    assert tokenizer.encode("Hello world", add_bos=True) == [32013, 17535, 1835]


def test_decode_can_drop_control_tokens() -> None:
    tokenizer = rebuilt_tokenizer("deepseek-coder")
    ids = [32013, 17535, 1835, 32014]
    assert tokenizer.decode(ids) == "<｜begin▁of▁sentence｜>Hello world<｜end▁of▁sentence｜>"
    assert tokenizer.decode(ids, skip_special=True) == "Hello world"


def test_added_token_kinds_follow_gguf_token_types() -> None:
    tokenizer_json = json.loads((rebuilt_tokenizer_dir("deepseek-coder") / "tokenizer.json").read_text(encoding="utf-8"))
    special = {entry["id"]: entry["special"] for entry in tokenizer_json["added_tokens"]}
    assert special[32013] and special[32014]  # control
    assert not special[32016] and not special[32019]  # user-defined
    assert special[32100]  # llama.cpp's [PAD32100] filler


@pytest.mark.parametrize("family", FAMILIES)
def test_every_token_keeps_its_gguf_id(family: str) -> None:
    tokenizer = rebuilt_tokenizer(family)
    vocab = gguf_vocab(family)
    assert tokenizer.vocab_size == len(vocab.tokens)
    # All added (non-normal) tokens, which the tokenizers library could renumber, and a sample of the rest.
    ids = [i for i, kind in enumerate(vocab.token_types) if kind != gguf.TokenType.NORMAL or i % 97 == 0]
    moved = [(i, vocab.tokens[i]) for i in ids if tokenizer.token_id(vocab.tokens[i]) != i]
    assert not moved, f"{len(moved)} tokens changed id, first: {moved[:3]}"


def test_transformers_reads_the_rebuilt_files_the_same_way() -> None:
    transformers = pytest.importorskip("transformers")
    directory = rebuilt_tokenizer_dir("deepseek-coder")
    hf = transformers.AutoTokenizer.from_pretrained(str(directory))
    ours = Tokenizer.from_dir(directory)
    text = "def add(a, b):\n    return a + b  # 42 ½ 你好"
    assert hf(text)["input_ids"] == ours.encode(text, add_bos=True)
    assert hf.eos_token_id == ours.eos_id == 32014


def test_vocab_cli_writes_tokenizer_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert vocab_main([str(vocab_gguf("deepseek-coder")), str(tmp_path / "tok")]) == 0
    assert sorted(p.name for p in (tmp_path / "tok").iterdir()) == ["tokenizer.json", "tokenizer_config.json"]
    config = json.loads((tmp_path / "tok" / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert config["bos_token"] == "<｜begin▁of▁sentence｜>" and config["add_bos_token"] is True
    assert Tokenizer.from_dir(tmp_path / "tok").encode("Hello world") == [17535, 1835]


def _write_vocab_gguf(path: Path, model: str, pre: str) -> Path:
    writer = gguf.GGUFWriter(str(path), arch="llama")
    writer.add_tokenizer_model(model)
    writer.add_tokenizer_pre(pre)
    writer.add_token_list(["a", "b", "ab"])
    writer.add_token_types([gguf.TokenType.NORMAL] * 3)
    writer.add_token_merges(["a b"])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.close()
    return path


def test_unknown_pre_tokenizer_is_named(tmp_path: Path) -> None:
    path = _write_vocab_gguf(tmp_path / "v.gguf", "gpt2", "falcon")
    with pytest.raises(VocabError, match="pre-tokenizer 'falcon' is not supported"):
        tokenizer_json_from_gguf(path)


def test_sentencepiece_vocab_is_rejected(tmp_path: Path) -> None:
    path = _write_vocab_gguf(tmp_path / "v.gguf", "llama", "default")
    with pytest.raises(VocabError, match="tokenizer model 'llama' is not supported"):
        tokenizer_json_from_gguf(path)


def test_truncated_gguf_fails_with_a_readable_error(tmp_path: Path) -> None:
    source = vocab_gguf("deepseek-coder").read_bytes()
    truncated = tmp_path / "cut.gguf"
    truncated.write_bytes(source[: len(source) // 3])
    with pytest.raises(VocabError, match="not a readable GGUF file"):
        tokenizer_json_from_gguf(truncated)


def test_missing_tokenizer_json_is_named(tmp_path: Path) -> None:
    with pytest.raises(TokenizerError, match="has no tokenizer.json"):
        Tokenizer.from_dir(tmp_path)
