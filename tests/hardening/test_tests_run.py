"""Generated tests run only under the `tests.run` setting, in a child process of the server.

The workspace's `conftest.py` records the process that imported it: pytest imports it
before any test, so the record appears exactly when the server ran the generated tests.
The bundled model writes the tests; what they say does not matter here.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.lsp.lsp_client import LspClient

CONFTEST = (
    "import os\nfrom pathlib import Path\n"
    "Path(__file__).with_name('RAN').write_text(f'{os.getpid()} {os.getppid()}')\n"
)


@pytest.mark.parametrize("setting, argument, runs", [
    (False, True, False),  # the command's `run: true` cannot switch running on
    (True, None, True),
    (True, False, False),  # but it can switch it off
])
def test_generated_tests_run_only_with_the_setting_and_in_a_child_process(
        bundled_model, tmp_path, setting, argument, runs):
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    (workspace / "conftest.py").write_text(CONFTEST)
    client = LspClient(["--model", str(bundled_model), "--threads", "1"],
                       env={"SEEKCODE_MODEL": "", "SEEKCODE_CACHE_DIR": str(tmp_path / "cache")},
                       log_path=tmp_path / "server.log")
    client.configuration = {"tests": {"run": setting}}
    try:
        capabilities = {"window": {"workDoneProgress": True}, "textDocument": {},
                        "workspace": {"configuration": True, "applyEdit": True,
                                      "workspaceEdit": {"documentChanges": True}}}
        client.request("initialize", {"processId": os.getpid(), "rootUri": workspace.as_uri(),
                                      "capabilities": capabilities,
                                      "workspaceFolders": [{"uri": workspace.as_uri(), "name": "ws"}]})
        client.notify("initialized", {})
        client.wait_model_ready()
        uri = (workspace / "calc.py").as_uri()
        client.open(uri, (workspace / "calc.py").read_text())
        command = {"uri": uri, "position": {"line": 0, "character": 5}}
        if argument is not None:
            command["run"] = argument
        client.request("workspace/executeCommand", {"command": "seekcode.generateTests", "arguments": [command]}, 300)
        record = workspace / "RAN"
        assert record.exists() == runs
        if runs:
            pid, parent = map(int, record.read_text().split())
            assert pid != client.process.pid and parent == client.process.pid  # a subprocess of the server
    finally:
        client.shutdown()
    assert not list(workspace.glob("tests/test_seekcode_*.py"))  # the temporary test file is gone
