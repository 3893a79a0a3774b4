"""LSP glue for docstrings and tests: code actions (resolved lazily), the
`seekcode.generateDocstring` / `seekcode.generateTests` commands, progress with cancel.

Listing code actions only parses the document (tree-sitter, no model). The model runs
when an action is resolved (`codeAction/resolve` fills in its edit) or a command is
executed (the server sends `workspace/applyEdit`). Generation is a background job on the
worker: a keystroke's completion preempts it and it resumes afterwards. Cancelling the
progress (or the request) stops it.
"""

from __future__ import annotations

import asyncio
import os
import logging
import uuid
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.uris import to_fs_path

from lsp_server.display import for_display
from lsp_server.engine.chat import ChatTemplateError
from lsp_server.engine.symbols import language_of
from lsp_server.backend.base import BackendError
from lsp_server.features.docstring import DocstringError, plan_docstring
from lsp_server.features.edits import workspace_edit
from lsp_server.protocol.positions import Position, PositionError

logger = logging.getLogger(__name__)

DOCSTRING_COMMAND = "seekcode.generateDocstring"
TESTS_COMMAND = "seekcode.generateTests"


class AssistError(Exception):
    """A request that cannot be served; the message is one sentence for the user."""


def register_assist(server) -> None:
    server.code_action_providers.append(assist_code_actions)
    server.code_action_resolvers["docstring"] = resolve_docstring_action
    server.code_action_resolvers["tests"] = resolve_tests_action

    @server.command(DOCSTRING_COMMAND)
    async def generate_docstring_command(ls, *arguments: Any) -> dict[str, Any]:
        try:
            argument = _single_argument(arguments, DOCSTRING_COMMAND)
            edit = await docstring_workspace_edit(ls, argument)
        except (AssistError, ChatTemplateError) as error:  # a template's words come from the model file
            return {"applied": False, "message": for_display(str(error))}
        except Exception as error:  # the server stays up; the user gets one line, the log the rest
            logger.exception("%s failed", DOCSTRING_COMMAND)
            return {"applied": False, "message": f"seekcode could not write the docstring ({type(error).__name__}); see the server log."}
        return await apply(ls, edit, "Generate docstring")

    @server.command(TESTS_COMMAND)
    async def generate_tests_command(ls, *arguments: Any) -> dict[str, Any]:
        try:
            argument = _single_argument(arguments, TESTS_COMMAND)
            edit, notes = await tests_workspace_edit(ls, argument)
        except (AssistError, ChatTemplateError) as error:
            return {"applied": False, "message": for_display(str(error))}
        except Exception as error:
            logger.exception("%s failed", TESTS_COMMAND)
            return {"applied": False, "message": f"seekcode could not write tests ({type(error).__name__}); see the server log."}
        answer = await apply(ls, edit, "Generate tests")
        if notes:
            answer["message"] = "; ".join(notes) if answer.get("applied") else answer.get("message", "")
        if "message" in answer:
            answer["message"] = for_display(answer["message"])
        return answer


def _single_argument(arguments: tuple[Any, ...], command: str) -> dict[str, Any]:
    if len(arguments) != 1 or not isinstance(arguments[0], dict):
        raise AssistError(f"{command} takes one argument object {{\"uri\", \"position\", ...}}.")
    argument = arguments[0]
    if not isinstance(argument.get("uri"), str) or not isinstance(argument.get("position"), dict):
        raise AssistError(f"{command} needs \"uri\" and \"position\" ({{\"line\", \"character\"}}).")
    return argument


def _document(ls, uri: str) -> tuple[str, str, int | None]:
    """(text, languageId, version) of an open document, or the file on disk."""
    document = ls.documents.get(uri)
    if document is not None:
        return document.text, document.language_id, document.version
    try:
        from lsp_server.cli import LANGUAGE_BY_SUFFIX

        path = Path(to_fs_path(uri) or "")
        language = LANGUAGE_BY_SUFFIX.get(path.suffix.lower(), path.suffix.lstrip("."))
        return path.read_bytes().decode("utf-8"), language, None
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise AssistError(f"{uri} is not open and cannot be read ({error}).") from None


def _offset(ls, text: str, position: dict[str, Any]) -> int:
    from lsp_server.protocol.positions import LineIndex

    try:
        return LineIndex(text).offset_at(Position(int(position["line"]), int(position["character"])), ls.position_encoding)
    except (KeyError, TypeError, ValueError, PositionError) as error:
        raise AssistError(f"the position {position} is not in the document ({error}).") from None


# -- code actions ------------------------------------------------------------------


