"""Which workspace folder a document belongs to; edits never leave the workspace.

    workspace_root(ls, path) -> Path          # EditError when `path` is outside every folder
    check_file_in_workspace(ls, uri) -> None  # the same for a document URI (file: only)
"""

from __future__ import annotations

from pathlib import Path

from pygls.uris import to_fs_path

from lsp_server.features.edits import EditError, inside_root


def workspace_folders(ls) -> list[Path]:
    folders = [Path(to_fs_path(folder.uri) or "") for folder in (ls.workspace.folders or {}).values()]
    if ls.workspace.root_path:
        folders.append(Path(ls.workspace.root_path))
    return list(dict.fromkeys(folder for folder in folders if str(folder) not in ("", ".")))  # rootUri repeats one


def workspace_root(ls, path: Path) -> Path:
    """The editor's workspace folder holding `path` (symlinks followed), or the project root
    found from it when the editor named no folder (single-file mode). A file outside every
    folder the editor named raises EditError."""
    from lsp_server.cli_assist import project_root

    folders = workspace_folders(ls)
    if not folders:
        return project_root(path)
    refusal: EditError | None = None
    for folder in sorted(folders, key=lambda item: len(str(item)), reverse=True):
        try:
            inside_root(path, folder)
            return folder
        except EditError as error:
            refusal = refusal or error
        except (OSError, RuntimeError) as error:  # a symlink loop, an unreadable folder
            raise EditError(f"{path} cannot be located inside the workspace ({error}).") from None
    if len(folders) > 1:
        raise EditError(f"{path} is outside the workspace folders; seekcode only edits files inside them.")
    raise refusal


def check_file_in_workspace(ls, uri: str) -> None:
    """A file: document an edit would change must lie inside the workspace (other schemes,
    like untitled:, are editor buffers with no file behind them)."""
    if uri.startswith("file:"):
        workspace_root(ls, Path(to_fs_path(uri) or uri))
