"""The model file changing under a running server: deleted, truncated in place, unreadable.

Each ends with the server alive: serving from what it loaded, or answering empty with one
clear message after a reload that cannot read the file; never a crash or a traceback reply.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.lsp.lsp_client import LspClient

WITHOUT_DAC = Path(__file__).resolve().parent / "inject" / "without_dac.py"
URI = "file:///work/fault.py"
TEXT = "def add(a, b):\n    return "


@pytest.fixture
def model_copy(bundled_model):
    """A private copy of the bundled model in a folder other users may enter (for chmod tests)."""
    folder = Path(tempfile.mkdtemp(prefix="seekcode-fault-"))
    folder.chmod(0o755)
    copy = folder / "model.gguf"
    shutil.copyfile(bundled_model, copy)
    yield copy
    folder.chmod(0o755)
    shutil.rmtree(folder, ignore_errors=True)


def serve(model: Path, tmp_path: Path, without_dac: bool = False) -> LspClient:
    client = LspClient(
        ["--model", str(model), "--threads", "1", "--max-tokens", "8"],
        env={"SEEKCODE_MODEL": "", "SEEKCODE_CACHE_DIR": str(tmp_path / "cache")},
        log_path=tmp_path / "server.log",
        python_flags=[str(WITHOUT_DAC)] if without_dac else None,
    )
    client.initialize()
    return client


def reload(client: LspClient, context_size: int) -> None:
    """A settings change the model depends on, so the server loads the file again."""
    client.notify("workspace/didChangeConfiguration", {"settings": {"seekcode": {"contextSize": context_size}}})


def completes(client: LspClient, version: int) -> dict:
    client.change(URI, version, [{"range": {"start": {"line": 1, "character": 11}, "end": {"line": 1, "character": 11}}, "text": " "}])
    return client.inline(URI, 1, 12 + version - 2)


def wait_loads(client: LspClient, count: int, timeout: float = 120.0) -> None:
    """Until the server has logged `count` successful loads ('loaded <path>')."""
    loaded = lambda m: m["params"]["message"].startswith("seekcode: loaded")  # noqa: E731
    client.wait_notification("window/logMessage", timeout,
                             lambda m: loaded(m) and sum(map(loaded, client.messages("window/logMessage"))) >= count)


def error_messages(client: LspClient) -> list[str]:
    return [m["params"]["message"] for m in client.messages("window/showMessage") if m["params"]["type"] == 1]


def test_model_deleted_while_serving(model_copy, tmp_path):
    client = serve(model_copy, tmp_path)
    try:
        client.wait_model_ready()
        client.open(URI, TEXT)
        assert client.inline(URI, 1, 11)["items"]
        model_copy.unlink()
        assert "items" in completes(client, 2)  # the loaded weights are the server's own
        reload(client, 1024)
        client.wait_notification("window/showMessage", predicate=lambda m: "does not exist" in m["params"]["message"])
        assert completes(client, 3) == {"items": []}
        shutil.copyfile(Path(__file__).resolve().parents[2] / "lsp_server/default_model/seekcode-coder-q8_0.gguf", model_copy)
        reload(client, 2048)
        wait_loads(client, 2)
        assert "items" in completes(client, 4)
    finally:
        assert client.shutdown() == 0
    assert "Traceback" not in client.stderr_text()


def test_model_truncated_in_place_while_serving(model_copy, tmp_path):
    """`cp other.gguf model.gguf` truncates the file it overwrites; a mapped model died of SIGBUS."""
    client = serve(model_copy, tmp_path)
    try:
        client.wait_model_ready()
        client.open(URI, TEXT)
        assert client.inline(URI, 1, 11)["items"]
        with model_copy.open("r+b") as handle:
            handle.truncate(model_copy.stat().st_size // 2)
        assert "items" in completes(client, 2)
        assert client.process.poll() is None
        reload(client, 1024)
        client.wait_notification("window/showMessage", predicate=lambda m: "model.gguf" in m["params"]["message"])
        assert "re-download or re-convert" in error_messages(client)[-1]
        assert completes(client, 3) == {"items": []}
    finally:
        assert client.shutdown() == 0


@pytest.mark.parametrize("what", ["folder", "file"])
def test_model_unreadable(model_copy, tmp_path, what):
    locked = model_copy.parent if what == "folder" else model_copy
    locked.chmod(0)
    client = serve(model_copy, tmp_path, without_dac=True)
    try:
        message = client.wait_notification("window/showMessage")["params"]["message"]
        assert str(model_copy) in message and "Permission denied" in message and "permissions" in message
        client.open(URI, TEXT)
        assert client.inline(URI, 1, 11) == {"items": []}
    finally:
        locked.chmod(0o755 if what == "folder" else 0o644)
        assert client.shutdown() == 0
    assert "Traceback" not in client.stderr_text()
    assert "Traceback" not in (tmp_path / "server.log").read_text()