def assist_code_actions(ls, params: types.CodeActionParams) -> list[types.CodeAction]:
    """"Generate docstring" (and "Replace docstring") for the symbol at the range start."""
    only = params.context.only if params.context else None
    if only and not any(kind.startswith(("refactor", "source")) for kind in only):
        return []
    uri = params.text_document.uri
    document = ls.documents.get(uri)
    if document is None:
        return []
    position = {"line": params.range.start.line, "character": params.range.start.character}
    try:
        offset = _offset(ls, document.text, position)
        plan = plan_docstring(document.text, offset, document.language_id, replace=True)
    except (AssistError, DocstringError):
        return []
    title = "Replace docstring" if plan.symbol.doc is not None else "Generate docstring"
    argument = {"uri": uri, "position": position, "replace": plan.symbol.doc is not None}
    actions = [_action(ls, title, "docstring", DOCSTRING_COMMAND, argument)]
    if language_of(document.language_id) is not None:
        actions.append(_action(ls, "Generate tests", "tests", TESTS_COMMAND, {"uri": uri, "position": position}))
    return actions


def _action(ls, title: str, kind: str, command: str, argument: dict[str, Any]) -> types.CodeAction:
    """An action resolved lazily (data only), or carrying the command for clients that
    cannot resolve edits."""
    action = types.CodeAction(title=title, kind=types.CodeActionKind.RefactorRewrite, data={"kind": kind, **argument})
    if not _client_resolves_edits(ls):
        action.command = types.Command(title=title, command=command, arguments=[argument])
    return action


def _client_resolves_edits(ls) -> bool:
    capabilities = ls.client_capabilities
    text_document = capabilities.text_document if capabilities else None
    code_action = text_document.code_action if text_document else None
    support = code_action.resolve_support if code_action else None
    return bool(support and "edit" in support.properties)


async def resolve_docstring_action(ls, action: types.CodeAction) -> types.CodeAction:
    data = action.data if isinstance(action.data, dict) else {}
    try:
        edit = await docstring_workspace_edit(ls, data)
    except (AssistError, ChatTemplateError) as error:
        ls.show_message(f"seekcode: {error}", types.MessageType.Warning)
        return action
    if edit is not None:
        action.edit = _structure_edit(ls, edit)
    return action


async def resolve_tests_action(ls, action: types.CodeAction) -> types.CodeAction:
    data = action.data if isinstance(action.data, dict) else {}
    try:
        edit, _ = await tests_workspace_edit(ls, data)
    except (AssistError, ChatTemplateError) as error:
        ls.show_message(f"seekcode: {error}", types.MessageType.Warning)
        return action
    action.edit = _structure_edit(ls, edit)
    return action


# -- generation ----------------------------------------------------------------------


def workspace_root(ls, path: Path) -> Path:
    from lsp_server.features.edits import EditError
    from lsp_server.protocol.workspace import workspace_root as root_of

    try:
        return root_of(ls, path)
    except EditError as error:
        raise AssistError(str(error)) from None


def _check_file_in_workspace(ls, uri: str) -> None:
    from lsp_server.features.edits import EditError
    from lsp_server.protocol.workspace import check_file_in_workspace

    try:
        check_file_in_workspace(ls, uri)
    except EditError as error:
        raise AssistError(str(error)) from None


