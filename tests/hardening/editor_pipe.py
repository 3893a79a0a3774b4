"""A bare editor on the other end of the server's stdio, for tests where the editor misbehaves.

`tests/lsp/lsp_client.py` reads every reply on a thread; these tests instead need to stop
reading, close one pipe or both, and then look at what the server wrote to its log and
stderr, so the framing is done here in a few lines, synchronously.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]


def frame(message: dict[str, Any]) -> bytes:
    body = json.dumps(message).encode("utf-8")
    return f"Content-Length: {len(body)}\r\n\r\n".encode() + body


def read_message(stream) -> dict[str, Any] | None:
    length = None
    while True:
        line = stream.readline()
        if not line:
            return None
        if line in (b"\r\n", b"\n"):
            break
        name, _, value = line.decode("ascii", "replace").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    return json.loads(stream.read(length)) if length is not None else None


class EditorPipe:
    def __init__(self, args: list[str], log_path: Path | None, env: dict[str, str] | None = None) -> None:
        command = [sys.executable, "-m", "lsp_server", *args]
        if log_path is not None:
            command += ["--log-file", str(log_path)]
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            cwd=REPO_ROOT, env={**os.environ, "SEEKCODE_MODEL": "", **(env or {})},
        )

    def send(self, *messages: dict[str, Any]) -> None:
        self.process.stdin.write(b"".join(frame(message) for message in messages))
        self.process.stdin.flush()

    def wait_response(self, request_id: int) -> dict[str, Any]:
        """Read (and answer server requests) until the response to `request_id`."""
        while True:
            message = read_message(self.process.stdout)
            if message is None:
                raise EOFError(f"the server closed stdout before answering request {request_id}")
            if "method" in message and "id" in message:  # progress token, configuration
                self.send({"jsonrpc": "2.0", "id": message["id"], "result": None})
            elif message.get("id") == request_id:
                return message

    def wait_log_message(self, needle: str) -> dict[str, Any]:
        while True:
            message = read_message(self.process.stdout)
            if message is None:
                raise EOFError(f"the server closed stdout before logging {needle!r}")
            if "method" in message and "id" in message:
                self.send({"jsonrpc": "2.0", "id": message["id"], "result": None})
            elif message.get("method") == "window/logMessage" and needle in message["params"]["message"]:
                return message

    def initialize(self) -> None:
        self.send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "processId": os.getpid(), "rootUri": None,
            "capabilities": {"window": {"workDoneProgress": True}, "textDocument": {"inlineCompletion": {}}}}})
        self.wait_response(1)
        self.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})

    def close_stdout(self) -> None:
        """Stop reading: the server's next write hits a pipe with no reader."""
        self.process.stdout.close()

    def close_stdin(self) -> None:
        try:
            self.process.stdin.close()
        except BrokenPipeError:
            pass

    def finish(self, timeout: float = 60.0) -> tuple[int, str]:
        """Wait for the server to exit; its exit status and everything it wrote to stderr."""
        self.close_stdin()
        try:
            returncode = self.process.wait(timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
        return returncode, self.process.stderr.read().decode("utf-8", "replace")
