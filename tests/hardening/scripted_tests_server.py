"""The real seekcode server (or CLI) with its test writer scripted: every "generated" test
is the code in $SEEKCODE_TEST_CODE. Everything else is real: the model loads and serves
completions, the plan, the tests.run subprocess, its timeout and the WorkspaceEdit.

    python -m tests.hardening.scripted_tests_server -m lsp_server [server args]
    python -m tests.hardening.scripted_tests_server tests FILE:LINE:COLUMN [tests args]

Used where the model cannot be made to write a particular test (one that hangs).
"""

from __future__ import annotations

import os
import sys
import threading

from lsp_server.features import test_writers
from lsp_server.features.tests import TestsPlan, TestWriter


class ScriptedTestWriter(TestWriter):
    name = "scripted"

    def write(self, plan: TestsPlan, abort: threading.Event, error: str | None = None) -> str:
        return os.environ["SEEKCODE_TEST_CODE"]


def main() -> int:
    args = sys.argv[1:]
    if args[:2] == ["-m", "lsp_server"]:
        args = args[2:]
    test_writers.test_writer_for = lambda *_, **__: ScriptedTestWriter()
    from lsp_server.cli import main as cli_main

    return cli_main(args)


if __name__ == "__main__":
    sys.exit(main())