async def tests_workspace_edit(ls, argument: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Write tests for `argument`'s symbol (and run them when tests.run is on); the edit
    creates or appends to the test file, which must lie inside the workspace."""
    from lsp_server.features.assist_jobs import tests_job
    from lsp_server.features.tests import TestsError, plan_tests

    uri = argument.get("uri", "")
    path = Path(to_fs_path(uri) or uri)
    root = workspace_root(ls, path)  # before the file is read
    text, language, version = _document(ls, uri)
    offset = _offset(ls, text, argument.get("position") or {})
    # Generated code runs only under the tests.run setting; the argument can turn a run off, never on.
    run = ls.settings.tests_run and bool(argument.get("run", True))
    try:
        plan = plan_tests(path, text, offset, language, root, argument.get("framework") or "auto")
    except TestsError as error:
        raise AssistError(str(error)) from None
    test_uri = Path(os.path.abspath(plan.test_path)).as_uri()  # as workspace_edit spells it
    open_test = ls.documents.get(test_uri) if plan.test_path.resolve() != path.resolve() else None
    if open_test is not None:  # append to what the editor shows, unsaved changes included
        plan.existing = open_test.text
    progress = await Progress.begin(ls, "seekcode: generating tests")
    future = ls.runtime.scheduler.submit(("tests", uri), tests_job(ls.runtime, plan, ls.settings), background=True)
    progress.on_cancel(lambda: ls.runtime.cancel(future))
    try:
        result = await asyncio.wrap_future(future)
        if result is not None and run:
            progress.report(1, 2)
            # Generated code runs only here, in a subprocess, and only when tests.run is on.
            result = await asyncio.get_running_loop().run_in_executor(
                None, _run_filter, plan, result, ls.settings.tests_timeout)
    except asyncio.CancelledError:
        ls.runtime.cancel(future)
        raise
    except (TestsError, BackendError) as error:  # BackendError: the inference server failed
        raise AssistError(str(error)) from None
    finally:
        progress.end()
    if result is None:
        raise AssistError("test generation was cancelled.")
    versions = {test_uri: open_test.version} if open_test is not None else None
    edit = workspace_edit([result.file_edit], ls.position_encoding.value, versions=versions)
    if plan.test_path.resolve() == path.resolve():
        for change in edit["documentChanges"]:
            if "textDocument" in change:
                change["textDocument"] = {"uri": uri, "version": version}
    return edit, result.notes


def _run_filter(plan, result, timeout: float):
    from lsp_server.features.tests import run_and_filter

    return run_and_filter(plan, result, timeout=timeout)


async def docstring_workspace_edit(ls, argument: dict[str, Any]) -> dict[str, Any] | None:
    """Run the docstring generation for `argument` and return the WorkspaceEdit (plain JSON)."""
    from lsp_server.features.assist_jobs import docstring_job

    uri = argument.get("uri", "")
    _check_file_in_workspace(ls, uri)
    text, language, version = _document(ls, uri)
    offset = _offset(ls, text, argument.get("position") or {})
    style = argument.get("style") or "auto"
    replace = bool(argument.get("replace", False))
    try:
        plan_docstring(text, offset, language, style=style, replace=replace)  # fails fast, before the model
    except DocstringError as error:
        raise AssistError(str(error)) from None
    progress = await Progress.begin(ls, "seekcode: generating docstring")
    job = docstring_job(
        ls.runtime, Path(to_fs_path(uri) or uri), text, offset, language, ls.settings,
        style=style, replace=replace, on_hole=progress.threadsafe_report,
    )
    future = ls.runtime.scheduler.submit(("docstring", uri), job, background=True)
    progress.on_cancel(lambda: ls.runtime.cancel(future))
    try:
        file_edit = await asyncio.wrap_future(future)
    except asyncio.CancelledError:
        ls.runtime.cancel(future)
        raise
    except (DocstringError, BackendError) as error:  # BackendError: the inference server failed
        raise AssistError(str(error)) from None
    finally:
        progress.end()
    if file_edit is None:
        raise AssistError("docstring generation was cancelled.")
    if version is not None and ls.documents.get(uri) is not None and ls.documents.get(uri).version != version:
        raise AssistError("the document changed while the docstring was written; run the action again.")
    file_edit = type(file_edit)(Path(to_fs_path(uri) or uri), file_edit.edits, file_edit.original)
    edit = workspace_edit([file_edit], ls.position_encoding.value, versions={uri: version})
    # The client knows the document by the URI it sent, not by a path we rebuilt.
    for change in edit["documentChanges"]:
        if "textDocument" in change:
            change["textDocument"]["uri"] = uri
    return edit


def _structure_edit(ls, edit: dict[str, Any]) -> types.WorkspaceEdit:
    return ls.protocol._converter.structure(edit, types.WorkspaceEdit)


async def apply(ls, edit: dict[str, Any] | None, label: str) -> dict[str, Any]:
    if edit is None:
        return {"applied": False, "message": "nothing to apply."}
    params = types.ApplyWorkspaceEditParams(edit=_structure_edit(ls, edit), label=label)
    try:
        result = await asyncio.wait_for(ls.workspace_apply_edit_async(params), timeout=60)
    except Exception as error:
        logger.warning("workspace/applyEdit failed: %s", error)
        return {"applied": False, "message": f"the editor did not apply the edit ({error})."}
    applied = bool(getattr(result, "applied", False))
    answer: dict[str, Any] = {"applied": applied}
    if not applied:
        answer["message"] = for_display(getattr(result, "failure_reason", None) or "the editor refused the edit.")
    return answer


class Progress:
    """A cancellable `$/progress` report, or nothing if the client does not support it."""

    def __init__(self, ls, token: str | None) -> None:
        self.ls = ls
        self.token = token
        self.loop = asyncio.get_running_loop()

    @classmethod
    async def begin(cls, ls, title: str) -> "Progress":
        window = ls.client_capabilities.window if ls.client_capabilities else None
        if not (window and window.work_done_progress):
            return cls(ls, None)
        token = f"seekcode-assist-{uuid.uuid4()}"
        try:
            await asyncio.wait_for(ls.work_done_progress.create_async(token), timeout=5)
        except Exception as error:
            logger.info("client refused a progress token: %s", error)
            return cls(ls, None)
        ls.work_done_progress.begin(token, types.WorkDoneProgressBegin(title=title, cancellable=True, percentage=0))
        return cls(ls, token)

    def on_cancel(self, callback) -> None:
        if self.token is None:
            return
        cancelled = self.ls.work_done_progress.tokens.get(self.token)
        if cancelled is not None:
            cancelled.add_done_callback(lambda _: callback())

    def report(self, done: int, total: int) -> None:
        if self.token is None or total <= 0:
            return
        self.ls.work_done_progress.report(
            self.token, types.WorkDoneProgressReport(message=f"{done}/{total}", percentage=int(100 * done / total))
        )

    def threadsafe_report(self, done: int, total: int) -> None:
        """`report` from the worker thread."""
        self.loop.call_soon_threadsafe(self.report, done, total)

    def end(self) -> None:
        if self.token is None:
            return
        self.ls.work_done_progress.end(self.token, types.WorkDoneProgressEnd(message="done"))
        self.ls.work_done_progress.tokens.pop(self.token, None)
