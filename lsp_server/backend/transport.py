"""HTTP for the remote backend, on the standard library: JSON calls and SSE streams.

    client = HttpClient(Endpoint.parse(url), api_key=..., ca_bundle=..., allow_insecure=...)
    client.get_json("/props")                        # retried with backoff (idempotent)
    client.post_json("/tokenize", body, retry=True)  # retried only when the caller says it is idempotent
    for event in client.stream("/completion", body, abort):   # one dict per SSE `data:` line
        ...                                          # closing the generator closes the connection

Every failure becomes a `BackendError` whose message is one sentence for the user and
never contains the API key (the key only ever goes into the Authorization header; the
URL shown drops any user:password part and the query). Streams use their own
connection, so closing it (early stop, supersede, cancel) tells the server to stop
generating; `abort` is watched by a helper thread that shuts the socket down, which
unblocks a read waiting on a slow server at once.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import logging
import socket
import ssl
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from lsp_server.backend.base import BackendError, ModelLoadError

logger = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({502, 503, 504})
MAX_ERROR_BODY = 2000
ABORT_POLL_SECONDS = 0.02


@dataclass(frozen=True)
class Endpoint:
    scheme: str  # "http" or "https"
    host: str
    port: int
    base_path: str  # "" or "/v1" or "/proxy/v1", never a trailing slash

    @classmethod
    def parse(cls, url: str) -> "Endpoint":
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise ModelLoadError(
                f"The backend URL must start with http:// or https://, got '{scheme or url}'; "
                "set 'seekcode.backend.url' to e.g. http://127.0.0.1:8080."
            )
        if not parts.hostname:
            raise ModelLoadError(f"The backend URL has no host; set 'seekcode.backend.url' to e.g. http://127.0.0.1:8080.")
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError:
            raise ModelLoadError("The backend URL has an invalid port; set 'seekcode.backend.url' to e.g. http://127.0.0.1:8080.") from None
        return cls(scheme, parts.hostname, port, parts.path.rstrip("/"))

    @property
    def display(self) -> str:
        """The URL for messages: no credentials, no query."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}{self.base_path}"

    @property
    def is_loopback(self) -> bool:
        if self.host.lower() == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


