"""The llama.cpp probe failing inside a real server (see lsp_server/backend/probe.py).

The probe child really runs and really dies (a signal or an exit status chosen by
`inject/sitecustomize.py`); the server must keep serving with a clear message and not crash.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.lsp.lsp_client import LspClient

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
URI = "file:///work/probe.py"


def start(tmp_path, bundled_model, fault: str) -> LspClient:
    env = {
        "SEEKCODE_MODEL": "",
        "SEEKCODE_CACHE_DIR": str(tmp_path / "cache"),  # no cached outcome: the probe runs
        "PYTHONPATH": f"{HERE / 'inject'}:{REPO}",
        "SEEKCODE_INJECT_TARGET": "lsp_server.backend.probe",
        "SEEKCODE_INJECT_FAULT": fault,
    }
    client = LspClient(["--model", str(bundled_model), "--threads", "1", "--max-tokens", "8"], env=env,
                       log_path=tmp_path / "server.log")
    client.initialize()
    return client


@pytest.mark.parametrize("signal_name", ["SIGILL", "SIGSEGV", "SIGKILL"])
def test_probe_child_killed_by_a_signal_server_falls_back_and_serves(tmp_path, bundled_model, signal_name):
    client = start(tmp_path, bundled_model, f"signal:{signal_name}")
    try:
        client.wait_model_ready()
        warning = client.wait_notification("window/showMessage")
        assert warning["params"]["type"] == 2
        assert f"died by {signal_name}" in warning["params"]["message"]
        client.open(URI, "def add(a, b):\n    return ")
        assert "items" in client.inline(URI, 1, 11)
        cached = list((tmp_path / "cache" / "probe").glob("*.json"))
        assert len(cached) == 1 and signal_name in cached[0].read_text()
    finally:
        assert client.shutdown() == 0
    assert "Traceback" not in client.stderr_text()


def test_probe_child_failing_without_a_signal_is_not_a_crash(tmp_path, bundled_model):
    client = start(tmp_path, bundled_model, "exit:3")
    try:
        client.wait_model_ready()
        client.open(URI, "def add(a, b):\n    return ")
        assert "items" in client.inline(URI, 1, 11)
        assert not client.messages("window/showMessage")  # inconclusive: defaults, nothing to tell
        assert not list((tmp_path / "cache").glob("probe/*.json"))  # and not remembered
        assert "exited with status 3" in (tmp_path / "server.log").read_text()
    finally:
        assert client.shutdown() == 0
