"""The LSP server: pygls handlers that decode params, convert positions and call features.

Handlers are coroutines that await the worker's futures, so the message loop keeps
reading (edits, cancellations, newer requests) while the model runs. Everything below
this module sees plain strings and offsets.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInternalError, JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer

from lsp_server.display import for_display
from lsp_server.engine.context import SourceDocument
from lsp_server.features.completion import CompletionRequest, CompletionResult, CompletionSuggestion
from lsp_server.features.runtime import LoadOutcome, ModelState, Runtime
from lsp_server.protocol.debug import debug_requests_enabled, register_debug_requests
from lsp_server.protocol.documents import Document, DocumentStore
from lsp_server.protocol.jsonrpc import SeekcodeProtocol, is_json_decode_error
from lsp_server.protocol.positions import LineIndex, Position, PositionEncoding, PositionError, negotiate_encoding
from lsp_server.protocol.review_handlers import REVIEW_COMMAND, ReviewController
from lsp_server.settings import CONFIG_SECTION, Settings, SettingsError

logger = logging.getLogger(__name__)

MAX_OTHER_DOCUMENTS = 8
# Sent by our editor clients when the cursor comes to rest somewhere (LSP has no such message):
# {"textDocument": {"uri"}, "position"}. The server evaluates the prompt there while idle.
CURSOR_NOTIFICATION = "seekcode/cursor"
# One cursor, one request: a user types in one place at a time, so a newer completion request
# for any document supersedes the older one (editors may ask for every visible buffer at once).
COMPLETION_JOB_KEY = "completion"
SERVER_VERSION = "0.1.0"
LABEL_LENGTH = 60
RECONNECT_SECONDS = 15.0  # a remote server that was down at start is tried again this often


class SeekcodeServer(LanguageServer):
    def __init__(self, base_settings: Settings, runtime: Runtime | None = None) -> None:
        super().__init__(
            name="seekcode-lsp",
            version=SERVER_VERSION,
            protocol_cls=SeekcodeProtocol,
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
        )
        self.base_settings = base_settings
        self.settings = base_settings
        self.initialization_options: dict[str, Any] = {}
        self.documents = DocumentStore()
        self.runtime = runtime or Runtime()
        self.position_encoding = PositionEncoding.UTF16
        self._load_task: asyncio.Task[None] | None = None
        self._reported_failure: str | None = None
        self.review = ReviewController(self)
        # Each returns code actions for (server, CodeActionParams); the one handler lists them all.
        self.code_action_providers = [lambda ls, params: ls.review.code_actions(params)]
        self._backend_outage = False  # a remote failure was shown; quiet until a completion works again
        self._last_connect = 0.0
        # codeAction/resolve: CodeAction.data["kind"] -> async resolver(server, action) -> action (assist_handlers).
        self.code_action_resolvers: dict[str, Any] = {}

    # -- errors -------------------------------------------------------------

    def report_server_error(self, error: Exception, source: Any) -> None:
        """Protocol-level junk is answered (parse errors) and logged, never shown as a popup."""
        if is_json_decode_error(error):
            self.protocol.send_parse_error(str(error.__cause__ or error))
            return
        logger.error("server error from %s: %s", getattr(source, "__name__", source), error)

    # -- settings and model -------------------------------------------------

    def apply_settings(self, *layers: Any) -> None:
        settings = self.base_settings
        for layer in (self.initialization_options, *layers):
            try:
                settings = settings.merged(layer)
            except SettingsError as error:
                self.show_message(f"seekcode: {error}", types.MessageType.Error)
        self.settings = settings

    def client_supports_configuration(self) -> bool:
        workspace = self.client_capabilities.workspace if self.client_capabilities else None
        return bool(workspace and workspace.configuration)

    async def pull_configuration(self) -> dict[str, Any] | None:
        params = types.ConfigurationParams(items=[types.ConfigurationItem(section=CONFIG_SECTION)])
        try:
            reply = await asyncio.wait_for(self.workspace_configuration_async(params), timeout=10)
        except Exception as error:  # the client's configuration is optional; keep what we have
            logger.warning("workspace/configuration failed: %s", error)
            return None
        return reply[0] if reply and isinstance(reply[0], dict) else None

    def start_model_load(self) -> None:
        if self._load_task is not None and not self._load_task.done():
            self._load_task.cancel()
        self._reported_failure = None
        self._backend_outage = False
        self._last_connect = time.monotonic()
        self._load_task = asyncio.ensure_future(self._load_model())

    def maybe_reconnect(self) -> None:
        """A remote server that could not be reached is tried again, at most every RECONNECT_SECONDS
        (the same failure is not shown twice)."""
        if not self.settings.backend_url or time.monotonic() - self._last_connect < RECONNECT_SECONDS:
            return
        if self._load_task is not None and not self._load_task.done():
            return
        self._last_connect = time.monotonic()
        self._load_task = asyncio.ensure_future(self._load_model())

    def report_backend_failure(self, message: str) -> None:
        """One message per outage of the remote server; the editor keeps getting (empty) answers."""
        if self._backend_outage:
            return
        self._backend_outage = True
        self.show_message(f"seekcode: {message}", types.MessageType.Warning)

    async def _load_model(self) -> None:
        future = self.runtime.load(self.settings)
        progress = await self._begin_progress("seekcode: loading model")
        try:
            outcome: LoadOutcome | None = await asyncio.wrap_future(future)
        finally:
            if progress is not None:
                self.work_done_progress.end(progress, types.WorkDoneProgressEnd(message="done"))
        if outcome is None:
            return  # superseded by a newer load
        if outcome.notice:
            self.show_message(f"seekcode: {outcome.notice}", types.MessageType.Warning)
        if outcome.state is ModelState.FAILED and outcome.error is not None:
            self.report_model_failure(str(outcome.error))
        elif outcome.state is ModelState.READY and outcome.choice.source == "remote":
            self.show_log(f"seekcode: connected to {outcome.description}")
        elif outcome.state is ModelState.READY:
            self.show_log(f"seekcode: loaded {outcome.choice.path} ({outcome.choice.source}; {outcome.description})")

    async def _begin_progress(self, title: str) -> str | None:
        window = self.client_capabilities.window if self.client_capabilities else None
        if not (window and window.work_done_progress):
            return None
        token = f"seekcode-load-{uuid.uuid4()}"
        try:
            await asyncio.wait_for(self.work_done_progress.create_async(token), timeout=5)
        except Exception as error:  # a client that refuses progress still gets completions
            logger.info("client refused a progress token: %s", error)
            return None
        self.work_done_progress.begin(token, types.WorkDoneProgressBegin(title=title, cancellable=False))
        return token

    def report_model_failure(self, message: str) -> None:
        """One popup per distinct failure; completions stay empty until it is fixed."""
        if message == self._reported_failure:
            return
        self._reported_failure = message
        self.show_message(f"seekcode: {message}", types.MessageType.Error)

    def show_message(self, message: str, kind: types.MessageType) -> None:
        self.window_show_message(types.ShowMessageParams(type=kind, message=for_display(message)))

    def show_log(self, message: str) -> None:
        self.window_log_message(types.LogMessageParams(type=types.MessageType.Log, message=for_display(message)))

    # -- completion ---------------------------------------------------------

    def completion_request(self, uri: str, position: types.Position) -> tuple[CompletionRequest, LineIndex, Document]:
        document = self.documents.get(uri)
        if document is None:
            raise JsonRpcInvalidParams(f"Invalid params: {uri} is not open; send textDocument/didOpen first.")
        index = document.index
        try:
            offset = index.offset_at(Position(position.line, position.character), self.position_encoding)
        except PositionError as error:
            raise JsonRpcInvalidParams(f"Invalid params: {error}") from None
        return self.request_at(document, offset), index, document

    def request_at(self, document: Document, offset: int) -> CompletionRequest:
        others = [
            SourceDocument(path=other.uri, text=other.text, language=other.language_id)
            for other in self.documents.others(document.uri)[:MAX_OTHER_DOCUMENTS]
        ]
        return CompletionRequest(
            doc_text=document.text,
            cursor_offset=offset,
            language=document.language_id,
            other_docs=tuple(others),
            settings=self.settings,
            uri=document.uri,
        )

    def cursor_moved(self, params: Any) -> None:
        """`seekcode/cursor` from our editor clients: the cursor rests at a place (the user opened a
        file or jumped there). Evaluate that place's prompt while they read, before they type."""
        place = _cursor_place(params)
        document = self.documents.get(place[0]) if place else None
        if document is None:
            logger.info("seekcode/cursor ignored: it needs an open textDocument.uri and a position")
            return
        try:
            offset = document.index.offset_at(place[1], self.position_encoding)
        except PositionError as error:
            logger.info("seekcode/cursor ignored: %s", error)
            return
        self.prefill(document, offset)

    def prefill(self, document: Document, offset: int) -> None:
        """Evaluate the prompt at `offset` as idle work: after an edit, while the editor waits out
        its debounce before asking there; where the cursor came to rest, while the user reads."""
        if self.runtime.state is not ModelState.READY or not self.settings.is_enabled_for(document.language_id):
            return
        if 0 <= offset <= len(document.text):
            self.runtime.prefill(self.request_at(document, offset))

    async def suggest(self, uri: str, position: types.Position) -> tuple[list[CompletionSuggestion], LineIndex]:
        request, index, document = self.completion_request(uri, position)
        if not self.settings.is_enabled_for(document.language_id):
            return [], index
        if self.runtime.state is ModelState.FAILED:
            self.maybe_reconnect()
            return [], index
        version = document.version
        result = self.runtime.cached(request)
        if result is not None:
            logger.info("completion from the cache for %s", uri)
            self.runtime.supersede(COMPLETION_JOB_KEY)
        else:
            future = self.runtime.complete(COMPLETION_JOB_KEY, request)
            try:
                result = await asyncio.wrap_future(future)
            except asyncio.CancelledError:
                self.runtime.cancel(future)  # $/cancelRequest: stop the model mid-generation
                raise
        if result is None or document.version != version or self.documents.get(uri) is not document:
            return [], index  # superseded, or the text moved on while the model ran
        if result.source == "no-model" and self.runtime.last_outcome and self.runtime.last_outcome.error:
            self.report_model_failure(str(self.runtime.last_outcome.error))
        if result.source == "backend-error" and self.runtime.last_backend_error is not None:
            self.report_backend_failure(str(self.runtime.last_backend_error))
        elif result.source == "model":
            self._backend_outage = False
        return result.suggestions, index

    def lsp_range(self, index: LineIndex, start: int, end: int) -> types.Range:
        start_position = index.position_at(start, self.position_encoding)
        end_position = index.position_at(end, self.position_encoding)
        return types.Range(
            start=types.Position(line=start_position.line, character=start_position.character),
            end=types.Position(line=end_position.line, character=end_position.character),
        )


