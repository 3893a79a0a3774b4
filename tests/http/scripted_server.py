"""Small real HTTP servers on loopback that misbehave on purpose (fault tests).

`ScriptedServer` speaks just enough of the OpenAI-compatible API for the backend to
connect (`GET /v1/models` names a DeepSeek-Coder model, so the client picks that FIM
family) and answers `POST /v1/completions` and `/v1/chat/completions` according to
`mode`, which a test may change at any time:

    ok          streams `text` as SSE events, one character each, then [DONE]
    die         streams `die_after` events, then closes the socket mid-reply
    slow        sends nothing for `delay` seconds, then the ok reply
    status      answers HTTP `status` (401, 500, ...) with a JSON error body
    flaky       answers 503 to the next `flaky_count` requests, then as ok
    garbage     a 200 whose event is not JSON
    hang        streams one event, then waits until the client goes away

Every request is recorded (`requests`: method, path, headers, parsed body), and
`disconnects` counts streams the client closed before the server finished.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class ScriptedServer:
    def __init__(
        self, model_name: str = "deepseek-coder-1.3b-base", text: str = "return x + 1\n",
        tls: tuple[str, str] | None = None,
    ) -> None:
        self.model_name = model_name
        self.text = text
        self.mode = "ok"
        self.status = 500
        self.delay = 2.0
        self.die_after = 3
        self.flaky_count = 2
        self.requests: list[dict[str, Any]] = []
        self.disconnects = 0
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self.scheme = "http"
        if tls is not None:  # (certificate, key) PEM files: serve HTTPS
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
            self.scheme = "https"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def completion_requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return [request for request in self.requests if request["path"].endswith("completions")]

    def _record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append(entry)

    def _handler_class(self):
        script = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _flaky(self) -> bool:
                with script._lock:
                    if script.mode != "flaky" or script.flaky_count <= 0:
                        return False
                    script.flaky_count -= 1
                self._json(503, {"error": {"message": "loading"}})
                return True

            def do_GET(self) -> None:
                script._record({"method": "GET", "path": self.path, "headers": dict(self.headers), "body": None})
                if self._flaky():
                    return
                if script.mode == "status":
                    return self._json(script.status, {"error": {"message": "scripted failure"}})
                if self.path.rstrip("/") == "/v1/models":
                    return self._json(200, {"object": "list", "data": [{"id": script.model_name, "object": "model"}]})
                self._json(404, {"error": "not found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                mode = script.mode  # read before the request shows up in `requests` (tests wait on that)
                script._record({"method": "POST", "path": self.path, "headers": dict(self.headers), "body": body})
                if self._flaky():
                    return
                if mode == "status":
                    return self._json(script.status, {"error": {"message": "scripted failure", "code": script.status}})
                if mode == "slow":
                    time.sleep(script.delay)
                chat = self.path.endswith("/chat/completions")
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                if mode == "garbage":
                    self._send(b"data: {this is not json\n\n")
                    return
                pieces = list(script.text)
                if mode == "die":
                    pieces = pieces[: script.die_after]
                if mode == "hang":
                    pieces = pieces[:1]
                try:
                    for piece in pieces:
                        self._send(self._event(piece, chat))
                    if mode == "die":
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    if mode == "hang":
                        self._wait_for_close()
                        return
                    self._send(self._event("", chat, finish="stop"))
                    self._send(b"data: [DONE]\n\n")
                except OSError:
                    with script._lock:
                        script.disconnects += 1

            def _wait_for_close(self) -> None:
                self.connection.settimeout(30)
                try:
                    while self.connection.recv(1):
                        pass
                except OSError:
                    pass
                with script._lock:
                    script.disconnects += 1

            @staticmethod
            def _event(piece: str, chat: bool, finish: str | None = None) -> bytes:
                choice: dict[str, Any] = {"index": 0, "finish_reason": finish}
                if chat:
                    choice["delta"] = {"content": piece} if piece else {}
                else:
                    choice["text"] = piece
                return b"data: " + json.dumps({"choices": [choice]}).encode() + b"\n\n"

            def _send(self, data: bytes) -> None:
                self.wfile.write(data)
                self.wfile.flush()

            def _json(self, status: int, payload: Any) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


def refused_url() -> str:
    """A loopback URL where nothing listens (the port was just free)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"
