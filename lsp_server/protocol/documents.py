"""Open text documents, kept in sync with the editor by full or incremental changes.

Edits arrive in LSP positions and are converted to str offsets here, once, through
`positions.LineIndex`; everything below the protocol layer sees plain text and offsets.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from lsp_server.protocol.positions import LineIndex, Position, PositionEncoding


@dataclass
class Document:
    uri: str
    language_id: str
    version: int
    text: str
    last_edit: float = field(default_factory=time.monotonic)
    _index: LineIndex | None = field(default=None, repr=False)

    @property
    def index(self) -> LineIndex:
        if self._index is None or self._index.text is not self.text:
            self._index = LineIndex(self.text)
        return self._index

    def replace_range(self, start: Position, end: Position, new_text: str, encoding: PositionEncoding) -> int:
        """Apply one edit; return the offset just after the inserted text (where the cursor is)."""
        start_offset = self.index.offset_at(start, encoding)
        end_offset = self.index.offset_at(end, encoding)
        if end_offset < start_offset:
            start_offset, end_offset = end_offset, start_offset
        self.text = self.text[:start_offset] + new_text + self.text[end_offset:]
        self.last_edit = time.monotonic()
        return start_offset + len(new_text)

    def replace_all(self, new_text: str) -> None:
        self.text = new_text
        self.last_edit = time.monotonic()


class DocumentStore:
    def __init__(self) -> None:
        self._documents: dict[str, Document] = {}

    def open(self, uri: str, language_id: str, version: int, text: str) -> Document:
        document = Document(uri=uri, language_id=language_id, version=version, text=text)
        self._documents[uri] = document
        return document

    def close(self, uri: str) -> None:
        self._documents.pop(uri, None)

    def __len__(self) -> int:
        return len(self._documents)

    def get(self, uri: str) -> Document | None:
        return self._documents.get(uri)

    def others(self, uri: str) -> list[Document]:
        """Other open documents, most recently edited first."""
        return sorted(
            (document for key, document in self._documents.items() if key != uri),
            key=lambda document: document.last_edit,
            reverse=True,
        )
