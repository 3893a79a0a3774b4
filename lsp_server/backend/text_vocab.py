"""A client-side stand-in vocabulary for servers that take text prompts and expose no tokenizer.

OpenAI-compatible servers (vLLM, Ollama, TGI, LM Studio) take the prompt as text and
tokenize it themselves, parsing special-token spellings. The prompt builder still works
in token ids (budgets, spans, the FIM markers of the family), so this vocabulary gives
it ids: text is cut into word/space/punctuation chunks (about one BPE token each for
code, close enough for budgets), each chunk interned to an id; the family's special
tokens get ids of their own, so `detect_family(vocab.token_id, {})` finds the family.
`detokenize` turns a prompt back into the exact text the server must see.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

# Letters (with one leading space), short digit runs, a newline with the indentation after
# it, other whitespace, punctuation runs: roughly how code BPE vocabularies split.
_CHUNK = re.compile(r" ?[^\W\d_]{1,12}| ?\d{1,3}|\n[ \t]*|[ \t]+|_+|[^\w\s]{1,3}|\s|.", re.DOTALL)


class TextVocabulary:
    def __init__(self, special_texts: Iterable[str] = ()) -> None:
        self._pieces: list[str] = []
        self._ids: dict[str, int] = {}
        self._special: dict[str, int] = {}
        for text in special_texts:
            self._special[text] = self._intern(text, special=True)

    def _intern(self, piece: str, special: bool = False) -> int:
        key = ("\0special:" if special else "") + piece
        found = self._ids.get(key)
        if found is None:
            found = len(self._pieces)
            self._pieces.append(piece)
            self._ids[key] = found
        return found

    @property
    def special_texts(self) -> tuple[str, ...]:
        return tuple(self._special)

    def tokenize(self, text: str) -> list[int]:
        """Ids of plain text; special spellings inside it stay plain chunks."""
        return [self._intern(match.group()) for match in _CHUNK.finditer(text)]

    def token_id(self, text: str) -> int | None:
        """Only the special tokens are looked up by spelling (as in a real vocabulary's
        single-token check, plain chunks are not tokens the server knows)."""
        return self._special.get(text)

    def token_piece(self, token_id: int) -> bytes:
        return self._pieces[token_id].encode("utf-8")

    def detokenize(self, token_ids: Sequence[int]) -> str:
        return "".join(self._pieces[token_id] for token_id in token_ids)

    def __len__(self) -> int:
        return len(self._pieces)
