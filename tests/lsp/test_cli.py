"""`seekcode-lsp complete FILE:LINE:COLUMN` and the server's import footprint."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from lsp_server.backend.local import LocalBackend
from lsp_server.features.completion import CompletionEngine, CompletionRequest
from lsp_server.features.runtime import backend_options
from lsp_server.settings import Settings
from tests.lsp.lsp_client import REPO_ROOT

SOURCE = "import os\n\n\ndef home():\n    path = os.path.expanduser('~')  # 漢字\n    return \n"


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lsp_server", *args],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=120,
        env={**os.environ, "SEEKCODE_MODEL": "", **(env or {})},
    )


def test_complete_prints_the_engine_suggestion(tmp_path, tiny_gguf):
    source = tmp_path / "home.py"
    source.write_text(SOURCE, encoding="utf-8")
    # what a one-shot command uses: the full window at once, no time limit on its one answer
    settings = Settings(threads=2, max_tokens=16, quick_prefix_tokens=0, max_generation_ms=0)
    backend = LocalBackend(tiny_gguf, backend_options(settings))
    try:
        offset = SOURCE.index("return ") + len("return ")
        result = CompletionEngine(backend).complete(
            CompletionRequest(SOURCE, offset, "python", settings=settings, uri=source.resolve().as_uri())
        )
    finally:
        backend.close()
    expected = result.suggestions[0].text if result.suggestions else ""
    # line 6, column 12 (1-based) is just after "return "
    done = run_cli("complete", f"{source}:6:12", "--model", str(tiny_gguf), "--threads", "2", "--max-tokens", "16")
    assert done.returncode == 0, done.stderr
    assert done.stdout == (expected + "\n" if expected and not expected.endswith("\n") else expected)
    assert done.stderr == ""


def test_complete_column_counts_characters_not_bytes(tmp_path, tiny_gguf):
    source = tmp_path / "cjk.py"
    source.write_text("name = '漢字'\n", encoding="utf-8")
    # 11 characters on the line: column 12 is its end; in bytes it would be 15
    done = run_cli("complete", f"{source}:1:12", "--model", str(tiny_gguf), "--threads", "2", "--max-tokens", "4")
    assert done.returncode == 0, done.stderr
    done = run_cli("complete", f"{source}:1:13", "--model", str(tiny_gguf))
    assert done.returncode == 2
    assert "column 13 is past the end of line 1, which has 11 characters" in done.stderr


@pytest.mark.parametrize(
    "location, message",
    [
        ("nowhere.py:1:1", "does not exist"),
        ("{file}:0:1", "start at 1"),
        ("{file}:9:1", "line 9 is past the end of the file"),
        ("{file}", "is not FILE:LINE:COLUMN"),
    ],
)
def test_complete_rejects_bad_locations_in_one_sentence(tmp_path, tiny_gguf, location, message):
    source = tmp_path / "small.py"
    source.write_text("x = 1\n", encoding="utf-8")
    done = run_cli("complete", location.format(file=source), "--model", str(tiny_gguf))
    assert done.returncode == 2
    assert message in done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_complete_without_a_usable_model_explains(tmp_path):
    source = tmp_path / "small.py"
    source.write_text("x = 1\n", encoding="utf-8")
    done = run_cli("complete", f"{source}:1:6", "--model", str(tmp_path / "missing.gguf"))
    assert done.returncode == 1
    assert "missing.gguf does not exist" in done.stderr and "Traceback" not in done.stderr


def test_server_never_imports_torch(start_server, tiny_gguf):
    """-X importtime lists every module the real server process imported, on stderr."""
    client = start_server(["--model", str(tiny_gguf), "--threads", "2", "--max-tokens", "8"], python_flags=["-X", "importtime"])
    client.initialize()
    client.wait_model_ready()
    client.open("file:///t.py", "def f():\n    return ")
    client.inline("file:///t.py", 1, 11)
    client.shutdown()
    imports = client.stderr_text()
    assert "lsp_server.protocol.server" in imports  # the listing is real
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in imports.splitlines() if "|" in line}
    assert "torch" not in imported and "model" not in imported and "convert" not in imported


def test_python_m_and_console_script_agree():
    help_text = run_cli("--help").stdout
    assert "complete" in help_text and "--model" in help_text
