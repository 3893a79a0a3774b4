"""The stdio client of `tests/lsp`, counting every frame it sends and every response it gets.

The fuzzer's invariants need what the plain client hides: a response that comes twice,
a response to a notification, ids of any JSON type. Responses are kept per id (the id's
JSON text is the key, so a list or object id cannot break the reader thread).
"""

from __future__ import annotations

import collections
import json
import time
from typing import Any

from tests.lsp.lsp_client import LspClient

HANG_BOUND_S = 30.0  # a request unanswered this long while the model is idle is a hang, not slowness


def id_key(request_id: Any) -> str:
    return json.dumps(request_id, sort_keys=True)


class CountingClient(LspClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.frames_sent = 0
        self.response_counts: collections.Counter[str] = collections.Counter()
        self.answers: dict[str, dict[str, Any]] = {}
        self.requested: set[str] = set()  # every id sent with a method, as its JSON text
        self.sent_requests: dict[str, dict[str, Any]] = {}
        super().__init__(*args, **kwargs)

    def send(self, message: dict[str, Any]) -> None:
        if isinstance(message, dict) and "method" in message and message.get("id") is not None:
            self.requested.add(id_key(message["id"]))
            self.sent_requests[id_key(message["id"])] = message
        super().send(message)

    def send_raw(self, body: bytes) -> None:
        super().send_raw(body)
        self.frames_sent += 1

    def _dispatch(self, message: Any) -> None:
        if isinstance(message, dict) and "method" not in message:
            key = id_key(message.get("id"))
            with self._condition:
                self.response_counts[key] += 1
                self.answers[key] = message
                self._condition.notify_all()
            if not isinstance(message.get("id"), (int, str, type(None))):
                return  # the base client keys responses by id; an unhashable one stays here only
        super()._dispatch(message)

    def wait_answers(self, keys: list[str], timeout: float = HANG_BOUND_S) -> None:
        """Every id in `keys` answered; each wait is bounded (a hang bound, not a speed test)."""
        for key in keys:
            deadline = time.monotonic() + timeout
            with self._condition:
                while key not in self.answers:
                    remaining = deadline - time.monotonic()
                    if self.process.poll() is not None:
                        raise AssertionError(f"the server died (exit {self.process.poll()}): {self.stderr_text()[-3000:]}")
                    if remaining <= 0:
                        what = self.sent_requests.get(key, "")
                        raise AssertionError(f"request {key} unanswered after {timeout:.0f} s: {str(what)[:500]}")
                    self._condition.wait(min(remaining, 0.5))

    def call(self, method: str, params: Any, request_id: Any) -> dict[str, Any]:
        self.send({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
        key = id_key(request_id)
        self.wait_answers([key])
        return self.answers[key]
