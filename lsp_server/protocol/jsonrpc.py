"""JSON-RPC robustness on top of pygls: every broken message gets an error response.

pygls logs and drops messages it cannot parse or whose params do not match the LSP
types, which leaves the client waiting forever. This protocol subclass answers them:
unparsable JSON -> ParseError (id null), a request whose params do not fit ->
InvalidParams, a message that is not JSON-RPC 2.0 -> InvalidRequest, a request after
`shutdown` -> InvalidRequest. When the client goes away without reading its replies
(stdin EOF, Neovim's `:qa!` not waiting for the shutdown reply), writes are dropped with
one log line instead of BrokenPipeError tracebacks. Documents are kept in our own `DocumentStore` (one
source of truth, converted through `positions`), not in pygls' workspace.
"""

from __future__ import annotations

import errno
import inspect
import json
import logging
import os
from dataclasses import dataclass
from typing import Any

from lsprotocol import types
from pygls.exceptions import (
    JsonRpcException,
    JsonRpcInvalidParams,
    JsonRpcInvalidRequest,
    JsonRpcParseError,
)
from pygls.protocol import LanguageServerProtocol, lsp_method

from lsp_server.protocol.positions import Position, PositionError

logger = logging.getLogger(__name__)


@dataclass
class _UnreadableRequest:
    """A request pygls could not structure; answered with `error` instead of dispatched."""

    id: Any
    method: str
    error: JsonRpcException
    jsonrpc: str = "2.0"


class ClientWriter:
    """pygls' writer, quiet once the client has stopped reading.

    An editor that exits without waiting for replies closes the pipe; every later write
    would raise BrokenPipeError, which pygls logs as a traceback per message. The first
    failure is logged in one line; the stream is pointed at /dev/null so the buffered
    bytes pygls still holds cannot fail again at close or at interpreter exit.
    """

    def __init__(self, writer: Any) -> None:
        self._writer = writer
        self.client_gone = False

    def write(self, data: bytes) -> Any:
        if self.client_gone:
            return None
        try:
            result = self._writer.write(data)
        except (OSError, ValueError) as error:  # EPIPE/ECONNRESET; ValueError: closed file
            self._lose_client(error)
            return None
        return result if inspect.isawaitable(result) else None

    def close(self) -> Any:
        try:
            return self._writer.close()
        except (OSError, ValueError) as error:
            self._lose_client(error)
            return None

    def _lose_client(self, error: BaseException) -> None:
        if not self.client_gone:
            self.client_gone = True
            reason = errno.errorcode.get(getattr(error, "errno", None) or 0, "closed stream")
            logger.info("the client closed the connection (%s); messages to it are dropped", reason)
        stream = getattr(self._writer, "_stdout", None)  # pygls' StdoutWriter keeps the stream here
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(devnull, stream.fileno())
            finally:
                os.close(devnull)
        except (AttributeError, OSError, ValueError):
            pass


