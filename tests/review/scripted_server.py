"""The real seekcode server process with its review model scripted (for wire tests of placement,
edits, supersede and preemption); completions still run the real GGUF it is given.

    python -m tests.review.scripted_server -m lsp_server [server args]
    python -m tests.review.scripted_server review PATH... [review args]

$SEEKCODE_TEST_REVIEW holds JSON: {"answer": the written review's text, "surprising": {token: nats},
"block_calls": [n, ...], "wait_file": path}: the n-th write call (0-based) waits until it is aborted
(superseded, cancelled or preempted), and every write waits until `wait_file` exists, before answering,
so a test controls what is running when.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time

from lsp_server.features import review_model, runtime
from tests.review.fakes import ScriptedModel


class WireScriptedModel(ScriptedModel):
    def __init__(self, script: dict) -> None:
        super().__init__(answer=script.get("answer", "[]"), surprising=script.get("surprising", {}))
        self.block_calls = set(script.get("block_calls", []))
        self.wait_file = script.get("wait_file")  # every write waits until this file exists
        self.calls = 0
        self.lock = threading.Lock()

    def write(self, messages, grammar, max_tokens, abort: threading.Event | None):
        with self.lock:
            call, self.calls = self.calls, self.calls + 1
        logging.getLogger("lsp_server").info("scripted write call %d started", call)
        if call in self.block_calls and abort is not None:
            abort.wait(120)
        while self.wait_file and not os.path.exists(self.wait_file) and not (abort and abort.is_set()):
            time.sleep(0.02)
        return super().write(messages, grammar, max_tokens, abort)


def main() -> int:
    args = sys.argv[1:]
    if args[:2] == ["-m", "lsp_server"]:
        args = args[2:]
    model = WireScriptedModel(json.loads(os.environ.get("SEEKCODE_TEST_REVIEW", "{}")))
    runtime.LocalReviewModel = lambda backend: model
    review_model.LocalReviewModel = lambda backend: model  # the CLI's `review`
    from lsp_server.cli import main as cli_main

    return cli_main(args)


if __name__ == "__main__":
    sys.exit(main())
