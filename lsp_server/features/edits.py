"""Edits as plain data: text edits per file, shown as a unified diff, written atomically,
or handed to the protocol as an LSP WorkspaceEdit (plain JSON, no lsprotocol types).

    TextEdit(start, end, new_text)           # str offsets into the file's text
    FileEdit(path, edits, original)          # original None: the file is created
    apply_edits(text, edits) -> str
    unified_diff(file_edits, root) -> str
    write_atomic(file_edits, root) -> list[Path]
    workspace_edit(file_edits, encoding) -> dict

Every path must lie inside the workspace root; an edit that would leave it raises
EditError, and nothing is written unless every file can be.
"""

from __future__ import annotations

import difflib
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


class EditError(ValueError):
    """An edit that cannot be applied: overlapping, out of range, or outside the workspace."""


@dataclass(frozen=True)
class TextEdit:
    start: int
    end: int
    new_text: str


@dataclass(frozen=True)
class FileEdit:
    path: Path
    edits: tuple[TextEdit, ...]
    original: str | None  # the text the offsets refer to; None when the edit creates the file

    @property
    def creates(self) -> bool:
        return self.original is None

    def new_text(self) -> str:
        return apply_edits(self.original or "", self.edits)


def apply_edits(text: str, edits: Sequence[TextEdit]) -> str:
    """`text` with the edits applied; edits may come in any order but must not overlap."""
    ordered = sorted(edits, key=lambda edit: (edit.start, edit.end))
    pieces: list[str] = []
    position = 0
    for edit in ordered:
        if not 0 <= edit.start <= edit.end <= len(text):
            raise EditError(f"an edit spans {edit.start}..{edit.end} but the text has {len(text)} characters.")
        if edit.start < position:
            raise EditError("two edits overlap; they cannot be applied together.")
        pieces.append(text[position : edit.start])
        pieces.append(edit.new_text)
        position = edit.end
    pieces.append(text[position:])
    return "".join(pieces)


def inside_root(path: Path, root: Path) -> Path:
    """`path` resolved, or EditError when it is not under `root` (symlinks followed)."""
    resolved = Path(os.path.realpath(path))
    resolved_root = Path(os.path.realpath(root))
    if resolved != resolved_root and resolved_root not in resolved.parents:
        if Path(os.path.abspath(root)) in Path(os.path.abspath(path)).parents:
            raise EditError(f"{path} is outside the workspace {root} (a symbolic link leads to {resolved}); "
                            "seekcode only edits files inside it.")
        raise EditError(f"{path} is outside the workspace {root}; seekcode only edits files inside it.")
    return resolved


def unified_diff(file_edits: Sequence[FileEdit], root: Path) -> str:
    """A `git apply`-able diff of every file edit, paths relative to `root`."""
    chunks: list[str] = []
    for file_edit in file_edits:
        resolved = inside_root(file_edit.path, root)
        relative = resolved.relative_to(Path(os.path.realpath(root))).as_posix()
        old = file_edit.original or ""
        new = file_edit.new_text()
        old_name = "/dev/null" if file_edit.creates else f"a/{relative}"
        lines = difflib.unified_diff(
            old.splitlines(keepends=True), new.splitlines(keepends=True), fromfile=old_name, tofile=f"b/{relative}"
        )
        for line in lines:
            chunks.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(chunks)


def write_atomic(file_edits: Sequence[FileEdit], root: Path) -> list[Path]:
    """Write every edited file through a temporary file and a rename.

    All paths and texts are checked before the first write; a file that changed on disk
    since its text was read is refused rather than overwritten.
    """
    planned: list[tuple[Path, str]] = []
    for file_edit in file_edits:
        resolved = inside_root(file_edit.path, root)
        if file_edit.creates:
            if resolved.exists():
                raise EditError(f"{file_edit.path} already exists; it would be overwritten.")
        else:
            try:
                current = resolved.read_bytes().decode("utf-8")
            except (OSError, UnicodeDecodeError) as error:
                raise EditError(f"{file_edit.path} cannot be read back ({error}).") from None
            if current != file_edit.original:
                raise EditError(f"{file_edit.path} changed on disk since it was read; run the command again.")
        planned.append((resolved, file_edit.new_text()))
    written: list[Path] = []
    for resolved, text in planned:
        resolved.parent.mkdir(parents=True, exist_ok=True)
        mode = resolved.stat().st_mode & 0o7777 if resolved.exists() else None
        handle, temporary = tempfile.mkstemp(prefix=f".{resolved.name}.", suffix=".seekcode", dir=resolved.parent)
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(text.encode("utf-8"))
            if mode is not None:
                os.chmod(temporary, mode)
            os.replace(temporary, resolved)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        written.append(resolved)
    return written


def _position(text: str, offset: int, encoding: str) -> dict[str, int]:
    from lsp_server.protocol.positions import LineIndex, PositionEncoding

    position = LineIndex(text).position_at(offset, PositionEncoding(encoding))
    return {"line": position.line, "character": position.character}


def lsp_text_edits(text: str, edits: Sequence[TextEdit], encoding: str = "utf-16") -> list[dict]:
    return [
        {
            "range": {"start": _position(text, edit.start, encoding), "end": _position(text, edit.end, encoding)},
            "newText": edit.new_text,
        }
        for edit in edits
    ]


def workspace_edit(
    file_edits: Sequence[FileEdit], encoding: str = "utf-16", versions: dict[str, int] | None = None
) -> dict:
    """An LSP WorkspaceEdit (documentChanges form) as plain JSON; `versions` maps a URI to
    the open document's version so a client rejects the edit if the text moved on."""
    versions = versions or {}
    changes: list[dict] = []
    for file_edit in file_edits:
        uri = Path(os.path.abspath(file_edit.path)).as_uri()
        if file_edit.creates:
            changes.append({"kind": "create", "uri": uri, "options": {"overwrite": False, "ignoreIfExists": True}})
        changes.append(
            {
                "textDocument": {"uri": uri, "version": versions.get(uri)},
                "edits": lsp_text_edits(file_edit.original or "", file_edit.edits, encoding),
            }
        )
    return {"documentChanges": changes}
