"""Fixtures for the remote-backend tests: the tiny GGUF (made by our converter) served by
llama-cpp-python's own OpenAI-compatible server on loopback, and LSP server processes."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest

from tests.http.processes import free_port, wait_until_serving
from tests.assist.conftest import chat_gguf, start_assist_server  # noqa: F401  (a converter-made GGUF with a ChatML template)
from tests.lsp.conftest import start_server, tiny_gguf  # noqa: F401  (the same fixtures as the LSP tests)

SERVED_ALIAS = "tiny-seekcode"  # a name that says nothing about the family: the setting must


@pytest.fixture(scope="session")
def tiny_context(tiny_gguf) -> int:
    from lsp_server.backend.local import training_context_length

    return training_context_length(tiny_gguf) or 512


@contextlib.contextmanager
def serving(gguf, context: int, log_dir, alias: str = SERVED_ALIAS):
    """`python -m llama_cpp.server` with `gguf` on a free loopback port: its base URL (…/v1)."""
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is a runtime dependency")
    for module in ("fastapi", "uvicorn", "sse_starlette", "starlette_context", "pydantic_settings"):
        try:
            __import__(module)
        except ImportError:  # a loud failure, not a skip: the dev extra installs these
            pytest.fail(f"{module} is missing; install the dev extra (llama-cpp-python[server]).")
    port = free_port()
    log = log_dir / "server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", alias,
             "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(context), "--n_threads", "1",
             "--n_threads_batch", "1", "--seed", "0"],
            stdout=sink, stderr=subprocess.STDOUT, env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"},
        )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        wait_until_serving(process, url + "/models", log)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def llama_cpp_server(tiny_gguf, tiny_context, tmp_path_factory):
    """The tiny base model (no chat template) behind llama-cpp-python's server."""
    with serving(tiny_gguf, tiny_context, tmp_path_factory.mktemp("llama-cpp-server")) as url:
        yield url


CHAT_CONTEXT = 2048


@pytest.fixture(scope="session")
def chat_server(chat_gguf, tmp_path_factory):
    """The tiny model with a ChatML template behind llama-cpp-python's server (the features' chat)."""
    with serving(chat_gguf, CHAT_CONTEXT, tmp_path_factory.mktemp("llama-cpp-chat-server"), alias="tiny-chat") as url:
        yield url
