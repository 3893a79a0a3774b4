"""The real seekcode server process, with one log line added when idle prefill work ends.

    python -m tests.lsp.traced_server -m lsp_server [server args]

Nothing is replaced: `CompletionEngine.prefill` runs as it is, on the real GGUF, and then logs
"prefill at offset N ended: M tokens evaluated" (plus " (aborted)" when a request cut it
short). A wire test waits for that line instead of sleeping, so the order it asserts (the
prefill ran to its end before the request came) does not depend on the machine's speed.
"""

from __future__ import annotations

import logging
import sys

from lsp_server.features.completion import CompletionEngine

logger = logging.getLogger("lsp_server.traced")
_prefill = CompletionEngine.prefill


def traced_prefill(self, request, abort):
    evaluated = _prefill(self, request, abort)
    logger.info(
        "prefill at offset %d ended: %d tokens evaluated%s",
        request.cursor_offset, evaluated, " (aborted)" if abort.is_set() else "",
    )
    return evaluated


def main() -> int:
    args = sys.argv[1:]
    if args[:2] == ["-m", "lsp_server"]:
        args = args[2:]
    CompletionEngine.prefill = traced_prefill
    from lsp_server.cli import main as cli_main

    return cli_main(args)


if __name__ == "__main__":
    sys.exit(main())