class SeekcodeProtocol(LanguageServerProtocol):
    def set_writer(self, writer: Any, include_headers: bool = True) -> None:
        super().set_writer(ClientWriter(writer), include_headers)

    def structure_message(self, data: dict[str, Any]):
        if "jsonrpc" in data and data["jsonrpc"] != self.VERSION:
            return data  # not JSON-RPC 2.0 (`"jsonrpc": 2`, `""`): answered InvalidRequest below, not InvalidParams
        try:
            structured = super().structure_message(data)
        except JsonRpcException as error:
            if isinstance(data, dict) and "id" in data and "method" in data:
                message = f"Invalid params for {data.get('method')}: the request does not match the LSP schema."
                return _UnreadableRequest(data["id"], str(data["method"]), JsonRpcInvalidParams(message))
            raise error
        if _is_request(data) and not hasattr(structured, "id"):
            # A notification method sent with an id: pygls would run it and never answer.
            message = f"Invalid request: {data['method']} is a notification; send it without an id."
            return _UnreadableRequest(data["id"], str(data["method"]), JsonRpcInvalidRequest(message))
        return structured

    def handle_message(self, message: Any) -> None:
        if isinstance(message, _UnreadableRequest):
            logger.warning("answering unreadable %s request %r with an error", message.method, message.id)
            self._send_response(message.id, error=message.error.to_response_error())
            return
        if isinstance(message, dict) or getattr(message, "jsonrpc", None) != self.VERSION:
            request_id = message.get("id") if isinstance(message, dict) else getattr(message, "id", None)
            logger.warning("answering a message that is not JSON-RPC 2.0: %.200r", message)
            if isinstance(request_id, (int, str)):
                error = JsonRpcInvalidRequest("Invalid request: messages must be JSON-RPC 2.0 objects with a method.")
                self._send_response(request_id, error=error.to_response_error())
            return
        is_request = getattr(message, "id", None) is not None and getattr(message, "method", None)
        if self._shutdown and is_request and message.method != types.EXIT:
            error = JsonRpcInvalidRequest("Invalid request: the server is shutting down; only 'exit' is accepted.")
            self._send_response(message.id, error=error.to_response_error())
            return
        super().handle_message(message)

    def _check_handler_result(self, future: Any) -> None:
        """pygls files each notification's future under a fresh uuid in `_request_futures` and
        never removes it: ~700 bytes kept per didChange (the load bench's RSS grew 54 MB in a
        two-minute typing storm). Drop it once the notification has been handled."""
        super()._check_handler_result(future)
        if future.cancelled():
            return  # cancelled by `shutdown`, which is iterating over `_request_futures` right now
        for key in [key for key, pending in self._request_futures.items() if pending is future]:
            del self._request_futures[key]

    def send_parse_error(self, detail: str) -> None:
        error = JsonRpcParseError(f"Parse error: the message body is not valid JSON ({detail}).")
        self._send_data({"jsonrpc": self.VERSION, "id": None, "error": {"code": error.code, "message": error.message}})

    # Documents live in the server's DocumentStore; pygls' workspace copy is not kept.

    @lsp_method(types.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(self, params: types.DidOpenTextDocumentParams):
        document = params.text_document
        self._server.documents.open(document.uri, document.language_id, document.version, document.text)
        yield from ()

    @lsp_method(types.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(self, params: types.DidCloseTextDocumentParams):
        self._server.documents.close(params.text_document.uri)
        self._server.review.closed(params.text_document.uri)
        yield from ()

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: types.DidChangeTextDocumentParams):
        document = self._server.documents.get(params.text_document.uri)
        if document is None:
            logger.warning("didChange for %s, which is not open; ignored", params.text_document.uri)
            return
        encoding = self._server.position_encoding
        review_edits: list[tuple[int, int, str]] | None = []  # review diagnostics follow the edits
        cursor: int | None = None  # where the last edit left the cursor
        for change in params.content_changes:
            if isinstance(change, types.TextDocumentContentChangePartial):
                start, end = change.range.start, change.range.end
                if review_edits is not None:
                    review_edits.append((min(start.line, end.line), max(start.line, end.line), change.text))
                try:
                    cursor = document.replace_range(
                        Position(start.line, start.character), Position(end.line, end.character), change.text, encoding
                    )
                except PositionError as error:
                    # The editor and server disagree about the text; drop the document so
                    # completions stop until the editor reopens it, rather than corrupt it.
                    logger.error("edit outside %s (%s); closing our copy", document.uri, error)
                    self._server.documents.close(document.uri)
                    return
            else:
                document.replace_all(change.text)
                review_edits = None
                cursor = None
        document.version = params.text_document.version
        self._server.review.changed(document.uri, review_edits)
        if cursor is not None:
            self._server.prefill(document, cursor)
        yield from ()


def _is_request(data: Any) -> bool:
    """A JSON-RPC 2.0 message with a method and a non-null id."""
    return (isinstance(data, dict) and data.get("jsonrpc") == SeekcodeProtocol.VERSION
            and data.get("id") is not None and isinstance(data.get("method"), str))


def is_json_decode_error(error: BaseException) -> bool:
    """Unparsable JSON, or a body that is not UTF-8 (json.loads decodes bytes first)."""
    unparsable = (json.JSONDecodeError, UnicodeDecodeError)
    return isinstance(error, unparsable) or isinstance(error.__cause__, unparsable)
