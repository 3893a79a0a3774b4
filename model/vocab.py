"""Rebuild a Hugging Face ``tokenizer.json`` from the vocabulary stored in a GGUF file.

A GGUF (vocab-only or a full model) carries the byte-level BPE tokens, their llama.cpp token
types and the merges, plus the name of the pre-tokenizer (``tokenizer.ggml.pre``). The regexes
for each supported pre-tokenizer are the ones llama.cpp uses for that name (which are the ones
the original ``tokenizer.json`` files use).

CLI: ``python -m model.vocab VOCAB.gguf OUT_DIR`` writes ``tokenizer.json`` and
``tokenizer_config.json``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gguf
from gguf import GGUFReader, TokenType

TOKENIZER_FILE = "tokenizer.json"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"

# Pre-tokenizer regexes, as in llama.cpp's llama-vocab.cpp and the original tokenizer.json files.
GPT2_PATTERN = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
QWEN2_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
DEEPSEEK_CODER_SPLITS = ("[\r\n]", r"\s?\p{L}+", r"\s?\p{P}+", "[一-龥ࠀ-一가-퟿]+")

# llama.cpp's converter fills ids the original tokenizer never had with "[PAD<id>]".
_PLACEHOLDER = re.compile(r"\[PAD\d+\]")


class VocabError(ValueError):
    """The GGUF vocabulary cannot be turned into a tokenizer.json."""


@dataclass(frozen=True)
class GgufVocab:
    """The tokenizer part of a GGUF file, as plain Python data."""

    model: str
    pre: str
    tokens: list[str]
    token_types: list[int]
    merges: list[str]
    bos_id: int | None
    eos_id: int | None
    pad_id: int | None
    add_bos: bool
    add_eos: bool
    context_length: int | None


def open_gguf(path: Path) -> GGUFReader:
    """Open a GGUF file, naming a missing or unreadable file in a VocabError."""
    if not path.is_file():
        raise VocabError(f"GGUF file {path} does not exist; pass the path of a .gguf file.")
    try:
        return GGUFReader(path)
    except Exception as exc:  # GGUFReader raises bare ValueError/struct errors on bad files
        raise VocabError(f"{path} is not a readable GGUF file ({exc}); check the file is complete.") from exc


def read_gguf_vocab(path: str | Path) -> GgufVocab:
    """Read the tokenizer fields of a GGUF file (vocab-only or full model)."""
    path = Path(path)
    reader = open_gguf(path)

    keys = gguf.Keys.Tokenizer

    def field(key: str, default: Any = None) -> Any:
        entry = reader.fields.get(key)
        return default if entry is None else entry.contents()

    tokens = field(keys.LIST)
    if tokens is None:
        raise VocabError(f"{path} has no {keys.LIST} field; it holds no tokenizer vocabulary.")
    token_types = field(keys.TOKEN_TYPE) or [int(TokenType.NORMAL)] * len(tokens)
    if len(token_types) != len(tokens):
        raise VocabError(
            f"{path} has {len(tokens)} tokens but {len(token_types)} token types; the file is inconsistent."
        )
    architecture = field(gguf.Keys.General.ARCHITECTURE)
    context_length = field(f"{architecture}.context_length") if architecture else None
    return GgufVocab(
        model=field(keys.MODEL, ""),
        pre=field(keys.PRE, "default"),
        tokens=list(tokens),
        token_types=[int(t) for t in token_types],
        merges=list(field(keys.MERGES, [])),
        bos_id=field(keys.BOS_ID),
        eos_id=field(keys.EOS_ID),
        pad_id=field(keys.PAD_ID),
        add_bos=bool(field(keys.ADD_BOS, False)),
        add_eos=bool(field(keys.ADD_EOS, False)),
        context_length=context_length,
    )


def _split(pattern: str) -> dict[str, Any]:
    return {"type": "Split", "pattern": {"Regex": pattern}, "behavior": "Isolated", "invert": False}


def _byte_level(use_regex: bool) -> dict[str, Any]:
    return {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": use_regex}


def pre_tokenization(pre: str) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """(normalizer, pre_tokenizer) of tokenizer.json for a llama.cpp pre-tokenizer name."""
    if pre == "deepseek-coder":
        steps = [_split(p) for p in DEEPSEEK_CODER_SPLITS]
        steps += [{"type": "Digits", "individual_digits": True}, _byte_level(use_regex=False)]
        return None, {"type": "Sequence", "pretokenizers": steps}
    if pre == "qwen2":
        # Qwen2's tokenizer.json normalises to NFC before splitting.
        return {"type": "NFC"}, {"type": "Sequence", "pretokenizers": [_split(QWEN2_PATTERN), _byte_level(False)]}
    if pre == "starcoder":
        steps = [{"type": "Digits", "individual_digits": True}, _byte_level(use_regex=True)]
        return None, {"type": "Sequence", "pretokenizers": steps}
    if pre in ("default", "gpt-2", "gpt2"):
        return None, _byte_level(use_regex=True)
    raise VocabError(
        f"pre-tokenizer {pre!r} is not supported; supported: deepseek-coder, qwen2, starcoder, gpt-2."
    )


def _added_token(token_id: int, content: str, special: bool) -> dict[str, Any]:
    return {
        "id": token_id,
        "content": content,
        "single_word": False,
        "lstrip": False,
        "rstrip": False,
        "normalized": False,
        "special": special,
    }


def _is_special(content: str, token_type: int) -> bool:
    # Control tokens (BOS/EOS, <|im_start|>, StarCoder's <fim_*>) are special; user-defined ones
    # (DeepSeek's FIM markers) are plain added tokens, except llama.cpp's filler placeholders.
    return token_type == TokenType.CONTROL or bool(_PLACEHOLDER.fullmatch(content))


def _bos_post_processor(bos: str, bos_id: int) -> dict[str, Any]:
    bos_piece = {"SpecialToken": {"id": bos, "type_id": 0}}
    return {
        "type": "TemplateProcessing",
        "single": [bos_piece, {"Sequence": {"id": "A", "type_id": 0}}],
        "pair": [bos_piece, {"Sequence": {"id": "A", "type_id": 0}}, bos_piece, {"Sequence": {"id": "B", "type_id": 1}}],
        "special_tokens": {bos: {"id": bos, "ids": [bos_id], "tokens": [bos]}},
    }


def tokenizer_json_from_vocab(vocab: GgufVocab) -> dict[str, Any]:
    """Build the tokenizer.json structure for a byte-level BPE vocabulary."""
    if vocab.model != "gpt2":
        raise VocabError(
            f"tokenizer model {vocab.model!r} is not supported; only byte-level BPE ('gpt2') vocabularies are."
        )
    normalizer, pre_tokenizer = pre_tokenization(vocab.pre)
    # Every token goes into the BPE vocab, added ones too: the tokenizers library keeps an added
    # token's id only when the model already knows the token, and otherwise renumbers it after the
    # model vocab (which breaks StarCoder, whose control tokens are ids 0-37).
    bpe_vocab: dict[str, int] = {}
    added: list[dict[str, Any]] = []
    for token_id, (content, token_type) in enumerate(zip(vocab.tokens, vocab.token_types)):
        if content in bpe_vocab:
            raise VocabError(f"token {content!r} appears twice (ids {bpe_vocab[content]} and {token_id}); the vocabulary is corrupt.")
        bpe_vocab[content] = token_id
        if token_type not in (TokenType.NORMAL, TokenType.BYTE):
            added.append(_added_token(token_id, content, _is_special(content, token_type)))
    merges = []
    for merge in vocab.merges:
        pair = merge.split(" ")
        if len(pair) != 2:
            raise VocabError(f"merge {merge!r} is not two tokens separated by one space; the vocabulary is corrupt.")
        merges.append(pair)

    post_processor = None
    if vocab.add_bos and vocab.bos_id is not None:
        post_processor = _bos_post_processor(vocab.tokens[vocab.bos_id], vocab.bos_id)
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": normalizer,
        "pre_tokenizer": pre_tokenizer,
        "post_processor": post_processor,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": False,
            "vocab": bpe_vocab,
            "merges": merges,
        },
    }


def tokenizer_config_from_vocab(vocab: GgufVocab) -> dict[str, Any]:
    """A minimal tokenizer_config.json: BOS/EOS/PAD by content and whether BOS/EOS are added."""

    def content(token_id: int | None) -> str | None:
        return None if token_id is None else vocab.tokens[token_id]

    config: dict[str, Any] = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "add_bos_token": vocab.add_bos,
        "add_eos_token": vocab.add_eos,
        "bos_token": content(vocab.bos_id),
        "eos_token": content(vocab.eos_id),
        "pad_token": content(vocab.pad_id),
        "clean_up_tokenization_spaces": False,
    }
    if vocab.context_length:
        config["model_max_length"] = int(vocab.context_length)
    return config


def tokenizer_json_from_gguf(path: str | Path) -> dict[str, Any]:
    """Rebuild a Hugging Face tokenizer.json (as a dict) from the vocabulary in a GGUF file."""
    return tokenizer_json_from_vocab(read_gguf_vocab(path))


def write_tokenizer_files(gguf_path: str | Path, out_dir: str | Path) -> list[Path]:
    """Write tokenizer.json and tokenizer_config.json rebuilt from ``gguf_path`` into ``out_dir``."""
    return write_vocab_files(read_gguf_vocab(gguf_path), out_dir)


def write_vocab_files(vocab: GgufVocab, out_dir: str | Path) -> list[Path]:
    """Write tokenizer.json and tokenizer_config.json for ``vocab`` into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, payload in (
        (TOKENIZER_FILE, tokenizer_json_from_vocab(vocab)),
        (TOKENIZER_CONFIG_FILE, tokenizer_config_from_vocab(vocab)),
    ):
        target = out_dir / name
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(json.dumps(payload, ensure_ascii=False, indent=1), encoding="utf-8")
        tmp.replace(target)
        written.append(target)
    return written


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("gguf", type=Path, help="vocab-only or full-model GGUF file")
    parser.add_argument("out_dir", type=Path, help="directory to write the tokenizer files into")


def run(args: argparse.Namespace) -> int:
    for path in write_tokenizer_files(args.gguf, args.out_dir):
        print(path)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m model.vocab",
        description="Rebuild tokenizer.json and tokenizer_config.json from the vocabulary in a GGUF file.",
    )
    add_arguments(parser)
    try:
        return run(parser.parse_args(argv))
    except (VocabError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