def _guarded(handler):
    """Unexpected exceptions become a one-line InternalError; the traceback goes to the log."""

    async def wrapper(ls: SeekcodeServer, params: Any) -> Any:
        try:
            return await handler(ls, params)
        except (JsonRpcException, asyncio.CancelledError):
            raise
        except Exception as error:
            logger.exception("%s failed", handler.__name__)
            raise JsonRpcInternalError(f"Internal error in seekcode ({type(error).__name__}); see the server log.")

    wrapper.__name__ = handler.__name__
    return wrapper


def _cursor_place(params: Any) -> tuple[str, Position] | None:
    """(uri, position) from `{"textDocument": {"uri"}, "position": {"line", "character"}}`, or None."""
    def field(value: Any, name: str) -> Any:  # pygls hands unknown methods' params over as objects
        return value.get(name) if isinstance(value, dict) else getattr(value, name, None)

    document, position = field(params, "textDocument"), field(params, "position")
    uri = field(document, "uri")
    line, character = field(position, "line"), field(position, "character")
    if not isinstance(uri, str) or not all(type(value) is int and value >= 0 for value in (line, character)):
        return None
    return uri, Position(line, character)


def build_server(base_settings: Settings, runtime: Runtime | None = None) -> SeekcodeServer:
    server = SeekcodeServer(base_settings, runtime)

    @server.feature(types.INITIALIZE)
    def initialize(ls: SeekcodeServer, params: types.InitializeParams) -> None:
        general = params.capabilities.general
        ls.position_encoding = negotiate_encoding(general.position_encodings if general else None)
        options = params.initialization_options
        if isinstance(options, dict):
            ls.initialization_options = options.get(CONFIG_SECTION, options)
        elif options is not None:
            ls.show_message("seekcode: initializationOptions must be a JSON object; ignored.", types.MessageType.Error)
        ls.apply_settings()

    @server.feature(types.INITIALIZED)
    async def initialized(ls: SeekcodeServer, params: types.InitializedParams) -> None:
        if ls.client_supports_configuration():
            ls.apply_settings(await ls.pull_configuration())
        if ls.runtime.needs_reload(ls.settings):  # a didChangeConfiguration may have started this load
            ls.start_model_load()

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(ls: SeekcodeServer, params: types.DidChangeConfigurationParams) -> None:
        settings = params.settings
        if isinstance(settings, dict) and CONFIG_SECTION in settings:
            settings = settings[CONFIG_SECTION]
        elif not settings and ls.client_supports_configuration():
            settings = await ls.pull_configuration()  # clients that only say "something changed"
        ls.apply_settings(settings if isinstance(settings, dict) else None)
        ls.runtime.settings_changed()
        if ls.runtime.needs_reload(ls.settings):
            ls.start_model_load()

    @server.feature(CURSOR_NOTIFICATION)
    def cursor(ls: SeekcodeServer, params: Any) -> None:
        ls.cursor_moved(params)

    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    @_guarded
    async def inline_completion(
        ls: SeekcodeServer, params: types.InlineCompletionParams
    ) -> types.InlineCompletionList:
        uri = params.text_document.uri
        suggestions, index = await ls.suggest(uri, params.position)
        items = [
            types.InlineCompletionItem(
                insert_text=suggestion.text,
                range=ls.lsp_range(index, suggestion.replace_start, suggestion.replace_end),
            )
            for suggestion in suggestions
        ]
        return types.InlineCompletionList(items=items)

    @server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(resolve_provider=False))
    @_guarded
    async def completion(ls: SeekcodeServer, params: types.CompletionParams) -> types.CompletionList:
        suggestions, index = await ls.suggest(params.text_document.uri, params.position)
        items = [
            types.CompletionItem(
                label=_label(suggestion.text),
                kind=types.CompletionItemKind.Text,
                detail="seekcode",
                filter_text=suggestion.text,
                insert_text_format=types.InsertTextFormat.PlainText,
                text_edit=types.TextEdit(
                    range=ls.lsp_range(index, suggestion.replace_start, suggestion.replace_end),
                    new_text=suggestion.text,
                ),
                preselect=True,
            )
            for suggestion in suggestions
        ]
        # Incomplete: the client asks again as the user types, which the cache answers.
        return types.CompletionList(is_incomplete=True, items=items)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE, types.SaveOptions(include_text=False))
    def did_save(ls: SeekcodeServer, params: types.DidSaveTextDocumentParams) -> None:
        ls.review.saved(params.text_document.uri)

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(
            code_action_kinds=[types.CodeActionKind.QuickFix, types.CodeActionKind.Source, types.CodeActionKind.RefactorRewrite],
            resolve_provider=True,
        ),
    )
    def code_action(ls: SeekcodeServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        actions: list[types.CodeAction] = []
        for provider in ls.code_action_providers:
            actions += provider(ls, params)
        return actions

    @server.feature(types.CODE_ACTION_RESOLVE)
    @_guarded
    async def code_action_resolve(ls: SeekcodeServer, action: types.CodeAction) -> types.CodeAction:
        data = action.data if isinstance(action.data, dict) else {}
        resolver = ls.code_action_resolvers.get(data.get("kind"))
        return await resolver(ls, action) if resolver is not None else action

    @server.command(REVIEW_COMMAND)
    @_guarded
    async def review_command(ls: SeekcodeServer, *arguments: Any) -> dict[str, Any]:
        return await ls.review.review(list(arguments))

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: SeekcodeServer, params: Any) -> None:
        ls.runtime.close()

    from lsp_server.protocol.assist_handlers import register_assist

    register_assist(server)  # docstring/tests code actions, resolvers and commands

    if debug_requests_enabled():
        register_debug_requests(server)  # SEEKCODE_DEBUG_REQUESTS=1: test-only, read-only requests
    return server


def _label(text: str) -> str:
    first_line = text.strip().splitlines()[0] if text.strip() else text
    return first_line if len(first_line) <= LABEL_LENGTH else first_line[: LABEL_LENGTH - 1] + "…"
