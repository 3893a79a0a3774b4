"""A generated test that hangs: killed after `tests.timeout` seconds with everything it
started, reported in one message, nothing written, and the server keeps serving.

The hanging test comes from a scripted test writer (scripted_tests_server.py) inside the
real server and CLI: the real model cannot be made to write one on demand. The real model
writes and runs tests end to end in test_tests_run.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from tests.lsp.lsp_client import REPO_ROOT, LspClient

HANGING = (
    "def test_hangs():\n"
    "    import os, subprocess, sys, time\n"
    "    from pathlib import Path\n"
    "    child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(3600)'])\n"
    "    Path(os.environ['SEEKCODE_TEST_PIDS']).write_text(f'{os.getpid()} {child.pid}')\n"
    "    time.sleep(3600)\n"
)
TIMEOUT_S = 3


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")  # a killed orphan may linger as a zombie until init reaps it


def wait_for(path: Path, seconds: float) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists() and path.read_text():
            return path.read_text()
        time.sleep(0.05)
    raise AssertionError(f"{path} never appeared")


def workspace_with_module(tmp_path: Path) -> Path:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    return workspace


def test_a_hanging_generated_test_is_killed_after_the_timeout_and_the_server_keeps_serving(bundled_model, tmp_path):
    workspace = workspace_with_module(tmp_path)
    pids = tmp_path / "pids"
    client = LspClient(
        ["--model", str(bundled_model), "--threads", "1", "--max-tokens", "8"],
        env={"SEEKCODE_MODEL": "", "SEEKCODE_CACHE_DIR": str(tmp_path / "cache"),
             "SEEKCODE_TEST_CODE": HANGING, "SEEKCODE_TEST_PIDS": str(pids)},
        log_path=tmp_path / "server.log", python_flags=["-m", "tests.hardening.scripted_tests_server"],
    )
    client.configuration = {"tests": {"run": True, "timeout": TIMEOUT_S}}
    try:
        capabilities = {"window": {"workDoneProgress": True}, "textDocument": {"inlineCompletion": {}},
                        "workspace": {"configuration": True, "applyEdit": True,
                                      "workspaceEdit": {"documentChanges": True}}}
        client.request("initialize", {"processId": os.getpid(), "rootUri": workspace.as_uri(),
                                      "capabilities": capabilities,
                                      "workspaceFolders": [{"uri": workspace.as_uri(), "name": "ws"}]})
        client.notify("initialized", {})
        client.wait_model_ready()
        uri = (workspace / "calc.py").as_uri()
        client.open(uri, (workspace / "calc.py").read_text())
        command = client.request_async("workspace/executeCommand", {
            "command": "seekcode.generateTests", "arguments": [{"uri": uri, "position": {"line": 0, "character": 5}}]})

        test_pid, grandchild_pid = map(int, wait_for(pids, 120).split())
        assert alive(test_pid) and alive(grandchild_pid)
        # while the generated test hangs, completions are still answered
        assert "items" in client.inline(uri, 1, 14, timeout=60)

        answer = client.result(command, timeout=120)
        assert answer["applied"] is False
        assert answer["message"] == (f"the generated tests were still running after {TIMEOUT_S} s (setting "
                                     "tests.timeout) and were stopped; nothing was kept.")
        assert not [request for request in client.server_requests if request["method"] == "workspace/applyEdit"]
        assert not alive(test_pid) and not alive(grandchild_pid)  # the whole process group was killed

        assert "items" in client.inline(uri, 1, 14, timeout=60)  # and the server still serves afterwards
    finally:
        assert client.shutdown() == 0
    assert not (workspace / "tests").exists()  # the temporary test file and its folder are gone
    assert "Traceback" not in (tmp_path / "server.log").read_text(errors="replace")


def test_the_cli_stops_a_hanging_run_after_its_timeout_and_writes_nothing(bundled_model, tmp_path):
    workspace = workspace_with_module(tmp_path)
    (workspace / "pyproject.toml").write_text("[project]\nname = 'ws'\n")
    pids = tmp_path / "pids"
    completed = subprocess.run(
        [sys.executable, "-m", "tests.hardening.scripted_tests_server", "tests", f"{workspace / 'calc.py'}:1:5",
         "--model", str(bundled_model), "--threads", "1", "--run", "--timeout", str(TIMEOUT_S), "--apply"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "SEEKCODE_MODEL": "", "SEEKCODE_TEST_CODE": HANGING, "SEEKCODE_TEST_PIDS": str(pids)},
    )
    assert completed.returncode == 1
    assert (f"seekcode-lsp: the generated tests were still running after {TIMEOUT_S} s (setting tests.timeout) "
            "and were stopped; nothing was kept.") in completed.stderr.splitlines()
    assert "Traceback" not in completed.stderr
    test_pid, grandchild_pid = map(int, pids.read_text().split())
    assert not alive(test_pid) and not alive(grandchild_pid)
    assert sorted(path.name for path in workspace.iterdir()) == ["calc.py", "pyproject.toml"]
