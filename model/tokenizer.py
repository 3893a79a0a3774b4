"""A thin layer over ``tokenizers.Tokenizer`` that reads a Hugging Face tokenizer directory.

BOS/EOS come from ``tokenizer_config.json`` (by token content, as Hugging Face writes them).
``encode`` never adds BOS/EOS on its own: callers say ``add_bos=True`` when the model wants it
(``adds_bos`` tells what the tokenizer config asks for).

Special-token parsing: by default, added tokens written in the text (``<｜fim▁begin｜>``,
``<|fim_prefix|>``, ``<|endoftext|>``...) are encoded as their single ids, which FIM prompts
need. ``parse_special=False`` matches no added token at all: the whole text goes through
byte-level BPE, so file contents that happen to contain marker strings stay plain text. (That is
stricter than llama.cpp's ``parse_special=false``, which still matches user-defined tokens.)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import tokenizers

TOKENIZER_FILE = "tokenizer.json"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"


class TokenizerError(ValueError):
    """A tokenizer directory or file is missing or unusable."""


def _token_content(entry: Any) -> str | None:
    # tokenizer_config.json stores special tokens either as a string or as an AddedToken dict.
    if entry is None or isinstance(entry, str):
        return entry
    if isinstance(entry, dict) and isinstance(entry.get("content"), str):
        return entry["content"]
    raise TokenizerError(f"special token entry {entry!r} in {TOKENIZER_CONFIG_FILE} is neither a string nor a token dict.")


def _without_added_tokens(tokenizer_json: str) -> str:
    """The same tokenizer with no added-token matching (the BPE model still knows every id)."""
    data = json.loads(tokenizer_json)
    data["added_tokens"] = []
    data["post_processor"] = None  # it names BOS as an added token
    return json.dumps(data)


class Tokenizer:
    """Byte-level BPE tokenizer from a ``tokenizer.json`` (+ optional ``tokenizer_config.json``)."""

    def __init__(self, tokenizer_json: str, config: dict[str, Any] | None = None) -> None:
        config = config or {}
        try:
            self._parsing = tokenizers.Tokenizer.from_str(tokenizer_json)
            self._literal = tokenizers.Tokenizer.from_str(_without_added_tokens(tokenizer_json))
        except Exception as exc:  # the Rust side raises a bare Exception on malformed JSON
            raise TokenizerError(f"tokenizer.json could not be loaded ({exc}); rebuild it with `python -m model.vocab`.") from exc
        self.bos_token: str | None = _token_content(config.get("bos_token"))
        self.eos_token: str | None = _token_content(config.get("eos_token"))
        self.adds_bos: bool = bool(config.get("add_bos_token", False))
        self.bos_id: int | None = self._required_id(self.bos_token, "bos_token")
        self.eos_id: int | None = self._required_id(self.eos_token, "eos_token")

    @classmethod
    def from_file(cls, path: str | Path) -> Tokenizer:
        """Load ``tokenizer.json``; a ``tokenizer_config.json`` next to it supplies BOS/EOS."""
        path = Path(path)
        if not path.is_file():
            raise TokenizerError(f"tokenizer file {path} does not exist; pass the path of a tokenizer.json.")
        config_path = path.with_name(TOKENIZER_CONFIG_FILE)
        config = None
        if config_path.is_file():
            try:
                config = json.loads(config_path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as exc:
                raise TokenizerError(f"{config_path} is not valid JSON ({exc}); fix or delete it.") from exc
        return cls(path.read_text(encoding="utf-8"), config)

    @classmethod
    def from_dir(cls, directory: str | Path) -> Tokenizer:
        """Load the tokenizer of a Hugging Face-layout model directory."""
        directory = Path(directory)
        path = directory / TOKENIZER_FILE
        if not path.is_file():
            raise TokenizerError(
                f"{directory} has no {TOKENIZER_FILE}; write one with `python -m model.vocab VOCAB.gguf {directory}`."
            )
        return cls.from_file(path)

    def _required_id(self, content: str | None, key: str) -> int | None:
        if content is None:
            return None
        token_id = self.token_id(content)
        if token_id is None:
            raise TokenizerError(f"{key} {content!r} from {TOKENIZER_CONFIG_FILE} is not in the vocabulary.")
        return token_id

    @property
    def vocab_size(self) -> int:
        return self._parsing.get_vocab_size(with_added_tokens=True)

    def encode(self, text: str, add_bos: bool = False, parse_special: bool = True) -> list[int]:
        """Token ids of ``text``; BOS first only when ``add_bos`` (and the tokenizer has one)."""
        backend = self._parsing if parse_special else self._literal
        ids = backend.encode(text, add_special_tokens=False).ids
        if add_bos:
            if self.bos_id is None:
                raise TokenizerError("add_bos=True but this tokenizer has no bos_token in its tokenizer_config.json.")
            ids = [self.bos_id, *ids]
        return ids

    def decode(self, ids: Sequence[int], skip_special: bool = False) -> str:
        """Text of ``ids``; ``skip_special`` drops special (control) tokens such as BOS/EOS."""
        return self._parsing.decode(list(ids), skip_special_tokens=skip_special)

    def token_id(self, text: str) -> int | None:
        """Id of the single token whose content is exactly ``text``, or None."""
        return self._parsing.token_to_id(text)

    def token_text(self, token_id: int) -> str | None:
        """Stored content of a token (byte-level form for BPE pieces), or None when out of range."""
        return self._parsing.id_to_token(token_id)
