"""Review in the editor: diagnostics (source `seekcode`), quick fixes, on-save and on-demand reviews.

`seekcode.review` {"uri", "range"?, "scope"?: "function"|"file"|"diff", "rev"?} reviews on the
worker as a background job (completions preempt it), publishes diagnostics and returns
{"findings": n}. A newer review of a document supersedes the older one (which returns
{"findings": 0, "superseded": true}). Published diagnostics follow edits
(`ReviewDiagnostics`) and clear when their lines change.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from lsp_server.backend.base import BackendError

from lsp_server.features.review import Finding, LineTable, ReviewRequest, function_lines
from lsp_server.protocol.positions import LineIndex, Position
from lsp_server.protocol.review_diagnostics import ReviewDiagnostics, TrackedFinding

logger = logging.getLogger(__name__)

REVIEW_COMMAND = "seekcode.review"
SOURCE = "seekcode"
SCOPES = ("function", "file", "diff", "selection")
SEVERITIES = {
    "error": types.DiagnosticSeverity.Error,
    "warning": types.DiagnosticSeverity.Warning,
    "info": types.DiagnosticSeverity.Information,
}


class ReviewController:
    """The server's review state: tracked diagnostics and the newest review per document."""

    def __init__(self, server) -> None:
        self.server = server
        self.diagnostics = ReviewDiagnostics()
        self._generation: dict[str, int] = {}
        # Edits made while a review runs, replayed on its findings when it ends (None: text replaced).
        self._edits_during: dict[str, list[tuple[int, int, str]] | None] = {}

    # -- running a review ----------------------------------------------------

    async def review(self, arguments: Any, trigger: str = "command") -> dict[str, Any]:
        uri, scope, lsp_range, rev = _parse_arguments(arguments)
        logger.info("review of %s requested (%s, scope %s)", uri, trigger, scope)
        server = self.server
        document = server.documents.get(uri)
        if document is None:
            raise JsonRpcInvalidParams(f"Invalid params: {uri} is not open; send textDocument/didOpen first.")
        text = document.text
        lines = LineTable(text)
        first, last, changed = 1, lines.count, None
        if scope in ("function", "selection") and lsp_range is not None:
            first, last = self._range_lines(document, lsp_range)
            if scope == "function":
                offset = document.index.offset_at(Position(lsp_range.start.line, lsp_range.start.character),
                                                  server.position_encoding)
                found = function_lines(text, offset, document.language_id or uri)
                if found is not None:
                    first, last = found
        elif scope == "diff":
            changed = await asyncio.to_thread(_changed_lines, uri, rev or "HEAD")
        request = ReviewRequest(text, path=uri, language=document.language_id, first_line=first,
                                last_line=last, changed_lines=changed)
        generation = self._generation.get(uri, 0) + 1
        self._generation[uri] = generation
        self._edits_during[uri] = []
        token: list[str | None] = [None]
        future = server.runtime.review(uri, request, self._calibration_reporter(token))
        progress = token[0] = await self._begin_progress("seekcode: reviewing")
        cancelled = []
        if progress is not None and progress in server.work_done_progress.tokens:
            def cancel(_: object) -> None:  # the user pressed cancel on the progress report
                cancelled.append(True)
                server.runtime.cancel(future)

            server.work_done_progress.tokens[progress].add_done_callback(cancel)
        try:
            result = await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            server.runtime.cancel(future)  # $/cancelRequest: stop the model mid-review
            raise
        except BackendError as error:  # the inference server failed: one sentence, the server keeps serving
            logger.warning("review of %s failed: %s (%s)", uri, error, error.reason)
            return {"findings": 0, "message": str(error)}
        finally:
            if progress is not None:
                server.work_done_progress.end(progress, types.WorkDoneProgressEnd(message="done"))
            current = self._generation.get(uri) == generation
            edits = self._edits_during.pop(uri, None) if current else None
        if cancelled:
            return {"findings": 0, "cancelled": True}
        if result is None or not current:
            return {"findings": 0, "superseded": True}
        if server.documents.get(uri) is not document or edits is None:
            return {"findings": 0, "message": "The document was replaced or closed during the review; review it again."}
        # Positions in the text that was reviewed; the edits made since then move or clear them.
        reviewed = LineIndex(text)
        tracked = [self._tracked(reviewed, finding) for finding in result.findings]
        # The new findings replace the old ones on the reviewed lines; others stay.
        kept = [
            item for item in self.diagnostics.get(uri)
            if not (first - 1 <= item.first_line and item.last_line <= last - 1)
        ]
        incoming = ReviewDiagnostics()
        incoming.set(uri, tracked)
        for start_line, end_line, new_text in edits:
            incoming.edited(uri, start_line, end_line, new_text)
        tracked = incoming.get(uri)
        self.diagnostics.set(uri, kept + tracked)
        self.publish(uri)
        logger.info("review of %s: %d findings (%s)", uri, len(tracked), ", ".join(result.signals) or "no signal")
        answer: dict[str, Any] = {"findings": len(tracked)}
        if result.notes:
            answer["message"] = " ".join(result.notes)
        return answer

    def _calibration_reporter(self, token: list[str | None]):
        """A `progress(done, total, what)` for the worker thread: reports on the review's progress
        token (once it exists) while the model's one-time calibration runs."""
        loop = asyncio.get_running_loop()
        server = self.server

        def report(done: int, total: int, what: str) -> None:
            if token[0] is None:
                return
            update = types.WorkDoneProgressReport(
                message=f"calibrating the review for this model (once): {what}",
                percentage=int(100 * done / max(total, 1)),
            )
            loop.call_soon_threadsafe(server.work_done_progress.report, token[0], update)

        return report

    def _range_lines(self, document, lsp_range: types.Range) -> tuple[int, int]:
        start, end = lsp_range.start.line + 1, lsp_range.end.line + 1
        if lsp_range.end.character == 0 and end > start:
            end -= 1  # a selection ending at a line start does not include that line
        return start, end

    def _tracked(self, index: LineIndex, finding: Finding) -> TrackedFinding:
        encoding = self.server.position_encoding
        start = index.position_at(finding.start, encoding)
        end = index.position_at(finding.end, encoding)
        return TrackedFinding(
            start=(start.line, start.character), end=(end.line, end.character),
            severity=finding.severity, message=finding.message, rule=finding.rule,
            first_line=finding.start_line - 1, last_line=finding.end_line - 1, suggestion=finding.suggestion,
        )

    async def _begin_progress(self, title: str) -> str | None:
        server = self.server
        window = server.client_capabilities.window if server.client_capabilities else None
        if not (window and window.work_done_progress):
            return None
        token = f"seekcode-review-{uuid.uuid4()}"
        try:
            await asyncio.wait_for(server.work_done_progress.create_async(token), timeout=5)
        except Exception as error:
            logger.info("client refused a progress token: %s", error)
            return None
        server.work_done_progress.begin(token, types.WorkDoneProgressBegin(title=title, cancellable=True))
        return token

    # -- triggers and edits --------------------------------------------------

    def saved(self, uri: str) -> None:
        document = self.server.documents.get(uri)
        settings = self.server.settings
        if settings.review_trigger != "onSave" or document is None or not settings.is_enabled_for(document.language_id):
            return
        task = asyncio.ensure_future(self.review({"uri": uri, "scope": "file"}, trigger="save"))
        task.add_done_callback(_log_failure)

    def changed(self, uri: str, edits: list[tuple[int, int, str]] | None) -> None:
        """Edits as (start line, end line, new text) in order; None: the whole text was replaced."""
        if uri in self._edits_during:
            during = self._edits_during[uri]
            self._edits_during[uri] = None if edits is None or during is None else during + edits
        if edits is None:
            moved = self.diagnostics.clear(uri)
        else:
            moved = False
            for start_line, end_line, new_text in edits:
                moved |= self.diagnostics.edited(uri, start_line, end_line, new_text)
        if moved:
            self.publish(uri)

    def closed(self, uri: str) -> None:
        self._generation[uri] = self._generation.get(uri, 0) + 1  # a running review's answer is stale
        self.server.runtime.scheduler.supersede(("review", uri))
        if self.diagnostics.clear(uri):
            self.server.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    # -- LSP views -----------------------------------------------------------

    def publish(self, uri: str) -> None:
        document = self.server.documents.get(uri)
        params = types.PublishDiagnosticsParams(
            uri=uri,
            diagnostics=[_diagnostic(item) for item in self.diagnostics.get(uri)],
            version=document.version if document is not None else None,
        )
        self.server.text_document_publish_diagnostics(params)

    def code_actions(self, params: types.CodeActionParams) -> list[types.CodeAction]:
        uri = params.text_document.uri
        document = self.server.documents.get(uri)
        if document is None:
            return []
        wanted = params.context.only
        actions: list[types.CodeAction] = []
        if not wanted or any(kind.startswith("quickfix") for kind in wanted):
            actions += self._quick_fixes(document, params.range)
        if not wanted or any(kind.startswith("source") for kind in wanted):
            for title, scope in (("Review function", "function"), ("Review file", "file")):
                argument = {"uri": uri, "range": _range_json(params.range), "scope": scope}
                actions.append(types.CodeAction(
                    title=title, kind=types.CodeActionKind.Source,
                    command=types.Command(title=title, command=REVIEW_COMMAND, arguments=[argument]),
                ))
        return actions

    def _quick_fixes(self, document, lsp_range: types.Range) -> list[types.CodeAction]:
        from lsp_server.features.edits import EditError
        from lsp_server.protocol.workspace import check_file_in_workspace

        try:
            check_file_in_workspace(self.server, document.uri)
        except EditError:
            return []  # its suggestions stay diagnostics; an edit would leave the workspace
        actions = []
        for item in self.diagnostics.get(document.uri):
            if item.suggestion is None or item.last_line < lsp_range.start.line or item.first_line > lsp_range.end.line:
                continue
            index = document.index
            if item.last_line >= index.line_count:
                continue
            encoding = self.server.position_encoding
            # A character past the line's end clamps to it: the end of the last replaced line.
            end_character = index.position_at(index.offset_at(Position(item.last_line, 10**9), encoding),
                                              encoding).character
            edit = types.TextEdit(
                range=types.Range(start=types.Position(line=item.first_line, character=0),
                                  end=types.Position(line=item.last_line, character=end_character)),
                new_text=item.suggestion,
            )
            actions.append(types.CodeAction(
                title=f"Apply seekcode suggestion: {_short(item.message)}",
                kind=types.CodeActionKind.QuickFix,
                diagnostics=[_diagnostic(item)],
                is_preferred=True,
                edit=types.WorkspaceEdit(changes={document.uri: [edit]}),
            ))
        return actions


