"""A raw JSON-RPC LSP client over a subprocess' stdio, for driving the real server.

Raw rather than pygls' client so tests can also send broken bytes and see exactly
what comes back. A reader thread parses Content-Length frames; server-to-client
requests (progress tokens, configuration) are answered automatically.
"""

from __future__ import annotations

import itertools
import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]


class LspError(Exception):
    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(f"{error.get('code')}: {error.get('message')}")
        self.code = error.get("code")
        self.message = error.get("message", "")


class LspClient:
    def __init__(
        self,
        args: list[str] | None = None,
        env: dict[str, str] | None = None,
        log_path: Path | None = None,
        python_flags: list[str] | None = None,
    ):
        command = [sys.executable, *(python_flags or []), "-m", "lsp_server", *(args or [])]
        self.log_path = log_path
        if log_path is not None:
            command += ["--log-file", str(log_path)]
        full_env = {**os.environ, **(env or {})}
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=REPO_ROOT,
            env=full_env,
        )
        self._ids = itertools.count(1)
        self._responses: dict[Any, dict[str, Any]] = {}
        self._condition = threading.Condition()
        self.notifications: list[dict[str, Any]] = []
        self.server_requests: list[dict[str, Any]] = []
        self.configuration: dict[str, Any] = {}
        self.shutdown_sent = False
        self.stray_output: list[bytes] = []  # stdout bytes that were not LSP frames
        self._write_lock = threading.Lock()
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()
        self._stderr_lines: queue.Queue[bytes] = queue.Queue()
        self._stderr_reader = threading.Thread(target=self._drain_stderr, daemon=True)
        self._stderr_reader.start()

    # -- wire ---------------------------------------------------------------

    def send_raw(self, body: bytes) -> None:
        with self._write_lock:
            self.process.stdin.write(f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
            self.process.stdin.flush()

    def send(self, message: dict[str, Any]) -> None:
        self.send_raw(json.dumps(message).encode("utf-8"))

    def _read_loop(self) -> None:
        stream = self.process.stdout
        while True:
            length = None
            while True:
                line = stream.readline()
                if not line:
                    return
                if line in (b"\r\n", b"\n"):
                    break
                name, _, value = line.decode("utf-8", "replace").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
                elif name.strip().lower() != "content-type":
                    self.stray_output.append(line)
            if length is None:
                continue
            message = json.loads(stream.read(length))
            self._dispatch(message)

    def _dispatch(self, message: dict[str, Any]) -> None:
        if "method" in message and "id" in message:
            self.server_requests.append(message)
            self.send({"jsonrpc": "2.0", "id": message["id"], "result": self._answer(message)})
            return
        with self._condition:
            if "method" in message:
                self.notifications.append(message)
            else:
                self._responses[message.get("id")] = message
            self._condition.notify_all()

    def _answer(self, request: dict[str, Any]) -> Any:
        if request["method"] == "workspace/configuration":
            return [self.configuration for _ in request["params"]["items"]]
        return None

    def _drain_stderr(self) -> None:
        for line in self.process.stderr:
            self._stderr_lines.put(line)

    def stderr_text(self) -> str:
        if self.process.poll() is not None:
            self._stderr_reader.join(10)  # an exited server: read its stderr to the end
        lines = []
        while not self._stderr_lines.empty():
            lines.append(self._stderr_lines.get().decode("utf-8", "replace"))
        return "".join(lines)

    # -- requests -----------------------------------------------------------

    def request_async(self, method: str, params: Any) -> int:
        if method == "shutdown":
            self.shutdown_sent = True
        request_id = next(self._ids)
        self.send({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
        return request_id

    def response(self, request_id: Any, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._condition:
            while request_id not in self._responses:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.process.poll() is not None:
                    raise TimeoutError(
                        f"no response to request {request_id} (server exit code {self.process.poll()}); "
                        f"stderr: {self.stderr_text()[-2000:]}"
                    )
                self._condition.wait(min(remaining, 0.5))
            return self._responses.pop(request_id)

    def result(self, request_id: Any, timeout: float = 60.0) -> Any:
        response = self.response(request_id, timeout)
        if "error" in response:
            raise LspError(response["error"])
        return response["result"]

    def request(self, method: str, params: Any, timeout: float = 60.0) -> Any:
        return self.result(self.request_async(method, params), timeout)

    def notify(self, method: str, params: Any) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def wait_notification(self, method: str, timeout: float = 60.0, predicate=lambda message: True) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._condition:
            while True:
                for message in self.notifications:
                    if message["method"] == method and predicate(message):
                        return message
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no {method} notification; got {[m['method'] for m in self.notifications]}")
                self._condition.wait(min(remaining, 0.5))

    def messages(self, method: str) -> list[dict[str, Any]]:
        with self._condition:
            return [message for message in self.notifications if message["method"] == method]

    # -- LSP conveniences ---------------------------------------------------

    def initialize(
        self, initialization_options: Any = None, position_encodings: list[str] | None = None, progress: bool = True
    ) -> dict[str, Any]:
        capabilities: dict[str, Any] = {
            "window": {"workDoneProgress": progress},
            "workspace": {"configuration": True},
            "textDocument": {"inlineCompletion": {}, "completion": {}},
        }
        if position_encodings is not None:
            capabilities["general"] = {"positionEncodings": position_encodings}
        result = self.request(
            "initialize",
            {"processId": os.getpid(), "rootUri": None, "capabilities": capabilities,
             "initializationOptions": initialization_options},
        )
        self.notify("initialized", {})
        return result

    def open(self, uri: str, text: str, language: str = "python", version: int = 1) -> None:
        self.notify(
            "textDocument/didOpen",
            {"textDocument": {"uri": uri, "languageId": language, "version": version, "text": text}},
        )

    def change(self, uri: str, version: int, changes: list[dict[str, Any]]) -> None:
        self.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version}, "contentChanges": changes})

    def inline_async(self, uri: str, line: int, character: int) -> int:
        return self.request_async(
            "textDocument/inlineCompletion",
            {"textDocument": {"uri": uri}, "position": {"line": line, "character": character},
             "context": {"triggerKind": 2}},
        )

    def inline(self, uri: str, line: int, character: int, timeout: float = 60.0) -> dict[str, Any]:
        return self.result(self.inline_async(uri, line, character), timeout)

    def completion(self, uri: str, line: int, character: int, timeout: float = 60.0) -> dict[str, Any]:
        return self.request(
            "textDocument/completion",
            {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}},
            timeout,
        )

    def wait_model_ready(self, timeout: float = 120.0) -> None:
        """The server logs 'loaded <path>' (window/logMessage) once the model is usable."""
        self.wait_notification(
            "window/logMessage", timeout, lambda message: "loaded" in message["params"]["message"]
        )

    def shutdown(self, timeout: float = 30.0) -> int:
        try:
            if self.process.poll() is None:
                if not self.shutdown_sent:
                    self.request("shutdown", None, timeout)
                self.notify("exit", None)
            return self.process.wait(timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
