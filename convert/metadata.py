"""GGUF key/values: hyper-parameters llama.cpp reads, provenance, and the tokenizer.

The tokenizer is read from a Hugging Face ``tokenizer.json`` (+ ``tokenizer_config.json``)
and written the way llama.cpp's own converter writes a byte-level BPE vocabulary:
``gpt2`` model, a named pre-tokenizer, tokens, token types, merges, special ids.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gguf

from convert.errors import ConvertError
from model.config import ModelConfig

CONVERTER_NAME = "seekcode-convert"
CONVERTER_VERSION = "0.1.0"

TOKENIZER_FILE = "tokenizer.json"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"

# Regexes of the pre-tokenizer ``Split`` steps, in order, per llama.cpp pre-tokenizer name
# (llama.cpp's llama-vocab.cpp uses these regexes for that name).
_DEEPSEEK_CODER_SPLITS = ("[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", "[一-龥ࠀ-一가-퟿]+")
_QWEN2_SPLITS = (
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
)
_PRE_TOKENIZERS: dict[tuple[str, ...], str] = {
    _DEEPSEEK_CODER_SPLITS: "deepseek-coder",
    _QWEN2_SPLITS: "qwen2",
}

# GGUF key -> token texts that play that role, first present wins (llama.cpp's llama-vocab.cpp lists).
SPECIAL_TOKEN_TEXTS: dict[str, tuple[str, ...]] = {
    gguf.Keys.Tokenizer.FIM_PRE_ID: ("<｜fim▁begin｜>", "<|fim_prefix|>", "<fim_prefix>", "<fim-prefix>", "<PRE>", "▁<PRE>"),
    gguf.Keys.Tokenizer.FIM_SUF_ID: ("<｜fim▁hole｜>", "<|fim_suffix|>", "<fim_suffix>", "<fim-suffix>", "<SUF>", "▁<SUF>"),
    gguf.Keys.Tokenizer.FIM_MID_ID: ("<｜fim▁end｜>", "<|fim_middle|>", "<fim_middle>", "<fim-middle>", "<MID>", "▁<MID>"),
    gguf.Keys.Tokenizer.FIM_PAD_ID: ("<|fim_pad|>", "<fim_pad>", "<fim-pad>"),
    gguf.Keys.Tokenizer.FIM_REP_ID: ("<|repo_name|>", "<|fim_repo|>", "<reponame>", "<repo_name>"),
    gguf.Keys.Tokenizer.FIM_SEP_ID: ("<|file_sep|>", "<file_sep>", "<filename>"),
    gguf.Keys.Tokenizer.EOT_ID: ("<|EOT|>", "<|eot_id|>", "<|im_end|>", "<EOT>"),
}

_PAD_TOKEN = re.compile(r"\[PAD(\d+)\]")


@dataclass
class Vocabulary:
    """Everything the GGUF ``tokenizer.*`` keys hold."""

    pre: str
    tokens: list[str]
    token_types: list[int]
    merges: list[str]
    special_ids: dict[str, int] = field(default_factory=dict)  # GGUF key -> token id
    add_bos: bool | None = None
    add_eos: bool | None = None
    chat_template: str | None = None


# ---- reading a Hugging Face tokenizer --------------------------------------------------------


def load_vocabulary(model_dir: Path, config: ModelConfig) -> Vocabulary:
    tokenizer = _read_json(model_dir / TOKENIZER_FILE, "tokenizer")
    tokenizer_config = _read_optional_json(model_dir / TOKENIZER_CONFIG_FILE)
    model = tokenizer.get("model") or {}
    if model.get("type") != "BPE" or not isinstance(model.get("vocab"), dict):
        raise ConvertError(
            f"{model_dir / TOKENIZER_FILE} holds a {model.get('type')!r} model; only byte-level BPE tokenizers "
            "(DeepSeek-Coder, Qwen2) can be converted."
        )
    tokens, token_types = _token_table(tokenizer, config.vocab_size, model_dir)
    special_ids = _special_ids(tokens, tokenizer_config, config)
    for token_id in special_ids.values():
        token_types[token_id] = gguf.TokenType.CONTROL
    return Vocabulary(
        pre=_pre_tokenizer_name(tokenizer, model_dir),
        tokens=tokens,
        token_types=token_types,
        merges=_merges(model),
        special_ids=special_ids,
        add_bos=_optional_bool(tokenizer_config, "add_bos_token"),
        add_eos=_optional_bool(tokenizer_config, "add_eos_token"),
        chat_template=tokenizer_config.get("chat_template") if isinstance(tokenizer_config.get("chat_template"), str) else None,
    )


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConvertError(f"{path} does not exist; the {what} file is needed next to config.json.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ConvertError(f"{path} is not valid JSON ({err}); restore the {what} file.") from None
    if not isinstance(data, dict):
        raise ConvertError(f"{path} must hold a JSON object; restore the {what} file.")
    return data


def _read_optional_json(path: Path) -> dict[str, Any]:
    return _read_json(path, "tokenizer config") if path.exists() else {}


def _token_table(tokenizer: dict[str, Any], vocab_size: int, model_dir: Path) -> tuple[list[str], list[int]]:
    by_id: dict[int, str] = {token_id: text for text, token_id in tokenizer["model"]["vocab"].items()}
    types: dict[int, int] = {}
    for added in tokenizer.get("added_tokens") or []:
        token_id, text = int(added["id"]), added["content"]
        by_id[token_id] = text
        types[token_id] = _added_token_type(token_id, text, bool(added.get("special")))
    highest = max(by_id)
    if highest >= vocab_size:
        raise ConvertError(
            f"{model_dir / TOKENIZER_FILE} has token id {highest} but config.json vocab_size is {vocab_size}; "
            "the embedding would not cover the vocabulary."
        )
    tokens: list[str] = []
    token_types: list[int] = []
    for token_id in range(vocab_size):
        if token_id in by_id:
            tokens.append(by_id[token_id])
            token_types.append(types.get(token_id, gguf.TokenType.NORMAL))
        else:  # the embedding is larger than the vocabulary: pad as llama.cpp's converter does
            tokens.append(f"[PAD{token_id}]")
            token_types.append(gguf.TokenType.UNUSED)
    return tokens, token_types


def _added_token_type(token_id: int, text: str, special: bool) -> int:
    padding = _PAD_TOKEN.fullmatch(text)
    if padding and int(padding.group(1)) == token_id:
        return gguf.TokenType.UNUSED
    if special or looks_special(text):
        return gguf.TokenType.CONTROL
    return gguf.TokenType.USER_DEFINED


def looks_special(text: str) -> bool:
    """Added tokens some models ship as not special that still are control tokens (as llama.cpp judges)."""
    return (
        text == "<pad>"
        or (text.startswith("<|") and text.endswith("|>"))
        or (text.startswith("<｜") and text.endswith("｜>"))
    )


def _pre_tokenizer_name(tokenizer: dict[str, Any], model_dir: Path) -> str:
    splits = tuple(_split_patterns(tokenizer.get("pre_tokenizer")))
    for signature, name in _PRE_TOKENIZERS.items():
        if splits[: len(signature)] == signature:
            return name
    # no guessing from the vocabulary: llama.cpp would split text differently from the source tokenizer
    raise ConvertError(
        f"{model_dir / TOKENIZER_FILE} has a pre-tokenizer seekcode-convert does not know; "
        "supported are DeepSeek-Coder's and Qwen2's."
    )


def _split_patterns(node: Any) -> list[str]:
    """The regexes of all ``Split`` pre-tokenizers, in order, however deeply nested."""
    if isinstance(node, list):
        return [pattern for child in node for pattern in _split_patterns(child)]
    if not isinstance(node, dict):
        return []
    if node.get("type") == "Split" and isinstance(node.get("pattern"), dict):
        pattern = node["pattern"]
        return [pattern.get("Regex", pattern.get("String", ""))]
    return _split_patterns(node.get("pretokenizers"))


def _merges(model: dict[str, Any]) -> list[str]:
    merges = model.get("merges") or []
    return [merge if isinstance(merge, str) else " ".join(merge) for merge in merges]


def _special_ids(tokens: list[str], tokenizer_config: dict[str, Any], config: ModelConfig) -> dict[str, int]:
    ids_by_text: dict[str, int] = {}
    for token_id, text in enumerate(tokens):
        ids_by_text.setdefault(text, token_id)
    special: dict[str, int] = {}
    for key, config_id, config_key in (
        (gguf.Keys.Tokenizer.BOS_ID, config.bos_token_id, "bos_token"),
        (gguf.Keys.Tokenizer.EOS_ID, config.eos_token_ids[0] if config.eos_token_ids else None, "eos_token"),
        (gguf.Keys.Tokenizer.PAD_ID, None, "pad_token"),
    ):
        text = _token_text(tokenizer_config.get(config_key))
        if text is not None and text in ids_by_text:
            special[key] = ids_by_text[text]
        elif isinstance(config_id, int):
            special[key] = config_id
    for key, candidates in SPECIAL_TOKEN_TEXTS.items():
        for text in candidates:
            if text in ids_by_text:
                special[key] = ids_by_text[text]
                break
    return special


def _token_text(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) else None


def _optional_bool(data: dict[str, Any], key: str) -> bool | None:
    value = data.get(key)
    return value if isinstance(value, bool) else None


# ---- writing key/values -----------------------------------------------------------------------


def add_hyperparameters(writer: gguf.GGUFWriter, config: ModelConfig, file_type: int) -> None:
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_block_count(config.num_layers)
    writer.add_head_count(config.num_heads)
    writer.add_head_count_kv(config.num_kv_heads)
    writer.add_key_length(config.head_dim)
    writer.add_value_length(config.head_dim)
    writer.add_rope_dimension_count(config.head_dim)
    writer.add_rope_freq_base(config.rope_theta)
    if config.rope_scaling_factor is not None:
        writer.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        writer.add_rope_scaling_factor(config.rope_scaling_factor)
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_vocab_size(config.vocab_size)
    writer.add_file_type(file_type)
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)


def add_provenance(writer: gguf.GGUFWriter, name: str, base_model: str) -> None:
    writer.add_type(gguf.GGUFType.MODEL)
    writer.add_name(name)
    writer.add_base_model_count(1)
    writer.add_base_model_name(0, base_model)
    writer.add_quantized_by(f"{CONVERTER_NAME} {CONVERTER_VERSION}")
    writer.add_string("seekcode.converter", f"{CONVERTER_NAME} {CONVERTER_VERSION}")


def add_vocabulary(writer: gguf.GGUFWriter, vocabulary: Vocabulary) -> None:
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(vocabulary.pre)
    writer.add_token_list(vocabulary.tokens)
    writer.add_token_types(vocabulary.token_types)
    writer.add_token_merges(vocabulary.merges)
    for key, token_id in vocabulary.special_ids.items():
        writer.add_uint32(key, token_id)
    if vocabulary.add_bos is not None:
        writer.add_add_bos_token(vocabulary.add_bos)
    if vocabulary.add_eos is not None:
        writer.add_add_eos_token(vocabulary.add_eos)
    if vocabulary.chat_template:
        writer.add_chat_template(vocabulary.chat_template)