def _diagnostic(item: TrackedFinding) -> types.Diagnostic:
    return types.Diagnostic(
        range=types.Range(start=types.Position(line=item.start[0], character=item.start[1]),
                          end=types.Position(line=item.end[0], character=item.end[1])),
        severity=SEVERITIES[item.severity],
        source=SOURCE,
        code=item.rule,
        message=item.message,
    )


def _short(message: str, length: int = 60) -> str:
    return message if len(message) <= length else message[: length - 1] + "…"


def _range_json(lsp_range: types.Range) -> dict[str, Any]:
    return {"start": {"line": lsp_range.start.line, "character": lsp_range.start.character},
            "end": {"line": lsp_range.end.line, "character": lsp_range.end.character}}


def _parse_arguments(arguments: Any) -> tuple[str, str, types.Range | None, str | None]:
    while isinstance(arguments, (list, tuple)):  # pygls may pass the arguments list itself
        arguments = arguments[0] if len(arguments) == 1 else None
    if not isinstance(arguments, dict) or not isinstance(arguments.get("uri"), str):
        raise JsonRpcInvalidParams(
            'Invalid params: seekcode.review takes one object {"uri", "range"?, "scope"?, "rev"?}.'
        )
    scope = arguments.get("scope") or ("function" if arguments.get("range") else "file")
    if scope not in SCOPES:
        raise JsonRpcInvalidParams(f"Invalid params: scope must be one of {', '.join(SCOPES)}, got {scope!r}.")
    lsp_range = None
    raw_range = arguments.get("range")
    if raw_range is not None:
        try:
            lsp_range = types.Range(
                start=types.Position(line=int(raw_range["start"]["line"]), character=int(raw_range["start"]["character"])),
                end=types.Position(line=int(raw_range["end"]["line"]), character=int(raw_range["end"]["character"])),
            )
        except (KeyError, TypeError, ValueError):
            raise JsonRpcInvalidParams("Invalid params: range must be {start: {line, character}, end: {...}}.") from None
    rev = arguments.get("rev")
    if rev is not None and not isinstance(rev, str):
        raise JsonRpcInvalidParams("Invalid params: rev must be a git revision string such as HEAD~1.")
    return arguments["uri"], scope, lsp_range, rev


def _changed_lines(uri: str, rev: str) -> frozenset[int]:
    from lsp_server.engine.gitdiff import GitDiffError, changed_lines

    parsed = urlparse(uri)
    if parsed.scheme != "file":
        raise JsonRpcInvalidParams(f"Invalid params: a diff review needs a file:// document, not {uri}.")
    try:
        return changed_lines(Path(unquote(parsed.path)), rev)
    except (GitDiffError, OSError) as error:
        raise JsonRpcInvalidParams(f"Invalid params: {error}") from None


def _log_failure(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("on-save review failed: %s", task.exception())