class HttpClient:
    """Requests to one server; JSON calls share a keep-alive connection, streams get their own."""

    def __init__(
        self,
        endpoint: Endpoint,
        api_key: str | None = None,
        ca_bundle: str | None = None,
        allow_insecure: bool = False,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        retries: int = 2,
        backoff: float = 0.25,
    ) -> None:
        if api_key and endpoint.scheme == "http" and not endpoint.is_loopback and not allow_insecure:
            raise ModelLoadError(
                f"Refusing to send the API key over plain HTTP to {endpoint.host}; use an https:// URL "
                "or set 'seekcode.backend.allowInsecure' to true on a network you trust."
            )
        self.endpoint = endpoint
        self._api_key = api_key
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.retries = retries
        self.backoff = backoff
        self._ssl_context: ssl.SSLContext | None = None
        if endpoint.scheme == "https":
            try:
                self._ssl_context = ssl.create_default_context(cafile=ca_bundle or None)
            except (OSError, ssl.SSLError) as error:
                raise ModelLoadError(
                    f"The CA bundle {ca_bundle} cannot be read; fix 'seekcode.backend.caBundle'.", str(error)
                ) from error
        self._connection: http.client.HTTPConnection | None = None

    def __repr__(self) -> str:  # never the key
        return f"HttpClient({self.endpoint.display})"

    # -- connections ----------------------------------------------------------

    def _connect(self, timeout: float) -> http.client.HTTPConnection:
        if self.endpoint.scheme == "https":
            return http.client.HTTPSConnection(
                self.endpoint.host, self.endpoint.port, timeout=timeout, context=self._ssl_context
            )
        return http.client.HTTPConnection(self.endpoint.host, self.endpoint.port, timeout=timeout)

    def _headers(self, body: bytes | None, accept: str) -> dict[str, str]:
        headers = {"Accept": accept, "User-Agent": "seekcode"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    # -- JSON calls -----------------------------------------------------------

    def get_json(self, path: str, abort: threading.Event | None = None) -> Any:
        return self._call("GET", path, None, retry=True, abort=abort)

    def post_json(self, path: str, body: Mapping[str, Any], retry: bool = False, abort: threading.Event | None = None) -> Any:
        return self._call("POST", path, json.dumps(body).encode("utf-8"), retry=retry, abort=abort)

    def _call(self, method: str, path: str, body: bytes | None, retry: bool, abort: threading.Event | None) -> Any:
        attempts = 1 + (self.retries if retry else 0)
        for attempt in range(attempts):
            try:
                return self._call_once(method, path, body)
            except BackendError as error:
                if not error.retryable or attempt == attempts - 1:
                    raise
                delay = self.backoff * (2**attempt)
                logger.info("%s %s failed (%s); retry %d in %.2f s", method, path, error.reason, attempt + 1, delay)
                if abort is not None and abort.wait(delay):
                    raise
                if abort is None:
                    time.sleep(delay)
        raise AssertionError("unreachable")

    def _call_once(self, method: str, path: str, body: bytes | None) -> Any:
        url_path = self.endpoint.base_path + path
        if self._connection is None:
            self._connection = self._connect(self.connect_timeout)
        connection = self._connection
        try:
            if connection.sock is None:
                connection.connect()
                connection.sock.settimeout(self.read_timeout)
            connection.request(method, url_path, body=body, headers=self._headers(body, "application/json"))
            response = connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as error:
            self.close()
            raise self._transport_error(error, path) from None
        if response.getheader("Connection", "").lower() == "close":
            self.close()
        if response.status >= 400:
            raise self._status_error(response.status, data, path)
        try:
            return json.loads(data)
        except (ValueError, UnicodeDecodeError) as error:
            raise self._malformed(path, f"{error}: {data[:200]!r}") from None

    # -- streams ----------------------------------------------------------------

    def stream(self, path: str, body: Mapping[str, Any], abort: threading.Event | None = None) -> Iterator[dict[str, Any]]:
        """POST `body` and yield each server-sent event's JSON; stops at `[DONE]` or the end.

        Abort (or closing this generator) closes the connection. A read that waits longer
        than `read_timeout` for the next event raises BackendError. When `abort` is set,
        the generator ends quietly instead of raising.
        """
        abort = abort or threading.Event()
        payload = json.dumps(body).encode("utf-8")
        connection = self._connect(self.connect_timeout)
        finished = threading.Event()
        try:
            try:
                connection.connect()
                connection.sock.settimeout(self.read_timeout)
                # The socket itself: http.client drops `connection.sock` once a response that
                # ends with the connection takes it over.
                threading.Thread(
                    target=_close_on_abort, args=(connection.sock, abort, finished), name="seekcode-http-abort",
                    daemon=True,
                ).start()
                connection.request("POST", self.endpoint.base_path + path, body=payload,
                                   headers=self._headers(payload, "text/event-stream"))
                response = connection.getresponse()
            except (OSError, http.client.HTTPException) as error:
                if abort.is_set():
                    return
                raise self._transport_error(error, path) from None
            if response.status >= 400:
                raise self._status_error(response.status, response.read(MAX_ERROR_BODY), path)
            yield from self._events(response, path, abort)
        finally:
            finished.set()
            connection.close()

    def _events(self, response: http.client.HTTPResponse, path: str, abort: threading.Event) -> Iterator[dict[str, Any]]:
        data_lines: list[str] = []
        while True:
            try:
                raw = response.readline()
            except (OSError, http.client.HTTPException) as error:
                if abort.is_set():
                    return
                raise self._transport_error(error, path, mid_stream=True) from None
            if abort.is_set():
                return
            if not raw:
                if data_lines:  # a last event without its blank line
                    event = self._event(data_lines, path)
                    if event is not None:
                        yield event
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if line:
                field, _, value = line.partition(":")
                if field == "data":
                    data_lines.append(value[1:] if value.startswith(" ") else value)
                elif field == "error":  # llama-server's error event
                    raise BackendError(
                        f"The inference server at {self.endpoint.display} stopped the completion with an error; see its log.",
                        f"error event: {value[:200]}",
                    )
                continue
            if not data_lines:
                continue
            event = self._event(data_lines, path)
            data_lines = []
            if event is None:
                return
            yield event

    def _event(self, data_lines: list[str], path: str) -> dict[str, Any] | None:
        data = "\n".join(data_lines)
        if data.strip() == "[DONE]":
            return None
        try:
            event = json.loads(data)
        except ValueError as error:
            raise self._malformed(path, f"{error}: {data[:200]!r}") from None
        if not isinstance(event, dict):
            raise self._malformed(path, f"event is {type(event).__name__}, not an object")
        if "error" in event and not event.get("choices") and "content" not in event:
            raise BackendError(
                f"The inference server at {self.endpoint.display} stopped the completion with an error; see its log.",
                f"error in stream: {str(event['error'])[:200]}",
            )
        return event

    # -- errors ------------------------------------------------------------------

    def _transport_error(self, error: BaseException, path: str, mid_stream: bool = False) -> BackendError:
        where = self.endpoint.display
        reason = f"{path}: {type(error).__name__}: {error}"
        if isinstance(error, (socket.timeout, TimeoutError)):
            return BackendError(
                f"The inference server at {where} did not answer within {self.read_timeout:g} s; "
                "it may be overloaded (raise 'seekcode.backend.timeout' or check the server).",
                reason, retryable=True,
            )
        if isinstance(error, ssl.SSLCertVerificationError):
            return BackendError(
                f"The TLS certificate of {where} could not be verified; set 'seekcode.backend.caBundle' to your CA file.",
                reason,
            )
        if mid_stream or isinstance(error, (http.client.RemoteDisconnected, http.client.IncompleteRead, ConnectionResetError)):
            return BackendError(
                f"The inference server at {where} closed the connection in the middle of a reply; "
                "check that it is still running.",
                reason, retryable=True,
            )
        return BackendError(
            f"The inference server at {where} is unreachable; start it or fix 'seekcode.backend.url'.",
            reason, retryable=True,
        )

    def _status_error(self, status: int, body: bytes, path: str) -> BackendError:
        where = self.endpoint.display
        reason = f"{path}: HTTP {status}: {body[:MAX_ERROR_BODY].decode('utf-8', 'replace')}"
        if status in (401, 403):
            return BackendError(
                f"The inference server at {where} refused the API key (HTTP {status}); set a valid key in "
                "the environment variable named by 'seekcode.backend.apiKeyEnv' (default SEEKCODE_API_KEY).",
                reason,
            )
        if status == 404:
            return BackendError(
                f"The inference server at {where} has no {path} endpoint; check 'seekcode.backend.url' "
                "(end it with /v1 for an OpenAI-compatible server).",
                reason,
            )
        if status >= 500:
            return BackendError(
                f"The inference server at {where} failed (HTTP {status}); see its log.",
                reason, retryable=status in RETRY_STATUSES,
            )
        return BackendError(
            f"The inference server at {where} rejected the request (HTTP {status}); see the seekcode log.", reason
        )

    def _malformed(self, path: str, reason: str) -> BackendError:
        return BackendError(
            f"The inference server at {self.endpoint.display} sent a reply that is not valid JSON; "
            "check that 'seekcode.backend.url' points at llama-server or an OpenAI-compatible API.",
            f"{path}: {reason}",
        )


def _close_on_abort(sock: socket.socket, abort: threading.Event, finished: threading.Event) -> None:
    """Shut the socket down when `abort` is set, so a read blocked on the server returns now."""
    while not finished.is_set():
        if abort.wait(ABORT_POLL_SECONDS):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
