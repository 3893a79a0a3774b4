"""Fixtures for the LSP server tests: a real GGUF made by our converter from a tiny
random checkpoint (real DeepSeek-Coder tokenizer), and real server subprocesses."""

from __future__ import annotations

import os
from pathlib import Path

# Before anything in this process loads llama.cpp: OpenMP threads that spin while the
# shared CPUs are busy make a 20 ms completion take seconds (see backend/local.py).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest

from tests.lsp.lsp_client import LspClient


@pytest.fixture(scope="session")
def tiny_gguf(tmp_path_factory) -> Path:
    """model.tiny checkpoint -> convert.convert_checkpoint(..., "q8_0"), once per session."""
    from model.tiny import write_tiny_checkpoint

    import convert

    root = tmp_path_factory.mktemp("tiny-model")
    checkpoint = write_tiny_checkpoint(root / "checkpoint", seed=0)
    return convert.convert_checkpoint(checkpoint, root / "tiny-q8_0.gguf", "q8_0")


@pytest.fixture
def start_server(tmp_path):
    """Start real `python -m lsp_server` processes; all are shut down after the test."""
    clients: list[LspClient] = []

    def start(
        args: list[str] | None = None, env: dict[str, str] | None = None, python_flags: list[str] | None = None
    ) -> LspClient:
        client = LspClient(
            args,
            env={"SEEKCODE_MODEL": "", **(env or {})},
            log_path=tmp_path / f"server{len(clients)}.log",
            python_flags=python_flags,
        )
        clients.append(client)
        return client

    yield start
    for client in clients:
        client.shutdown()
    for client in clients:
        assert not client.stray_output, f"non-LSP bytes on the server's stdout: {client.stray_output[:3]}"


@pytest.fixture
def server(start_server, tiny_gguf) -> LspClient:
    """An initialized server with the tiny model loaded (greedy, short suggestions)."""
    client = start_server(["--model", str(tiny_gguf), "--threads", "2", "--max-tokens", "16"])
    client.initialize()
    client.wait_model_ready()
    return client
